"""Aligning CASIE trigger spans to corpus sentences, on annotation files written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from threatevents.casie import align_triggers, read_annotation
from threatevents.corpus import Document, Sentence


def write_annotation(folder: Path, doc_id: str, content: str, triggers: list[tuple[str, str, str]]) -> None:
    """An annotation file whose triggers are the first occurrence of each ``(text, type, subtype)``."""
    events = []
    for text, kind, subtype in triggers:
        start = content.index(text)
        nugget = {"startOffset": start, "endOffset": start + len(text), "text": text}
        events.append({"type": kind, "subtype": subtype, "nugget": nugget, "argument": []})
    data = {"content": content, "cyberevent": {"hopper": [{"events": events}]}}
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
            Sentence("Researchers found a bug.", ("DiscoverVulnerability",)),  # annotated without a trigger
        ],
    )
    content = (
        "Hackers encrypted the files of Acme.\nAcme  patched the flaw\non Monday. Shares rose. Researchers found a bug."
    )
    write_annotation(
        folder, "a1", content, [("encrypted", "Attack", "Ransom"), ("patched", "Vulnerability-related", "Patch")]
    )
    missing = Document("gone", [Sentence("Nothing here.", ("O",))])
    return tmp_path, [doc, missing]


def test_read_annotation_maps_types_to_labels(annotated: tuple[Path, list[Document]]) -> None:
    root, _ = annotated
    content, triggers = read_annotation(root / "annotation" / "a1.json")
    assert [(content[s:e], label) for s, e, label in triggers] == [
        ("encrypted", "AttackRansom"),
        ("patched", "PatchVulnerability"),
    ]


def test_triggers_land_on_their_sentences(annotated: tuple[Path, list[Document]]) -> None:
    root, docs = annotated
    alignment = align_triggers(root, docs)
    texts = [s.text for d in docs for s in d.sentences]
    spans = [[(texts[i][s:e], label) for s, e, label in t] for i, t in enumerate(alignment.triggers)]
    assert spans == [[("encrypted", "AttackRansom")], [("patched", "PatchVulnerability")], [], [], []]
    # the second sentence has different whitespace in the article: found after collapsing it
    assert alignment.found == [True, True, True, True, False]
    assert alignment.missing_documents == 1
    assert alignment.coverage == pytest.approx(4 / 5)


def test_only_sentences_whose_triggers_match_their_labels_are_trusted(annotated: tuple[Path, list[Document]]) -> None:
    root, docs = annotated
    assert align_triggers(root / "annotation", docs).agreeing(docs) == [True, True, True, False, False]
    with pytest.raises(ValueError, match="not the documents"):
        align_triggers(root, docs).agreeing(docs[:1])


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        align_triggers(tmp_path / "nope", [])


def test_real_annotation_covers_most_train_sentences(casie_dir: Path) -> None:
    from threatevents.corpus import read_corpus

    events = casie_dir.parent / "casie-events"
    if not events.is_dir():
        pytest.skip(f"needs the CASIE event annotation at {events}")
    train = read_corpus(casie_dir).split("train")[:100]
    alignment = align_triggers(events, train)
    assert alignment.missing_documents == 0
    assert alignment.coverage > 0.85
    assert sum(alignment.agreeing(train)) > 0.7 * len(alignment.found)
