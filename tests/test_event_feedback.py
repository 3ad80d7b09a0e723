"""Reviewed events as event supervision: :mod:`threatevents.feedback` turns them into extractor targets, and a
model retrained with a correction extracts the corrected event on that sentence (tiny random encoder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_documents
from threatevents.corpus import Document, Sentence
from threatevents.events import Argument, Event, Span, join_sentences
from threatevents.feedback import EventFeedback, event_feedback, merge_event_feedback
from threatevents.labels import ARGUMENT_ROLES, EVENT_LABELS, REALIS

CONTENT = "Analysts saw Globex hit overnight.\n\nCrooks   scrambled the Wayne servers for bitcoin. Shares fell."
SENTENCES = ["Analysts saw Globex hit overnight.", "Crooks   scrambled the Wayne servers for bitcoin.", "Shares fell."]


def _at(word: str) -> tuple[int, int, str]:
    start = CONTENT.index(word)
    return start, start + len(word), word


def _added_ransom() -> Event:
    """The event an analyst added: "scrambled" is a ransom attack on Wayne by the Crooks (Globex, in the sentence
    before, is not an argument the training sentence can keep)."""
    arguments = [
        Argument("Victim", *_at("Wayne")),
        Argument("Attacker", *_at("Crooks")),
        Argument("Place", *_at("Globex")),
    ]
    return Event("AttackRansom", "Actual", Span(*_at("scrambled")), arguments)


def _feedback() -> EventFeedback:
    labels = [("O",), ("AttackRansom",), ("O",)]
    return event_feedback("review-7", CONTENT, SENTENCES, labels, [1], [_added_ransom()])


def test_event_feedback_puts_the_reviewed_events_in_the_extractor_frame() -> None:
    feedback = _feedback()
    assert feedback.texts == (
        "Analysts saw Globex hit overnight.",
        "Crooks scrambled the Wayne servers for bitcoin.",
        "Shares fell.",
    )
    joined = join_sentences(feedback.texts)[0]
    (event,) = feedback.events
    assert joined[event.trigger.start : event.trigger.end] == "scrambled" == event.trigger.text
    assert {a.role: joined[a.start : a.end] for a in event.arguments} == {
        "Victim": "Wayne",
        "Attacker": "Crooks",
        "Place": "Globex",
    }
    assert feedback.sentence_events(1) == [event] and feedback.sentence_events(0) == []


def test_merge_event_feedback_adds_new_sentences_and_gives_sentence_targets() -> None:
    corpus = [Document("d1", [Sentence("Shares fell.", ("O",)), Sentence("Ransom was paid.", ("AttackRansom",))])]
    merged, targets = merge_event_feedback(corpus, [_feedback()])
    assert merged[0] == corpus[0]
    assert merged[1:] == [
        Document("review-7-events-0", [Sentence(SENTENCES[1].replace("   ", " "), ("AttackRansom",))])
    ]
    (event,) = targets["crooks scrambled the wayne servers for bitcoin."]
    text = "Crooks scrambled the Wayne servers for bitcoin."
    assert (event.type, text[event.trigger.start : event.trigger.end]) == ("AttackRansom", "scrambled")
    # arguments in the sentence only, offsets from its start (Globex is in the sentence before)
    assert sorted((a.role, text[a.start : a.end]) for a in event.arguments) == [
        ("Attacker", "Crooks"),
        ("Victim", "Wayne"),
    ]
    assert corpus[0].sentences[0].text == "Shares fell." and len(corpus) == 1  # inputs untouched


def test_a_reviewed_sentence_without_events_is_a_negative_and_overrides_the_corpus() -> None:
    """The analyst deleted the model's only event of a corpus sentence: the sentence's target is "no event"."""
    content = "Ransom was paid."
    feedback = event_feedback("review-3", content, [content], [("O",)], [0], [])
    corpus = [Document("d1", [Sentence("Ransom was paid.", ("AttackRansom",))])]
    merged, targets = merge_event_feedback(corpus, [feedback])
    assert merged == corpus and targets == {"ransom was paid.": []}


MORE = [f"Crooks scrambled the {org} servers for bitcoin." for org in ("Acme", "Hooli", "Stark", "Initech", "Umbrella")]


def _more_feedback() -> EventFeedback:
    """The same correction in another report an analyst reviewed, one added event per sentence."""
    content = " ".join(MORE)
    events, at = [], 0
    for text in MORE:
        trigger = at + text.index("scrambled")
        org = text.split()[3]
        victim = Argument("Victim", at + text.index(org), at + text.index(org) + len(org), org)
        events.append(Event("AttackRansom", "Actual", Span(trigger, trigger + 9, "scrambled"), [victim]))
        at += len(text) + 1
    labels = [("AttackRansom",)] * len(MORE)
    return event_feedback("review-8", content, MORE, labels, range(len(MORE)), events)


@pytest.mark.slow
def test_a_retrained_model_extracts_the_corrected_event(
    tiny_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retrained with the analysts' added events ("scrambled" is a ransom attack, in six reviewed sentences of two
    reports), the tiny extractor finds a trigger at "scrambled" in the first report's sentence, where the same
    training without the reviews finds none; and that event reached fit's targets with its type and arguments.
    (Training is not bit-for-bit repeatable on CPU: from one reviewed sentence alone the trigger was learnt in one
    run of two, and its type not always, so the type is checked in the targets, not in the prediction.)"""
    pytest.importorskip("torch")
    from test_event_extractor import events_config, write_annotation
    from threatevents.corpus import Corpus
    from threatevents.models import event_training
    from threatevents.models.transformer import TransformerModel
    from threatevents.train import train_model

    docs = make_documents(16, seed=1)
    write_annotation(docs, tmp_path / "casie" / "annotation")
    corpus = Corpus({d.id: d for d in docs}, {"train": [d.id for d in docs]})
    overrides = events_config(tiny_encoder_dir, tmp_path / "casie").to_dict()
    sentence = SENTENCES[1].replace("   ", " ")
    seen: list[event_training.SentenceEvents] = []
    window_targets = event_training.window_targets

    def spy(window: object, gold: event_training.SentenceEvents) -> object:
        seen.append(gold)
        return window_targets(window, gold)  # type: ignore[arg-type]

    def triggers(model: TransformerModel) -> list[str]:
        (events,) = model.predict_events([[sentence]])
        return [e.trigger.text for e in events]

    before = train_model(corpus, "transformer", overrides)
    seen.clear()
    monkeypatch.setattr(event_training, "window_targets", spy)
    after = train_model(corpus, "transformer", overrides, event_feedback=[_feedback(), _more_feedback()])
    assert isinstance(before, TransformerModel) and isinstance(after, TransformerModel)
    assert after.metrics["training"]["event_reviewed_sentences"] == 1 + len(MORE)
    start = sentence.index("scrambled")
    ransom, actual = EVENT_LABELS.index("AttackRansom"), REALIS.index("Actual")
    reviewed = [g for g in seen if g.triggers == [(start, start + 9, ransom, actual)]]
    assert len(reviewed) == 1 + len(MORE)  # the added events are in the targets fit trained on, with arguments
    roles = sorted(sorted(ARGUMENT_ROLES[role] for *_, role in g.arguments[0]) for g in reviewed)
    assert roles == [["Attacker", "Victim"]] + [["Victim"]] * len(MORE)
    assert "scrambled" not in triggers(before)
    assert "scrambled" in triggers(after)
