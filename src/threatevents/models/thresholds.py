"""Per-label decision thresholds chosen to maximise F1 on a tuning split."""

from __future__ import annotations

import numpy as np

from ..metrics import headline_scores

DEFAULT_THRESHOLD = 0.5
MIN_THRESHOLD, MAX_THRESHOLD = 0.05, 0.95


def best_f1_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the highest F1 for one label (0.5 when the label never occurs).

    Ties go to the higher threshold; the result is clipped to [0.05, 0.95] and placed halfway to
    the next lower score so that it does not sit exactly on one example.
    """
    from sklearn.metrics import precision_recall_curve  # here: tagging never imports scikit-learn

    y_true = np.asarray(y_true).astype(int)
    if y_true.sum() == 0:
        return DEFAULT_THRESHOLD
    precision, recall, cuts = precision_recall_curve(y_true, scores)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    best = int(np.flatnonzero(f1 >= f1.max() - 1e-12)[-1])
    cut = float(cuts[best])
    lower = scores[scores < cut]
    if lower.size:
        cut = (cut + float(lower.max())) / 2
    return float(np.clip(cut, MIN_THRESHOLD, MAX_THRESHOLD))


def tune_thresholds(y_true: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Best-F1 threshold for each column of an ``(n, labels)`` score matrix."""
    return np.array([best_f1_threshold(y_true[:, j], probs[:, j]) for j in range(probs.shape[1])])


def dev_weighted_f1(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Weighted F1 over the five events and ``O`` after tuning thresholds on the same data (model selection)."""
    return headline_scores(y_true, probs >= tune_thresholds(y_true, probs))["weighted_f1"]
