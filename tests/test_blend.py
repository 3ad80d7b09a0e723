"""Blending the transformer with the linear model, and the cascade cut-off, on hand-made probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from threatevents.models.blend import MAX_CASCADE_COST, combine, easy_rows, tune_blend


def test_combine_weights_and_lets_linear_settle_easy_rows() -> None:
    transformer = np.array([[0.9, 0.1], [0.6, 0.2], [0.8, 0.8]])
    linear = np.array([[0.5, 0.3], [0.05, 0.01], [0.2, 0.4]])
    np.testing.assert_allclose(combine(transformer, linear, 0.25), 0.25 * linear + 0.75 * transformer)
    blended = combine(transformer, linear, 0.25, cut=0.1)
    np.testing.assert_allclose(blended[1], linear[1])  # max 0.05 < 0.1: the transformer's 0.6 is not used
    np.testing.assert_allclose(blended[[0, 2]], (0.25 * linear + 0.75 * transformer)[[0, 2]])
    assert easy_rows(linear, 0.0).sum() == 0
    assert easy_rows(np.zeros((0, 2)), 0.5).shape == (0,)


def test_tune_blend_picks_best_weight_then_largest_harmless_cut() -> None:
    rng = np.random.default_rng(0)
    y = rng.random((400, 3)) < 0.2
    noise = lambda scale: np.clip(y + rng.normal(0, scale, y.shape), 0, 1)  # noqa: E731
    transformer, linear = noise(0.45), noise(0.45)

    def accuracy(probs: np.ndarray) -> float:
        return float(((probs >= 0.5) == y).mean())

    choice = tune_blend(transformer, linear, accuracy)
    assert choice.weight > 0  # two independent noisy views: averaging beats either
    assert choice.weight_scores[f"{choice.weight:g}"] == max(choice.weight_scores.values())
    assert choice.cut > 0
    best = choice.weight_scores[f"{choice.weight:g}"]
    assert choice.cut_scores[f"{choice.cut:g}"] >= best - MAX_CASCADE_COST - 1e-4
    assert choice.dev_skipped == pytest.approx(float(easy_rows(linear, choice.cut).mean()))


def test_given_values_are_kept() -> None:
    transformer = linear = np.array([[0.9], [0.1]])
    choice = tune_blend(transformer, linear, lambda p: 1.0, weight=0.0, cut=0.0)
    assert (choice.weight, choice.cut, choice.cut_scores) == (0.0, 0.0, {})
