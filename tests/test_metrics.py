"""The score arithmetic of threatevents.metrics against small hand-computed matrices and counts."""

from __future__ import annotations

import numpy as np
import pytest

from threatevents.metrics import Scores, average_scores, count_scores, headline_scores, label_scores

# Four rows, three columns. Column a: 2 true, predicted at rows 0 and 2 (one right). Column b: 1 true,
# predicted right. Column c: never true, predicted once.
Y_TRUE = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 0]])
Y_PRED = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 0, 0]])


def test_label_scores_per_column() -> None:
    scores = label_scores(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert scores["a"] == Scores(0.5, 0.5, 0.5, 2)
    assert scores["b"] == Scores(1.0, 1.0, 1.0, 1)
    assert scores["c"] == Scores(0.0, 0.0, 0.0, 0)  # never true: 0, not an error or a warning


def test_average_scores_micro_macro_and_restricted_macro() -> None:
    scores = average_scores(Y_TRUE, Y_PRED, ["micro", "macro"])
    # micro: 2 right of 4 predicted, 2 of 3 true
    assert scores["micro"].precision == pytest.approx(0.5)
    assert scores["micro"].recall == pytest.approx(2 / 3)
    assert scores["micro"].f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert scores["macro"].f1 == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert scores["micro"].support == scores["macro"].support == 3
    restricted = average_scores(Y_TRUE, Y_PRED, ["macro", "micro"], macro_columns=[0, 1])
    assert restricted["macro"].f1 == pytest.approx(0.75)  # column c left out of the macro average only
    assert restricted["micro"] == scores["micro"]


def test_headline_scores_add_the_o_column_to_the_weighted_average() -> None:
    y_true = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 1, 0, 0, 0]])
    y_pred = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    scores = headline_scores(y_true, y_pred)
    # events: first column F1 1, second 0, three never occur -> macro over five = 1/5
    assert scores["events_macro_f1"] == pytest.approx(0.2)
    # with O (true at row 1, predicted at rows 1 and 2): weights 1, 1, 1 over columns 0, 1 and O
    o_f1 = 2 * 0.5 * 1.0 / 1.5
    assert scores["weighted_f1"] == pytest.approx((1.0 + 0.0 + o_f1) / 3)


def test_scores_to_dict_is_plain() -> None:
    assert Scores(0.5, 0.25, 1 / 3, 4).to_dict() == {"precision": 0.5, "recall": 0.25, "f1": 1 / 3, "support": 4}


def test_count_scores_matches_the_matrix_definitions() -> None:
    column = label_scores(Y_TRUE[:, :1], Y_PRED[:, :1], ["a"])["a"]
    assert count_scores(1, 2, 2) == column
    s = count_scores(3, 4, 6)
    assert (s.precision, s.recall, s.support) == (0.75, 0.5, 6)
    assert s.f1 == pytest.approx(0.6)
    assert count_scores(0, 0, 5) == Scores(0.0, 0.0, 0.0, 5)  # nothing predicted
    assert count_scores(0, 3, 0) == Scores(0.0, 0.0, 0.0, 0)  # nothing to find


@pytest.mark.parametrize("counts", [(3, 2, 5), (3, 5, 2), (-1, 2, 2)])
def test_count_scores_refuses_impossible_counts(counts: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="impossible counts"):
        count_scores(*counts)
