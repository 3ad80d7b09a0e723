"""A linear model next to the transformer: blend their probabilities, and let it settle easy sentences.

The two models err differently (n-grams vs. a contextual encoder), so a weighted mean of their
probabilities scores better than either alone; and a sentence the linear model finds far from every
event (highest probability below a cut-off) rarely turns out to carry one, so it can skip the
transformer, which is what makes the cascade fast. Both knobs are chosen on ``dev``
(:func:`tune_blend`); thresholds are tuned afterwards on the blended probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

BLEND_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
CASCADE_CUTS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
#: the cascade may cost at most this much dev weighted F1 against the blend run on every sentence
MAX_CASCADE_COST = 0.002


def easy_rows(linear: np.ndarray, cut: float) -> np.ndarray:
    """Sentences whose highest linear event probability is below ``cut`` (none when ``cut`` is 0)."""
    return np.asarray(linear).max(axis=1, initial=0.0) < cut


def combine(transformer: np.ndarray, linear: np.ndarray, weight: float, cut: float = 0.0) -> np.ndarray:
    """``weight * linear + (1 - weight) * transformer``; easy sentences (see :func:`easy_rows`) take ``linear``."""
    probs = weight * np.asarray(linear, dtype=np.float64) + (1 - weight) * np.asarray(transformer, dtype=np.float64)
    easy = easy_rows(linear, cut)
    probs[easy] = np.asarray(linear, dtype=np.float64)[easy]
    return probs


def last_cut_within(
    cuts: Sequence[float], score: Callable[[float], float], floor: float
) -> tuple[float, dict[float, float]]:
    """The cascade rule: cut-offs are scored in order and the last one scoring at least ``floor`` before the first
    that does not is kept (0 when the first falls short); returns it and the score of every cut-off tried."""
    scores: dict[float, float] = {}
    chosen = 0.0
    for cut in cuts:
        scores[cut] = score(cut)
        if scores[cut] < floor:
            break
        chosen = float(cut)
    return chosen, scores


@dataclass
class BlendChoice:
    """The weight and cut-off chosen on dev, with the dev scores they were chosen by."""

    weight: float
    cut: float
    dev_skipped: float
    weight_scores: dict[str, float] = field(default_factory=dict)
    cut_scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tune_blend(
    transformer: np.ndarray,
    linear: np.ndarray,
    score: Callable[[np.ndarray], float],
    *,
    weight: float | None = None,
    cut: float | None = None,
) -> BlendChoice:
    """Pick the blend weight with the best ``score`` (ties: less linear), then the largest cascade cut-off.

    A given ``weight`` or ``cut`` is kept as is. Cut-offs are tried from small to large and the last one
    within :data:`MAX_CASCADE_COST` of the full blend's score before the first that is not is kept.
    """
    weights = BLEND_WEIGHTS if weight is None else (float(weight),)
    weight_scores = {w: score(combine(transformer, linear, w)) for w in weights}
    best = max(weights, key=lambda w: (weight_scores[w], -w))
    cut_scores: dict[float, float] = {}
    chosen = 0.0 if cut is None else float(cut)
    if cut is None:
        chosen, cut_scores = last_cut_within(
            CASCADE_CUTS,
            lambda c: score(combine(transformer, linear, best, c)),
            weight_scores[best] - MAX_CASCADE_COST,
        )
    return BlendChoice(
        weight=best,
        cut=chosen,
        dev_skipped=float(easy_rows(linear, chosen).mean()) if len(linear) else 0.0,
        weight_scores={f"{w:g}": round(s, 4) for w, s in weight_scores.items()},
        cut_scores={f"{c:g}": round(s, 4) for c, s in cut_scores.items()},
    )
