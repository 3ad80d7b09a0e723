"""Experiment: could the linear model settle the easy sentences and leave the rest to the transformer?

For each cut-off ``t`` a sentence whose highest linear event probability is below ``t`` is tagged ``O``
without the transformer. Picks the largest ``t`` costing at most 0.2 points of dev weighted F1
and reports the share of test sentences skipped, test scores and the expected speed.

    python benchmarks/cascade.py --transformer src/threatevents/shipped/default
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from threatevents.corpus import read_corpus
from threatevents.labels import with_o_column
from threatevents.models import load_model
from threatevents.models.base import flatten_labels

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "casie-sentences"
CUTS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2)


def weighted_f1(y: np.ndarray, pred: np.ndarray) -> float:
    return float(f1_score(with_o_column(y), with_o_column(pred), average="weighted", zero_division=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transformer", default="default")
    args = parser.parse_args()
    corpus = read_corpus(DATA)
    linear, transformer = load_model("linear"), load_model(args.transformer)
    rows = {}
    for split in ("dev", "test"):
        docs = corpus.split(split)
        started = time.perf_counter()
        lin = linear.predict_proba(docs)
        lin_s = time.perf_counter() - started
        started = time.perf_counter()
        tf = transformer.predict_proba(docs)
        tf_s = time.perf_counter() - started
        rows[split] = (flatten_labels(docs), lin, tf, lin_s, tf_s)
    y_dev, lin_dev, tf_dev, _, _ = rows["dev"]
    base = weighted_f1(y_dev, tf_dev >= transformer.thresholds)
    chosen = 0.0
    for cut in CUTS:
        easy = lin_dev.max(axis=1) < cut
        score = weighted_f1(y_dev, (tf_dev >= transformer.thresholds) & ~easy[:, None])
        print(
            f"cut {cut:.2f}: dev skipped {easy.mean():.1%}, dev weighted F1 {score:.4f} (transformer alone {base:.4f})"
        )
        if score >= base - 0.002:
            chosen = cut
    y, lin, tf, lin_s, tf_s = rows["test"]
    easy = lin.max(axis=1) < chosen
    pred = (tf >= transformer.thresholds) & ~easy[:, None]
    evf1 = f1_score(y, pred.astype(int), average="macro", zero_division=0)
    n = len(y)
    expected = n / (lin_s + tf_s * (1 - easy.mean()))
    print(
        f"chosen cut {chosen:.2f}: test skipped {easy.mean():.1%}, weighted F1 {weighted_f1(y, pred):.4f}, "
        f"event macro F1 {evf1:.4f}; transformer alone {n / tf_s:.0f} sentences/s, cascade ~{expected:.0f}"
    )


if __name__ == "__main__":
    main()
