"""Aligning CASIE trigger spans to corpus sentences: on files written by the test, and on the real annotation.

The fixture spells CASIE's subtypes literally, as the annotation files do (``DiscoverVulnerability``,
``PatchVulnerability``), instead of taking them from the reader's own map: a fixture built from the map
agreed with it when the map was wrong and kept 0 of 3,145 vulnerability triggers.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import CASIE_EVENTS
from threatevents.casie import align_triggers, read_annotation
from threatevents.corpus import Document, Sentence
from threatevents.events import CasieError


def write_annotation(folder: Path, doc_id: str, content: str, triggers: list[tuple[str, str, str]]) -> None:
    """An annotation file whose triggers are the first occurrence of each ``(text, type, subtype)``."""
    events = []
    for n, (text, kind, subtype) in enumerate(triggers):
        start = content.index(text)
        nugget = {"startOffset": start, "endOffset": start + len(text), "text": text}
        events.append({"index": f"E{n}", "type": kind, "subtype": subtype, "realis": "Actual", "nugget": nugget})
    data = {"content": content, "cyberevent": {"hopper": [{"index": 0, "events": events}]}}
    (folder / f"{doc_id}.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def annotated(tmp_path: Path) -> tuple[Path, list[Document]]:
    folder = tmp_path / "annotation"
    folder.mkdir()
    doc = Document(
        "a1",
        [
            Sentence("Hackers encrypted the files of Acme.", ("AttackRansom",)),
            Sentence("Acme patched the flaw on Monday.", ("PatchVulnerability",)),
            Sentence("Shares rose.", ("O",)),
            Sentence("Researchers found a bug.", ("DiscoverVulnerability",)),
            Sentence("Crooks sent fake invoices.", ("AttackPhishing",)),  # annotated without a trigger
        ],
    )
    content = (
        "Hackers encrypted the files of Acme.\nAcme  patched the flaw\non Monday. Shares rose. "
        "Researchers found a bug. Crooks sent fake invoices."
    )
    write_annotation(
        folder,
        "a1",
        content,
        [
            ("encrypted", "Attack", "Ransom"),
            ("patched", "Vulnerability-related", "PatchVulnerability"),
            ("found", "Vulnerability-related", "DiscoverVulnerability"),
        ],
    )
    missing = Document("gone", [Sentence("Nothing here.", ("O",))])
    return tmp_path, [doc, missing]


def test_read_annotation_maps_casie_subtypes_to_labels(annotated: tuple[Path, list[Document]]) -> None:
    root, _ = annotated
    content, triggers = read_annotation(root / "annotation" / "a1.json")
    assert [(content[s:e], label) for s, e, label in triggers] == [
        ("encrypted", "AttackRansom"),
        ("patched", "PatchVulnerability"),
        ("found", "DiscoverVulnerability"),
    ]


def test_triggers_land_on_their_sentences(annotated: tuple[Path, list[Document]]) -> None:
    root, docs = annotated
    alignment = align_triggers(root, docs)
    texts = [s.text for d in docs for s in d.sentences]
    spans = [[(texts[i][s:e], label) for s, e, label in t] for i, t in enumerate(alignment.triggers)]
    assert spans == [
        [("encrypted", "AttackRansom")],
        [("patched", "PatchVulnerability")],
        [],
        [("found", "DiscoverVulnerability")],
        [],
        [],
    ]
    # the second sentence has different whitespace in the article: found after collapsing it
    assert alignment.found == [True, True, True, True, True, False]
    assert alignment.missing_documents == 1
    assert alignment.coverage == pytest.approx(5 / 6)


def test_only_sentences_whose_triggers_match_their_labels_are_trusted(annotated: tuple[Path, list[Document]]) -> None:
    root, docs = annotated
    assert align_triggers(root / "annotation", docs).agreeing(docs) == [True, True, True, True, False, False]
    with pytest.raises(ValueError, match="not the documents"):
        align_triggers(root, docs).agreeing(docs[:1])


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        align_triggers(tmp_path / "nope", [])


def test_unreadable_annotation_is_counted_or_refused(annotated: tuple[Path, list[Document]]) -> None:
    root, docs = annotated
    (root / "annotation" / "a1.json").write_text('{"content": "Hackers', encoding="utf-8")
    alignment = align_triggers(root, docs)
    assert list(alignment.report.skipped_files) == ["a1.json"]
    assert alignment.found == [False] * 6
    with pytest.raises(CasieError, match=r"a1\.json: broken JSON"):
        align_triggers(root, docs, strict=True)


# -- the real annotation ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def casie_events() -> Path:
    if not (CASIE_EVENTS / "annotation").is_dir():
        pytest.skip(f"needs the CASIE event annotation at {CASIE_EVENTS} (../shared/data is absent)")
    return CASIE_EVENTS / "annotation"


def raw_subtypes(path: Path) -> Counter[str]:
    """Events per subtype counted straight from the JSON, independently of the reader."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return Counter(event["subtype"] for hopper in data["cyberevent"]["hopper"] for event in hopper["events"])


LABEL_OF_SUBTYPE = {  # spelled out here, not taken from the reader's map
    "Databreach": "AttackDatabreach",
    "Phishing": "AttackPhishing",
    "Ransom": "AttackRansom",
    "DiscoverVulnerability": "DiscoverVulnerability",
    "PatchVulnerability": "PatchVulnerability",
}


@pytest.mark.data
@pytest.mark.parametrize(
    ("doc_id", "expected"),
    [
        # counted with jq: [.cyberevent.hopper[].events[].subtype] | group_by(.) | map({(.[0]): length})
        ("10131", {"DiscoverVulnerability": 10, "PatchVulnerability": 15}),  # a vulnerability article
        ("10059", {"PatchVulnerability": 2, "AttackRansom": 5}),  # offsets shifted by -1
        ("996", {"AttackDatabreach": 6}),  # shifted by -2
        ("999", {"AttackRansom": 2}),  # shifted by -12
        ("464", {"AttackDatabreach": 5, "AttackPhishing": 6}),  # 6 breaches in the file; one trigger runs past the end
    ],
)
def test_real_files_keep_every_event_per_subtype(casie_events: Path, doc_id: str, expected: dict[str, int]) -> None:
    content, triggers = read_annotation(casie_events / f"{doc_id}.json")
    assert dict(Counter(label for *_, label in triggers)) == expected
    raw = Counter({LABEL_OF_SUBTYPE[k]: v for k, v in raw_subtypes(casie_events / f"{doc_id}.json").items()})
    lost = raw - Counter(expected)
    assert lost == (Counter({"AttackDatabreach": 1}) if doc_id == "464" else Counter())
    # each trigger's offsets read its own text in the article, shifted file or not
    data = json.loads((casie_events / f"{doc_id}.json").read_text(encoding="utf-8"))
    nuggets = [event["nugget"]["text"] for hopper in data["cyberevent"]["hopper"] for event in hopper["events"]]
    kept = Counter(nuggets) - (Counter({"been leaked.": 1}) if doc_id == "464" else Counter())
    assert Counter(content[s:e] for s, e, _ in triggers) == kept


@pytest.mark.data
@pytest.mark.parametrize(("doc_id", "shift", "n_spans"), [("10059", -1, 26), ("996", -2, 34), ("999", -12, 7)])
def test_shifted_files_are_corrected(casie_events: Path, doc_id: str, shift: int, n_spans: int) -> None:
    from threatevents.events import ReadReport, read_event_file

    data = json.loads((casie_events / f"{doc_id}.json").read_text(encoding="utf-8"))
    content = data["content"]
    raw_spans = [
        (span["startOffset"], span["endOffset"], span["text"])
        for hopper in data["cyberevent"]["hopper"]
        for event in hopper["events"]
        for span in [event["nugget"], *event.get("argument", [])]
    ]
    assert len(raw_spans) == n_spans
    assert all(content[s:e] != t for s, e, t in raw_spans)  # as published, no span reads its own text
    report = ReadReport()
    document = read_event_file(casie_events / f"{doc_id}.json", strict=True, report=report)
    assert report.shifted == {doc_id: shift} and report.clean
    spans = [(a.start, a.end, a.text) for e in document.events for a in [e.trigger, *e.arguments]]
    assert sorted(spans) == sorted((s + shift, e + shift, t) for s, e, t in raw_spans)
    assert all(content[s:e] == t for s, e, t in spans)


@pytest.mark.data
def test_the_span_past_the_end_is_counted_or_refused(casie_events: Path) -> None:
    from threatevents.events import ReadReport, read_event_file

    report = ReadReport()
    document = read_event_file(casie_events / "464.json", report=report)
    assert report.dropped_events == Counter({"offsets out of range": 1})
    assert "464.json" in report.problems[0] and "been leaked." in report.problems[0]
    assert "been leaked." not in [event.trigger.text for event in document.events]
    with pytest.raises(CasieError, match=r"464\.json: event E10: offsets out of range"):
        read_event_file(casie_events / "464.json", strict=True)


@pytest.mark.data
@pytest.mark.slow
def test_whole_corpus_per_subtype_totals(casie_events: Path) -> None:
    from threatevents.events import read_event_dir

    raw: Counter[str] = Counter()
    for path in sorted(casie_events.glob("*.json")):
        raw += raw_subtypes(path)
    # the totals ../shared/data/README.md gives
    published = {
        "Databreach": 1587,
        "Phishing": 1446,
        "Ransom": 1449,
        "DiscoverVulnerability": 1896,
        "PatchVulnerability": 1249,
    }
    assert dict(raw) == published
    documents, report = read_event_dir(casie_events)
    read = Counter(event.type for document in documents.values() for event in document.events)
    assert dict(read) == {LABEL_OF_SUBTYPE[k]: v - (k == "Databreach") for k, v in published.items()}
    assert report.dropped_events == Counter({"offsets out of range": 1})  # 464's trigger past the end
    assert sorted(Counter(report.shifted.values()).items()) == [(-12, 1), (-2, 1), (-1, 27)]
    assert report.realis_corrected == 1  # "General" in 10002.json
    assert len(documents) == 900 and report.arguments == 20407 - 1  # E10 of 464 had one argument


def test_real_annotation_covers_most_train_sentences(casie_dir: Path) -> None:
    from threatevents.corpus import read_corpus

    events = casie_dir.parent / "casie-events"
    if not events.is_dir():
        pytest.skip(f"needs the CASIE event annotation at {events}")
    train = read_corpus(casie_dir).split("train")[:100]
    alignment = align_triggers(events, train)
    assert alignment.missing_documents == 0
    assert alignment.coverage > 0.85
    assert sum(alignment.agreeing(train)) > 0.8 * len(alignment.found)
    labels = [set(s.labels) for d in train for s in d.sentences]
    vulnerability = {"DiscoverVulnerability", "PatchVulnerability"}
    with_vulnerability_trigger = [
        i for i, triggers in enumerate(alignment.triggers) if {label for *_, label in triggers} & vulnerability
    ]
    assert len(with_vulnerability_trigger) >= 30  # 32 in these 100 articles; 0 with the old subtype map
    assert sum(bool(labels[i] & vulnerability) for i in with_vulnerability_trigger) > 0.8 * len(
        with_vulnerability_trigger
    )
