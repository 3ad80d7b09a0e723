"""Sentence labels from found triggers (threatevents.models.trigger_labels), on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from threatevents.events import Event, Span
from threatevents.labels import EVENT_LABELS
from threatevents.models.trigger_labels import choose_weight, trigger_scores, with_trigger_labels

RANSOM, PHISH = EVENT_LABELS.index("AttackRansom"), EVENT_LABELS.index("AttackPhishing")


def _event(kind: str, score: float | None) -> Event:
    return Event(kind, "Actual", Span(0, 4, "hack"), score=score)


def test_trigger_scores_keep_the_best_trigger_of_each_type_per_sentence() -> None:
    events = [
        [[_event("AttackRansom", 0.4), _event("AttackRansom", 0.9)], []],
        [[_event("AttackPhishing", None)]],
    ]
    scores = trigger_scores(events)
    assert scores.shape == (3, len(EVENT_LABELS))
    assert scores[0, RANSOM] == 0.9 and scores[0].sum() == 0.9
    assert not scores[1].any()
    assert scores[2, PHISH] == 1.0 and scores[2].sum() == 1.0  # no score: counted as certain


def test_with_trigger_labels_only_raises_probabilities() -> None:
    probs = np.array([[0.2, 0.7, 0.0, 0.0, 0.1]])
    triggers = np.array([[0.8, 0.1, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(with_trigger_labels(probs, triggers, 0.5), [[0.4, 0.7, 0.0, 0.0, 0.1]])
    np.testing.assert_array_equal(with_trigger_labels(probs, triggers, 0.0), probs)
    with pytest.raises(ValueError, match="do not match"):
        with_trigger_labels(probs, triggers[:, :3], 1.0)


def test_weight_is_chosen_where_triggers_help_and_zero_where_they_hurt() -> None:
    rng = np.random.default_rng(0)
    n = 200
    y = np.zeros((n, len(EVENT_LABELS)), dtype=int)
    y[: n // 2, RANSOM] = 1
    probs = rng.uniform(0, 0.3, size=y.shape)  # the head cannot tell ransom sentences apart
    helpful = np.zeros_like(probs)
    helpful[: n // 2, RANSOM] = 0.9  # triggers found in exactly the ransom sentences
    choice = choose_weight(y, probs, helpful)
    assert choice.weight > 0 and choice.dev_weighted_f1[f"{choice.weight:g}"] > choice.dev_weighted_f1["0"]
    good = probs.copy()
    good[: n // 2, RANSOM] = 0.9  # the head alone is right ...
    noise = np.zeros_like(probs)
    noise[n // 2 :, RANSOM] = 0.95  # ... and triggers fire only where there is no ransom
    assert choose_weight(y, good, noise).weight == 0.0
