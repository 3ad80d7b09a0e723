"""Throughput of the core pipeline on the official test split, measured side by side in one run.

    python benchmarks/bench_core.py [--data ../shared/data/casie-sentences] [--repeat 5]

Prints sentences per second for: reading the corpus files, splitting the test articles' text into
sentences, and tagging with the shipped linear model (featurize + score + thresholds), both with a
cold word cache (first call in a fresh model) and warm (later calls), plus full `tag_documents`
(records with offsets and scores). The median of --repeat runs is reported.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from _common import CASIE_SENTENCES
from threatevents.corpus import Document, read_corpus
from threatevents.ingest import ingest_text, split_sentences
from threatevents.models import load_model
from threatevents.models.features import make_analyzer
from threatevents.models.linear import LinearModel
from threatevents.tagging import tag_documents

ROOT = Path(__file__).resolve().parents[1]
GOAL = 20_000


def median_rate(n_items: int, fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return n_items / statistics.median(times)


def sklearn_predict(model: LinearModel, docs: list[Document]) -> np.ndarray:
    """The same model scored through scikit-learn's TfidfVectorizer.transform instead of the cached one."""
    feat = model.featurizer
    assert feat is not None
    if not hasattr(model, "_sk"):
        vec = TfidfVectorizer(
            analyzer=make_analyzer(feat.word_max, feat.char_range),
            sublinear_tf=True,
            vocabulary=feat.vocab,
            dtype=np.float32,
        )
        vec.idf_ = feat.idf
        model._sk = vec  # type: ignore[attr-defined]
    texts = [t for d in docs for t in d.texts]
    logits = model._sk.transform(texts) @ model.coef.T + model.intercept  # type: ignore[attr-defined]
    return model.decide(1 / (1 + np.exp(-logits)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=CASIE_SENTENCES)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if not (args.data / "splits.json").is_file():
        raise SystemExit(f"needs the corpus at {args.data}")

    corpus = read_corpus(args.data)
    test = corpus.split("test")
    n_test = sum(len(d.sentences) for d in test)
    n_all = sum(len(d.sentences) for d in corpus)
    texts = ["\n".join(d.texts) for d in test]  # one sentence per line, as a plain-text report would be
    prose = [" ".join(d.texts) for d in test]  # run-on prose: the splitter has to find every boundary

    rows: list[tuple[str, float, str]] = []
    rows.append(("read corpus (all 900 files)", median_rate(n_all, lambda: read_corpus(args.data), args.repeat), ""))
    rows.append(
        ("split sentences (prose)", median_rate(n_test, lambda: [split_sentences(t) for t in prose], args.repeat), "")
    )
    cold = []
    for _ in range(args.repeat):
        model = load_model("linear")
        start = time.perf_counter()
        model.predict_proba(test)
        cold.append(n_test / (time.perf_counter() - start))
    model = load_model("linear")
    assert isinstance(model, LinearModel)
    model.predict_proba(test)
    warm = median_rate(n_test, lambda: model.predict(test), args.repeat)
    rows.append(("linear predict, cold cache", statistics.median(cold), ""))
    rows.append(
        (
            "linear predict, sklearn transform",
            median_rate(n_test, lambda: sklearn_predict(model, test), args.repeat),
            "same weights, for comparison",
        )
    )
    rows.append(("linear predict, warm cache", warm, "goal" if warm >= GOAL else "BELOW GOAL"))
    docs = [ingest_text(t, name=d.id) for t, d in zip(texts, test, strict=True)]
    n_docs = sum(len(d.sentences) for d in docs)
    rows.append(
        (
            "ingest text + tag_documents",
            median_rate(n_docs, lambda: tag_documents(model, [ingest_text(t, name="x") for t in texts]), args.repeat),
            "",
        )
    )

    print(f"test split: {len(test)} documents, {n_test} sentences; median of {args.repeat} runs; goal {GOAL:,}/s")
    width = max(len(r[0]) for r in rows)
    base = rows[-1][1]
    for name, rate, note in rows:
        print(f"{name:<{width}}  {rate:>10,.0f} sentences/s  {rate / base:5.1f}x  {note}")


if __name__ == "__main__":
    main()
