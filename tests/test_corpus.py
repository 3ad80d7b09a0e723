import json
import logging

import pytest

from threatevents.corpus import (
    Corpus,
    CorpusFormatError,
    Document,
    ReadReport,
    Sentence,
    format_document,
    load_splits,
    parse_document,
    read_corpus,
    read_document,
    write_corpus,
)

MESSY = (
    "Hackers hit Acme in ransomware attack AttackRansom\r\n"  # label without '|'
    "The gang encrypted every server. | AttackRansom\r\n"
    "\r\n"
    "A flaw was found , and fixed | DiscoverVulnerability , PatchVulnerability\r\n"
    "The attackers used a phishing page that looked like the \r\n"  # broken sentence, joined
    "company's portal. | AttackPhishing\r\n"
    "Read more\r\n"  # stray fragment, dropped
    "Nobody knows who did it. | \r\n"  # empty label, dropped
    "Shares fell. | O\r\n"
)


def test_default_reader_recovers_and_counts_fixes(caplog):
    doc = parse_document(MESSY, "d1")
    assert [s.labels for s in doc.sentences] == [
        ("AttackRansom",),
        ("AttackRansom",),
        ("DiscoverVulnerability", "PatchVulnerability"),
        ("AttackPhishing",),
        ("O",),
    ]
    assert doc.sentences[0].text == "Hackers hit Acme in ransomware attack"
    assert doc.sentences[3].text == "The attackers used a phishing page that looked like the company's portal."


def test_report_counts_each_fix_and_warnings_name_file_and_line():
    from threatevents.corpus import ReadReport

    report = ReadReport()
    parse_document(MESSY, "d1", source="d1.txt", report=report)
    assert report.fixes == {
        "crlf_file": 1,
        "blank_line": 1,
        "label_spacing": 1,
        "missing_separator": 1,
        "joined_fragment": 1,
        "dropped_fragment": 1,
        "empty_label": 1,
    }
    assert "d1.txt:7: line has no '|'; dropped 'Read more'" in report.warnings
    assert any(w.startswith("d1.txt:8:") and "empty label" in w for w in report.warnings)


def test_reading_a_corpus_logs_one_summary_warning_and_details_at_debug(tmp_path, caplog):
    # issue 10 defect 6: the CLI used to print one warning per dropped or joined line (14 on the real corpus)
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.txt").write_text(MESSY, encoding="utf-8")
    caplog.set_level(logging.DEBUG, logger="threatevents.corpus")
    corpus = read_corpus(tmp_path)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    details = [r for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    summary = warnings[0].getMessage()
    assert "12 lines dropped, joined or split in 3 files" in summary
    assert "dropped_fragment 3, empty_label 3, joined_fragment 3, missing_separator 3" in summary
    assert len(details) == len(corpus.report.warnings) == 12
    assert any("a.txt:7:" in r.getMessage() and "Read more" in r.getMessage() for r in details)


def test_one_document_without_a_report_logs_its_summary(caplog):
    caplog.set_level(logging.DEBUG, logger="threatevents.corpus")
    parse_document(MESSY, "d1", source="d1.txt")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "d1.txt: 4 lines dropped, joined or split in 1 file "
        "(dropped_fragment 1, empty_label 1, joined_fragment 1, missing_separator 1)"
    ]


def test_a_clean_corpus_logs_no_warning(tmp_path, caplog):
    (tmp_path / "a.txt").write_text("Shares fell. | O\n", encoding="utf-8")
    read_corpus(tmp_path)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert ReadReport().summary() is None


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("a | O\r\nb | O\r\n", 1, "CRLF"),
        ("a | O\n\nb | O\n", 2, "blank line"),
        ("a | O\nstray\nb | O\n", 2, "no '|'"),
        ("a | O\nb |  \n", 2, "empty label"),
        ("a | DiscoverVulnerability ,PatchVulnerability\n", 1, "spaces around label separator"),
    ],
)
def test_strict_mode_makes_every_recovery_an_error(text, line, problem):
    with pytest.raises(CorpusFormatError) as info:
        parse_document(text, "d", source="d.txt", strict=True)
    assert info.value.line == line and problem in str(info.value) and "d.txt" in str(info.value)


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize(("text", "problem"), [("a | Attack\n", "unknown label"), ("a | O, AttackRansom\n", "'O'")])
def test_unknown_label_or_o_with_event_is_always_an_error(text, problem, strict):
    with pytest.raises(CorpusFormatError, match=problem) as info:
        parse_document(text, "d", source="f.txt", strict=strict)
    assert info.value.source == "f.txt" and info.value.line == 1


def test_write_then_read_gives_same_documents(tmp_path, tiny_corpus):
    write_corpus(tiny_corpus, tmp_path)
    again = read_corpus(tmp_path, strict=True)
    assert again.documents == tiny_corpus.documents
    assert again.splits == tiny_corpus.splits
    assert not again.report.fixes


def test_round_trip_keeps_inner_pipes_and_multilabels(tmp_path):
    doc = Document("x", [Sentence("left | right of a pipe", ("AttackPhishing", "AttackRansom")), Sentence("b")])
    path = tmp_path / "x.txt"
    path.write_text(format_document(doc), encoding="utf-8")
    assert read_document(path, strict=True) == doc


def test_folder_without_splits_reads_whole_and_split_all(tmp_path, tiny_corpus):
    for doc in list(tiny_corpus)[:3]:
        (tmp_path / f"{doc.id}.txt").write_text(format_document(doc), encoding="utf-8")
    corpus = read_corpus(tmp_path)
    assert corpus.splits is None and len(corpus.split("test")) == 3 and len(corpus.split("all")) == 3


def test_unknown_split_and_bad_split_files(tmp_path, tiny_corpus):
    with pytest.raises(KeyError, match="unknown split"):
        tiny_corpus.split("validation")
    (tmp_path / "s.json").write_text(json.dumps({"train": ["a"], "test": ["a"]}))
    with pytest.raises(CorpusFormatError, match="both"):
        load_splits(tmp_path / "s.json")
    (tmp_path / "s.json").write_text("[1, 2]")
    with pytest.raises(CorpusFormatError, match="map split names"):
        load_splits(tmp_path / "s.json")


def test_non_utf8_file_is_a_clear_error(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 | O\n")
    with pytest.raises(CorpusFormatError, match="not UTF-8"):
        read_document(tmp_path / "bad.txt")


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(CorpusFormatError, match=r"no \.txt"):
        read_corpus(tmp_path)


def test_corpus_len_and_iter(tiny_corpus: Corpus):
    assert len(tiny_corpus) == len(list(tiny_corpus)) == 64


@pytest.mark.data
def test_real_corpus_reads_with_recoveries(casie_dir):
    corpus = read_corpus(casie_dir)
    assert {k: len(v) for k, v in corpus.splits.items()} == {"train": 720, "dev": 90, "test": 90}
    assert corpus.report.fixes["crlf_file"] > 0 and corpus.report.fixes["dropped_fragment"] > 0
    with pytest.raises(CorpusFormatError):
        read_corpus(casie_dir, strict=True)
