"""Reviews as training data: merging reviewed sentences into a corpus (pure, no database)."""

from __future__ import annotations

from threatevents.corpus import Document, Sentence
from threatevents.feedback import merge_feedback, normalise


def test_normalise_ignores_case_spacing_and_width() -> None:
    assert normalise("  Hackers\tSTOLE  data. ") == normalise("hackers stole data.") == "hackers stole data."
    assert normalise("ＡＢＣ") == "abc"


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


def test_merge_without_feedback_is_identity() -> None:
    train = [Document("a", [Sentence("Hackers stole data.", ("AttackDatabreach",))])]
    assert merge_feedback(train, []) == train
