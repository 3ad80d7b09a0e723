"""Experiment: what the shipped model's decision layer costs or could gain, on dev (cross-validated) and test.

For a transformer model with a linear companion (default: the shipped one), from its two sets of
probabilities on ``dev`` and ``test``:

1. the cascade cut-off: scores with each cut and how many ``test`` event sentences the linear model
   settles (they can then only be predicted ``O``);
2. thresholds: per-label best-F1 thresholds (shipped) against one global threshold;
3. a second stage: per label, a logistic regression on the blended probability's logit plus the previous and
   next sentences' probabilities, the document's highest and mean probabilities, and the headline's.

"cv" is 5-fold cross-validation over ``dev`` documents, repeated with 3 shuffles: thresholds (and the
second stage) are fitted on four folds and scored on the fifth, so, unlike tuning and scoring on all
of ``dev``, it is not optimistic. ``test`` uses everything fitted on all of ``dev``.

    python benchmarks/blend_choices.py [--model default]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from _common import CASIE_SENTENCES
from threatevents import load_model
from threatevents.corpus import Document, read_corpus
from threatevents.metrics import headline_scores
from threatevents.models.base import flatten_labels
from threatevents.models.blend import combine, easy_rows
from threatevents.models.thresholds import tune_thresholds
from threatevents.models.transformer import TransformerModel

#: (gold, probabilities, context features) to fit on, then (probabilities, features) to decide -> 0/1 matrix
Decide = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def per_label(y_fit: np.ndarray, p_fit: np.ndarray, _x_fit: np.ndarray, p: np.ndarray, _x: np.ndarray) -> np.ndarray:
    return p >= tune_thresholds(y_fit, p_fit)


def one_threshold(
    y_fit: np.ndarray, p_fit: np.ndarray, _x_fit: np.ndarray, p: np.ndarray, _x: np.ndarray
) -> np.ndarray:
    grid = np.arange(0.05, 0.96, 0.01)
    best = grid[int(np.argmax([headline_scores(y_fit, p_fit >= t)["weighted_f1"] for t in grid]))]
    return p >= best


def context_features(docs: Sequence[Document], probs: np.ndarray) -> np.ndarray:
    """``(sentences, 5, 6)``: own logit; previous, next, document max (others) and mean, headline probability."""
    out, row = np.zeros((len(probs), probs.shape[1], 6)), 0
    for doc in docs:
        p = probs[row : row + len(doc.sentences)]
        for i in range(len(p)):
            others = np.delete(p, i, axis=0)
            out[row + i, :, 0] = np.log(np.clip(p[i], 1e-4, 1 - 1e-4) / np.clip(1 - p[i], 1e-4, 1))  # logit
            out[row + i, :, 1] = p[i - 1] if i > 0 else 0.0
            out[row + i, :, 2] = p[i + 1] if i + 1 < len(p) else 0.0
            out[row + i, :, 3] = others.max(axis=0) if len(others) else 0.0
            out[row + i, :, 4] = p.mean(axis=0)
            out[row + i, :, 5] = p[0]
        row += len(p)
    return out


def second_stage(y_fit: np.ndarray, p_fit: np.ndarray, x_fit: np.ndarray, _p: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-label logistic regression on the context features; thresholds tuned on its fitted probabilities."""
    fitted, new = np.zeros_like(p_fit), np.zeros((len(x), p_fit.shape[1]))
    for j in range(p_fit.shape[1]):
        clf = LogisticRegression(C=1.0, max_iter=2000).fit(x_fit[:, j], y_fit[:, j])
        fitted[:, j], new[:, j] = clf.predict_proba(x_fit[:, j])[:, 1], clf.predict_proba(x[:, j])[:, 1]
    return new >= tune_thresholds(y_fit, fitted)


def cross_validated(decide: Decide, y: np.ndarray, p: np.ndarray, x: np.ndarray, groups: np.ndarray) -> str:
    truth, predicted = [], []
    for shuffle in range(3):
        folds = np.random.default_rng(shuffle).permutation(groups.max() + 1)[groups] % 5
        for fit, held in GroupKFold(5).split(p, y, folds):
            truth.append(y[held])
            predicted.append(decide(y[fit], p[fit], x[fit], p[held], x[held]))
    return fmt(headline_scores(np.vstack(truth), np.vstack(predicted)))


def fmt(scores: dict[str, float]) -> str:
    return f"{scores['weighted_f1']:.4f}/{scores['events_macro_f1']:.4f}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    if not isinstance(model, TransformerModel) or model.linear is None:
        raise SystemExit(f"{args.model} is not a transformer with a linear companion")
    linear = model.linear
    weight, shipped_cut = float(model.config.linear_weight or 0), float(model.config.cascade_below or 0)
    corpus = read_corpus(CASIE_SENTENCES)
    split = {name: corpus.split(name) for name in ("dev", "test")}
    y = {name: flatten_labels(docs) for name, docs in split.items()}
    tf = {name: model.transformer_proba(docs) for name, docs in split.items()}
    lin = {name: linear.predict_proba(docs) for name, docs in split.items()}
    groups = np.array([i for i, doc in enumerate(split["dev"]) for _ in doc.sentences])
    print(f"linear weight {weight:g}, shipped cascade cut {shipped_cut:g}; scores are weighted F1 / event macro F1")
    print("\n1. cascade cut-off (per-label thresholds tuned on all of dev)")
    events_test = int(y["test"].any(axis=1).sum())
    for cut in sorted({0.0, 0.02, 0.05, 0.1, 0.15, shipped_cut}):
        p = {name: combine(tf[name], lin[name], weight, cut) for name in split}
        thresholds = tune_thresholds(y["dev"], p["dev"])
        easy = easy_rows(lin["test"], cut)
        print(
            f"  cut {cut:<5g} dev {fmt(headline_scores(y['dev'], p['dev'] >= thresholds))}  "
            f"cv {cross_validated(per_label, y['dev'], p['dev'], p['dev'], groups)}  "
            f"test {fmt(headline_scores(y['test'], p['test'] >= thresholds))}  "
            f"test sentences settled by linear {easy.mean():.1%}, "
            f"{int(y['test'][easy].any(axis=1).sum())} of {events_test} event sentences among them"
        )
    p = {name: combine(tf[name], lin[name], weight, shipped_cut) for name in split}
    x = {name: context_features(split[name], p[name]) for name in split}
    print("\n2-3. decision rules on the shipped blend and cascade")
    rules: list[tuple[str, Decide]] = [
        ("per-label thresholds", per_label),
        ("one threshold", one_threshold),
        ("context second stage", second_stage),
    ]
    for name, decide in rules:
        test = decide(y["dev"], p["dev"], x["dev"], p["test"], x["test"])
        cv = cross_validated(decide, y["dev"], p["dev"], x["dev"], groups)
        print(f"  {name:<22} cv {cv}  test {fmt(headline_scores(y['test'], test))}")


if __name__ == "__main__":
    main()
