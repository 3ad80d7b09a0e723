"""Ingestion: format sniffing, extraction per format, sentence offsets, bad and pathological input."""

from __future__ import annotations

import codecs
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import benchmark_script
from threatevents.ingest import (
    DecodeError,
    EmptyDocumentError,
    IngestedDocument,
    IngestError,
    TooLargeError,
    UnsupportedFormatError,
    detect_format,
    ingest_bytes,
    ingest_path,
    ingest_text,
    normalize_text,
    split_sentences,
)
from threatevents.ingest.sentences import MAX_CHUNK_CHARS

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"

BODY = [
    "Attackers sent thousands of phishing emails to customers of three regional banks last week.",
    "The messages imitated security alerts and linked to a fake login page that collected passwords.",
    "The banks said that fewer than a hundred customers entered their details.",
    "Researchers traced the fake pages to a hosting provider in another country.",
]


def assert_offsets(doc: IngestedDocument) -> None:
    """Every sentence is the text at its offsets, non-empty, stripped, in order, and never spans a line."""
    previous_end = 0
    for span in doc.sentences:
        assert doc.text[span.start : span.end] == span.text
        assert span.text and span.text == span.text.strip() and "\n" not in span.text
        assert span.start >= previous_end
        previous_end = span.end


# --- plain text and the splitter -------------------------------------------------------------------------------


def test_plain_text_headline_lines_and_paragraphs_are_boundaries() -> None:
    text = "Banks hit by phishing wave\r\n\r\n" + " ".join(BODY[:2]) + "\nShort line without stop\n" + BODY[2]
    doc = ingest_bytes(text.encode(), name="report.txt")
    assert doc.format == "text" and doc.title is None
    assert doc.texts == ["Banks hit by phishing wave", BODY[0], BODY[1], "Short line without stop", BODY[2]]
    assert_offsets(doc)


def test_splitter_keeps_abbreviations_and_reattaches_closing_quotes() -> None:
    text = 'Dr. Smith met officials of the U.S. government on Jan. 5 this year. "It was patched," she said. ” Next.'
    spans = split_sentences(text)
    assert [s.text for s in spans][:2] == [
        "Dr. Smith met officials of the U.S. government on Jan. 5 this year.",
        '"It was patched," she said. ”',
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_normalize_text_collapses_spaces_and_blank_lines() -> None:
    raw = "  A\u00a0\u00a0b\tc \u200bd\u00ad.\r\n\r\n\r\n\x0cE  \u2028F\n"
    assert normalize_text(raw) == "A b c d.\n\nE\nF"


def test_ingest_text_puts_title_first_unless_already_there() -> None:
    doc = ingest_text(BODY[0], name="n", title="  Phishing   wave ")
    assert doc.text.startswith("Phishing wave\n\n") and doc.texts[0] == "Phishing wave" and doc.title == "Phishing wave"
    same = ingest_text("Phishing wave\n" + BODY[0], name="n", title="phishing wave")
    assert same.text.count("Phishing wave") == 1


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_text_with_byte_order_mark_decodes(encoding: str) -> None:
    data = "Café breach — 2 000 records leaked.".encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    doc = ingest_bytes(data, name="bom.txt")
    assert doc.texts == ["Café breach — 2 000 records leaked."]


# --- HTML ---------------------------------------------------------------------------------------------------------

PAGES = json.loads((FIXTURES / "pages.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("fixture", sorted(PAGES))
def test_html_keeps_article_drops_boilerplate(fixture: str) -> None:
    gold = PAGES[fixture]
    doc = ingest_path(FIXTURES / fixture)
    assert doc.format == "html" and doc.title == gold["title"]
    assert doc.texts == [gold["title"], *gold["article"]]
    for junk in gold["boilerplate"]:
        assert junk.lower() not in doc.text.lower(), junk
    assert_offsets(doc)


def test_html_title_is_added_when_body_lacks_it() -> None:
    page = (
        f"<html><head><title>Patch released for mail server</title></head><body><p>{' '.join(BODY)}</p></body></html>"
    )
    doc = ingest_bytes(page.encode(), name="page")
    assert doc.texts[0] == "Patch released for mail server"
    assert doc.text.startswith("Patch released for mail server\n\n")


def test_html_with_declared_legacy_charset_decodes() -> None:
    page = f'<html><head><meta charset="iso-8859-1"></head><body><p>Caf\xe9 owners were hacked. {BODY[0]}</p></body>'
    doc = ingest_bytes(page.encode("latin-1"), name="latin1.html")
    assert doc.texts[0] == "Café owners were hacked."


def test_html_with_only_scripts_is_empty() -> None:
    page = b"<html><head><script>var x = 1;</script><style>p {}</style></head><body><img src=a.png></body></html>"
    with pytest.raises(EmptyDocumentError, match=r"^scripts\.html: "):
        ingest_bytes(page, name="scripts.html")


def test_deeply_nested_html_falls_back_and_finishes() -> None:
    depth = 100_000
    page = "<html><head><title>Deep page</title></head><body>" + "<div>" * depth
    page += f"<p>{BODY[0]}</p><script>HIDDEN SCRIPT</script>" + "</div>" * depth + "</body></html>"
    doc = ingest_bytes(page.encode(), name="deep.html")
    assert doc.texts == ["Deep page", BODY[0]]


@pytest.mark.parametrize(
    "tail",
    [b"<" * 2_000_000, b"a<b " * 500_000, b"<title" * 300_000, b"<div class='" + b"a" * 2_000_000, b"&amp;" * 400_000],
)
def test_malformed_html_finishes(tail: bytes) -> None:
    doc = ingest_bytes(b"<html><head><title>Odd page</title></head><body><p>Some text.</p>" + tail, name="odd")
    assert doc.format == "html" and doc.texts[:2] == ["Odd page", "Some text."]
    assert_offsets(doc)


def test_huge_html_page_uses_the_linear_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    from threatevents.ingest import html as html_module

    page = "<html><head><title>Many items</title></head><body><nav>Menu</nav>"
    page += "".join(f"<p>Server {i} was encrypted.</p>" for i in range(30_000)) + "</body></html>"
    doc = ingest_bytes(page.encode(), name="huge.html")
    assert doc.texts[:3] == ["Many items", "Server 0 was encrypted.", "Server 1 was encrypted."]
    assert len(doc.sentences) == 30_001 and "Menu" not in doc.text
    monkeypatch.setattr(html_module, "MAX_TRAFILATURA_TAGS", 10)
    small = ingest_path(FIXTURES / "news_article.html")
    assert small.title == "Ransomware locks city hall computers | Example Daily News"
    article = PAGES["news_article.html"]["article"]
    assert set(article) <= set(small.texts)  # wrapped source lines are joined: only blocks break lines
    for junk in PAGES["news_article.html"]["boilerplate"]:
        assert junk.lower() not in small.text.lower(), junk


# --- format sniffing and bad input --------------------------------------------------------------------------------


def test_format_comes_from_bytes_not_name(tmp_path: Path) -> None:
    fake = tmp_path / "looks_like.pdf"
    fake.write_bytes(b"<!DOCTYPE html><html><body><p>" + BODY[0].encode() + b"</p></body></html>")
    assert ingest_path(fake).format == "html"
    assert detect_format(b"Just a plain report. With < and > signs.") == "text"
    assert detect_format(b"MZ Corp was hacked. ID3 and RIFF are words here too.") == "text"


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "ELF"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "Windows executable"),
        (b"{\\rtf1\\ansi Hello}", "RTF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "Office"),
        (b"\x00\x01\x02\x03binary\x00", "binary"),
    ],
)
def test_unsupported_binary_formats(data: bytes, what: str) -> None:
    with pytest.raises(UnsupportedFormatError, match=what):
        ingest_bytes(data, name="upload")


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buf.getvalue()


def test_zip_that_is_not_docx_is_unsupported() -> None:
    with pytest.raises(UnsupportedFormatError, match="not a DOCX"):
        detect_format(_zip({"notes.txt": b"hello"}))


def test_too_large_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * 1000)
    with pytest.raises(TooLargeError, match=r"^big\.txt: 5,000 bytes is over the limit of 100 bytes"):
        ingest_path(path, max_bytes=100)
    with pytest.raises(TooLargeError):
        ingest_bytes(b"word " * 1000, name="big", max_bytes=100)


@pytest.mark.parametrize("data", [b"", b"  \n\t\r\n ", "\u200b\u00ad".encode()])
def test_empty_documents(data: bytes) -> None:
    with pytest.raises(EmptyDocumentError):
        ingest_bytes(data, name="empty.txt")


def test_undecodable_text_is_reported_not_garbled() -> None:
    with pytest.raises(DecodeError, match=r"not UTF-8 text \(invalid byte 0xe9 at offset 3\)"):
        ingest_bytes("Caf\xe9 breach".encode("latin-1"), name="legacy.txt")


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="cannot read"):
        ingest_path(tmp_path / "missing.txt")
    with pytest.raises(IngestError, match="not a regular file"):
        ingest_path(tmp_path)


# --- the splitter on pathological text ----------------------------------------------------------------------------


def test_five_megabyte_line_without_spaces_is_chunked() -> None:
    doc = ingest_bytes(b"A" * 5_000_000, name="blob.txt")
    assert max(len(s.text) for s in doc.sentences) <= MAX_CHUNK_CHARS
    assert sum(len(s.text) for s in doc.sentences) == 5_000_000


def test_sentence_cap_truncates_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import threatevents.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "MAX_SENTENCES", 3)
    doc = ingest_bytes(b"one\ntwo\nthree\nfour\nfive\n", name="lines.txt")
    assert doc.texts == ["one", "two", "three"] and "stopped at 3 sentences" in doc.meta["truncated"]
    exact = ingest_bytes(b"one\ntwo\nthree\n", name="three.txt")
    assert len(exact.sentences) == 3 and "truncated" not in exact.meta


def test_long_line_is_cut_at_sentence_ends() -> None:
    sentence = "The attackers encrypted every server in the office. "
    text = sentence * (3 * MAX_CHUNK_CHARS // len(sentence))
    spans = split_sentences(text)
    assert {s.text for s in spans} == {sentence.strip()}
    assert len(spans) == text.count(".")


# --- properties, import weight, benchmark --------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\"”')A\u00a0\t")), max_size=200))
def test_split_sentences_offsets_hold_for_any_text(text: str) -> None:
    previous_end = 0
    for span in split_sentences(text):
        assert text[span.start : span.end] == span.text
        assert span.text.strip() == span.text != "" and "\n" not in span.text
        assert span.start >= previous_end
        previous_end = span.end


def test_core_import_does_not_load_extractors() -> None:
    code = (
        "import sys, threatevents.ingest; "
        "heavy = [m for m in ('trafilatura', 'pypdf', 'docx', 'nupunkt', 'lxml') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def _bench_module() -> ModuleType:
    return benchmark_script("bench_splitters")


@pytest.mark.slow
def test_bench_splitters_runs_on_a_small_corpus(tiny_corpus_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _bench_module().main(["--data", str(tiny_corpus_dir), "--repeat", "1"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("threatevents"))
    precision, recall, f1 = (float(x) for x in row.split()[1:4])
    assert 0.5 < f1 <= 1.0 and 0 < precision <= 1 and 0 < recall <= 1


@pytest.mark.data
def test_splitter_agrees_with_the_corpus_dev_boundaries(casie_dir: Path) -> None:
    bench = _bench_module()
    docs = bench.build_documents(casie_dir, "dev")
    _, _, f1, exact, _ = bench.score(docs, bench._threatevents())
    assert f1 > 0.96 and exact > 0.9


def test_text_quoting_a_pdf_header_is_still_text() -> None:
    data = b"Analysts found the dropper starts with %PDF-1.7 and hides a script in the file.\n"
    assert detect_format(data) == "text"
    assert ingest_bytes(data, name="r.txt").sentences[0].text.startswith("Analysts found")
    assert detect_format(b"\n%PDF-1.7\n") == "pdf" and detect_format(b"\x00\xff junk %PDF-1.4\n") == "pdf"
