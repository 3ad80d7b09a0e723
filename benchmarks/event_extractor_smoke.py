"""Train the event extractor on a subset of ``train`` and score its events on a subset of ``dev``.

A smoke run (does the pipeline learn at all, how long does an epoch take), not a quality figure:

    nice -n 10 python benchmarks/event_extractor_smoke.py --train-docs 60 --dev-docs 30 --epochs 1 \\
        --json smoke.json

Events are scored as ``threatevents evaluate --events-dir`` scores them
(:func:`threatevents.event_evaluation.evaluate_events`: TextEE's end-to-end scores over exact article spans).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import CASIE_EVENTS, CASIE_SENTENCES
from threatevents.corpus import Document, read_corpus
from threatevents.evaluate import evaluate_model
from threatevents.event_evaluation import evaluate_events
from threatevents.models.transformer import TransformerModel
from threatevents.models.transformer_config import TransformerConfig


def score_dev(model: TransformerModel, dev: list[Document], events_dir: Path) -> dict[str, object]:
    started = time.perf_counter()
    scores = evaluate_events(model, dev, events_dir)[0].to_dict()
    seconds = time.perf_counter() - started
    headline = {k: round(v, 4) for k, v in scores.items() if k.endswith("_f1") or k == "realis_accuracy"}
    counts = {m: scores[m] for m in ("trigger_cls", "argument_attached_cls")}
    return {"scores": headline, "counts": counts, "predict_and_score_seconds": round(seconds, 1)}


def time_inference(model: TransformerModel, dev: list[Document]) -> dict[str, float]:
    """Seconds to score the dev subset's sentence labels only, and to extract its events (int8, this machine)."""
    out = {}
    for name, run in (("sentence_labels", model.predict_proba), ("events", model.predict_events)):
        started = time.perf_counter()
        run(dev)
        out[name] = round(time.perf_counter() - started, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CASIE_SENTENCES)
    parser.add_argument("--events-dir", type=Path, default=CASIE_EVENTS)
    parser.add_argument("--train-docs", type=int, default=60)
    parser.add_argument("--dev-docs", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--set", action="append", default=[], help="config KEY=JSON_VALUE")
    parser.add_argument("--out", type=Path, help="save the trained model here (never the shipped folder)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    corpus = read_corpus(args.corpus)
    train = corpus.split("train")[: args.train_docs]
    dev = corpus.split("dev")[: args.dev_docs]
    overrides = {k: json.loads(v) for k, _, v in (s.partition("=") for s in args.set)}
    config = TransformerConfig(
        **{
            "epochs": args.epochs,
            "max_length": args.max_length,
            "context": "neighbours",
            "events": True,
            "events_dir": str(args.events_dir),
            "linear_weight": 0.0,
            "cascade_below": 0.0,
            **overrides,
        }
    )
    started = time.perf_counter()
    model = TransformerModel(config).fit(train, dev)
    fit_seconds = time.perf_counter() - started
    model.tune_thresholds(dev)
    sentence = evaluate_model(model, dev).to_dict()
    result = {
        "smoke": True,
        "train_documents": len(train),
        "train_sentences": sum(len(d.sentences) for d in train),
        "dev_documents": len(dev),
        "config": config.to_dict(),
        "fit_seconds": round(fit_seconds, 1),
        "training": model.metrics.get("training", {}),
        "dev_sentence": {k: sentence[k] for k in ("weighted_f1", "events_macro_f1")},
        "dev_events": score_dev(model, dev, args.events_dir),
        "dev_seconds": time_inference(model, dev),
    }
    if args.out:
        model.save(args.out)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
