"""Reviews as training data: loading them from a workbench database and merging them into a corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from threatevents.corpus import Document, Sentence
from threatevents.feedback import load_feedback_documents, merge_feedback, normalise
from threatevents.service.core import Workbench
from threatevents.service.settings import Settings

from .conftest import ARTICLE


def test_normalise_ignores_case_spacing_and_width() -> None:
    assert normalise("  Hackers\tSTOLE  data. ") == normalise("hackers stole data.") == "hackers stole data."
    assert normalise("ＡＢＣ") == "abc"


def test_load_feedback_reads_latest_reviews(workbench: Workbench, settings: Settings) -> None:
    assert load_feedback_documents(settings.db_url) == []
    doc = workbench.add_document(text=ARTICLE)
    workbench.add_document(text="Nothing reviewed here. Ransom paid.")
    workbench.review_sentence(doc.id, 0, accept=True, reviewer="ann")
    workbench.review_sentence(doc.id, 3, accept=True, reviewer="ann")
    workbench.review_sentence(doc.id, 3, accept=False, labels=["AttackRansom"], reviewer="bob")
    feedback = load_feedback_documents(settings.db_url)
    assert feedback == [
        Document(
            f"review-{doc.id}",
            [
                Sentence("Hackers stole the records of 5,000 customers from Acme.", ("AttackDatabreach",)),
                Sentence("Shares closed flat.", ("AttackRansom",)),
            ],
        )
    ]


def test_merge_overrides_matching_sentences_and_appends_new_ones() -> None:
    train = [
        Document("a", [Sentence("Hackers stole data.", ("AttackDatabreach",)), Sentence("Shares rose.", ("O",))]),
        Document("b", [Sentence("A patch shipped.", ("PatchVulnerability",))]),
    ]
    feedback = [
        Document("review-1", [Sentence("shares  ROSE.", ("AttackRansom",)), Sentence("Brand new.", ("O",))]),
        Document(
            "review-2",
            [Sentence("A patch shipped.", ("PatchVulnerability",)), Sentence("Brand new.", ("AttackPhishing",))],
        ),
    ]
    merged = merge_feedback(train, feedback)
    assert [d.id for d in merged] == ["a", "b", "review-1"]
    assert merged[0].labels == [("AttackDatabreach",), ("AttackRansom",)]
    assert merged[0].texts == ["Hackers stole data.", "Shares rose."]  # corpus text kept, label replaced
    assert merged[1].labels == [("PatchVulnerability",)]
    assert merged[2].sentences == [Sentence("Brand new.", ("AttackPhishing",))]  # the later review wins
    assert train[0].labels[1] == ("O",)  # inputs untouched


def test_missing_sqlite_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_feedback_documents(f"sqlite:///{tmp_path / 'typo.db'}")
    assert not (tmp_path / "typo.db").exists()


def test_merge_without_feedback_is_identity() -> None:
    train = [Document("a", [Sentence("Hackers stole data.", ("AttackDatabreach",))])]
    assert merge_feedback(train, []) == train
