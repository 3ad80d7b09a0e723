"""Precision, recall and F1 of multi-label indicator matrices: the score arithmetic shared by evaluation,
threshold and blend tuning, and the benchmarks.

This module sits below :mod:`threatevents.models` (models may import it) and imports only
:mod:`threatevents.labels`, numpy and scikit-learn (inside the functions that score, so that a process that only
tags never imports it: that saves about 1.5 s and 130 MB at each start, ``benchmarks/bench_startup.py``). Label
matrices are scored by scikit-learn's ``precision_recall_fscore_support``/``f1_score`` with ``zero_division=0``;
:func:`count_scores` applies the same definitions to counts (for matches that are not label columns, such as
sentence boundaries).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .labels import with_o_column


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of one label or one average, with its support (positive count)."""

    precision: float
    recall: float
    f1: float
    support: int

    def to_dict(self) -> dict[str, float | int]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support}


def count_scores(true_positives: int, predicted: int, actual: int) -> Scores:
    """:class:`Scores` from counts: ``true_positives`` of ``predicted`` items are right, out of ``actual``.

    As with ``zero_division=0``, precision (recall) is 0 when nothing was predicted (nothing is actual),
    and F1 is 0 when both are 0. ``support`` is ``actual``. Raises ``ValueError`` for impossible counts.
    """
    if min(true_positives, predicted, actual) < 0 or true_positives > min(predicted, actual):
        raise ValueError(f"impossible counts: {true_positives} right of {predicted} predicted, {actual} actual")
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, actual)


def label_scores(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, Scores]:
    """Per-column :class:`Scores` of two ``(n, len(labels))`` indicator matrices."""
    from sklearn.metrics import precision_recall_fscore_support

    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    return {name: Scores(float(p[j]), float(r[j]), float(f[j]), int(s[j])) for j, name in enumerate(labels)}


def average_scores(
    y_true: np.ndarray, y_pred: np.ndarray, averages: Sequence[str], macro_columns: Sequence[int] | None = None
) -> dict[str, Scores]:
    """Averaged :class:`Scores` by scikit-learn average name; support is the total positive count.

    ``macro_columns`` restricts the macro average to those column indices (all columns when ``None``).
    """
    from sklearn.metrics import precision_recall_fscore_support

    support = int(np.asarray(y_true).sum())
    out = {}
    for average in averages:
        columns = macro_columns if average == "macro" else None
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, labels=columns, zero_division=0)
        out[average] = Scores(float(p), float(r), float(f), support)
    return out


def headline_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """The two headline numbers from ``(sentences, 5)`` 0/1 event matrices, without building a result.

    ``weighted_f1`` is over the five events plus the derived ``O`` and ``events_macro_f1`` over the
    five events, as in :func:`threatevents.evaluate.evaluate_predictions`; used where many settings
    are compared (tuning, benchmarks).
    """
    from sklearn.metrics import f1_score

    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    return {
        "weighted_f1": float(
            f1_score(with_o_column(y_true), with_o_column(y_pred), average="weighted", zero_division=0)
        ),
        "events_macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }
