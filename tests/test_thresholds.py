"""Per-label decision thresholds tuned for best F1 (threatevents.models.thresholds)."""

from __future__ import annotations

import numpy as np
import pytest

from threatevents.models.thresholds import (
    DEFAULT_THRESHOLD,
    MAX_THRESHOLD,
    MIN_THRESHOLD,
    best_f1_threshold,
    tune_thresholds,
)


def _f1(y: np.ndarray, scores: np.ndarray, cut: float) -> float:
    pred = scores >= cut
    tp = int((pred & (y == 1)).sum())
    return 2 * tp / max(int(pred.sum()) + int(y.sum()), 1)


def test_separable_scores_cut_halfway_between_the_classes() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.3, 0.6, 0.8, 0.2, 0.7])
    cut = best_f1_threshold(y, scores)
    assert cut == pytest.approx((0.6 + 0.3) / 2)  # not on an example: halfway to the next lower score
    assert _f1(y, scores, cut) == 1.0


def test_threshold_maximises_f1_when_classes_overlap() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    scores = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    cut = best_f1_threshold(y, scores)
    best = max(_f1(y, scores, c) for c in np.unique(scores))
    assert _f1(y, scores, cut) == pytest.approx(best)


def test_ties_go_to_the_higher_threshold() -> None:
    # cutting at 0.9 (one right of one) or at 0.6 (two right of four) both give F1 2/3; the higher one is kept
    y = np.array([1, 0, 0, 1, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    assert _f1(y, scores, 0.9) == pytest.approx(_f1(y, scores, 0.6)) == pytest.approx(2 / 3)
    assert best_f1_threshold(y, scores) == pytest.approx((0.9 + 0.8) / 2)


def test_a_label_that_never_occurs_keeps_the_default() -> None:
    assert best_f1_threshold(np.zeros(5, dtype=int), np.linspace(0, 1, 5)) == DEFAULT_THRESHOLD


def test_thresholds_are_clipped() -> None:
    y = np.array([1, 1, 0, 0])
    assert best_f1_threshold(y, np.array([0.02, 0.03, 0.01, 0.0])) == MIN_THRESHOLD
    assert best_f1_threshold(y, np.array([0.999, 0.999, 0.99, 0.98])) == MAX_THRESHOLD


def test_tune_thresholds_tunes_each_column_on_its_own() -> None:
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
    probs = np.array([[0.9, 0.2, 0.1], [0.2, 0.55, 0.3], [0.7, 0.1, 0.2], [0.1, 0.4, 0.6]])
    cuts = tune_thresholds(y, probs)
    assert cuts.shape == (3,)
    assert cuts[0] == pytest.approx(best_f1_threshold(y[:, 0], probs[:, 0]))
    assert cuts[1] == pytest.approx((0.55 + 0.4) / 2)
    assert cuts[2] == DEFAULT_THRESHOLD
