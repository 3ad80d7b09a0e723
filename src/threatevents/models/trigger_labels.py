"""Sentence labels from events: a sentence that holds a trigger of a type leans towards that label.

The event extractor and the sentence head read the same window in one encoder pass. A found trigger of type
``T`` in a sentence is evidence for the sentence label ``T``; :func:`with_trigger_labels` lifts the sentence's
probability of ``T`` to at least ``weight x`` the trigger's score. The weight is chosen on ``dev``
(:func:`choose_weight`) among :data:`WEIGHTS`, ``0`` (the sentence head alone) included, so the rule is used only
where it helps there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..events import Event
from ..labels import EVENT_LABELS
from .thresholds import dev_weighted_f1

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def trigger_scores(events: Sequence[Sequence[Sequence[Event]]]) -> np.ndarray:
    """``(sentences, labels)``: per sentence (documents flattened in order) the highest score of a trigger of each
    event type found in it (0 where none; a trigger without a score counts as 1)."""
    index = {name: i for i, name in enumerate(EVENT_LABELS)}
    rows = [sentence for doc in events for sentence in doc]
    out = np.zeros((len(rows), len(EVENT_LABELS)), dtype=np.float64)
    for r, sentence in enumerate(rows):
        for event in sentence:
            column = index.get(event.type)
            if column is not None:
                score = 1.0 if event.score is None else float(event.score)
                out[r, column] = max(out[r, column], score)
    return out


def with_trigger_labels(probs: np.ndarray, triggers: np.ndarray, weight: float) -> np.ndarray:
    """Each label's probability raised to at least ``weight x`` the sentence's trigger score of that type."""
    probs = np.asarray(probs, dtype=np.float64)
    if weight <= 0 or probs.size == 0:
        return probs
    if triggers.shape != probs.shape:
        raise ValueError(f"trigger scores {triggers.shape} do not match the probabilities {probs.shape}")
    return np.maximum(probs, weight * triggers)


@dataclass
class WeightChoice:
    """The weight chosen on dev and the dev weighted F1 of every candidate (thresholds tuned per candidate)."""

    weight: float
    dev_weighted_f1: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"weight": self.weight, "dev_weighted_f1": self.dev_weighted_f1}


def choose_weight(
    y_dev: np.ndarray, probs: np.ndarray, triggers: np.ndarray, weights: Sequence[float] = WEIGHTS
) -> WeightChoice:
    """The weight with the best dev weighted F1 (thresholds tuned on dev for each); the smallest on a tie."""
    scores: dict[str, float] = {}
    best, best_score = 0.0, -1.0
    for weight in sorted(weights):
        score = dev_weighted_f1(y_dev, with_trigger_labels(probs, triggers, weight))
        scores[f"{weight:g}"] = round(score, 4)
        if score > best_score + 1e-9:
            best, best_score = weight, score
    return WeightChoice(best, scores)
