"""Experiment: fine-tune the transformer kind with one setting; score dev and test (int8, fp32 ONNX, torch).

Writes ``<out>/model`` (the saved model), ``<out>/torch`` (the fp32 torch checkpoint used by
``bench_models.py``) and ``<out>/results.json``. Thresholds are tuned on dev only.

    python benchmarks/train_transformer.py --context headline --max-length 96 --epochs 3 --out runs/tf-headline
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from _common import CASIE_SENTENCES
from threatevents.corpus import read_corpus
from threatevents.metrics import headline_scores
from threatevents.models.base import flatten_labels
from threatevents.models.onnx_runtime import OnnxClassifier, encode_documents
from threatevents.models.thresholds import tune_thresholds
from threatevents.models.transformer import TransformerModel
from threatevents.models.transformer_config import TransformerConfig
from threatevents.models.transformer_training import predict_torch, save_torch_checkpoint


def scores(y_true: np.ndarray, probs: np.ndarray, thresholds: np.ndarray) -> dict[str, float]:
    """Weighted F1 over the five events + O, and macro F1 over the five events."""
    return {k: round(v, 4) for k, v in headline_scores(y_true, probs >= thresholds).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", default="none")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning-rate", type=float, default=8e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--patience", type=int, default=1)
    parser.add_argument("--events-dir", default=None, help="CASIE annotation folder: adds the trigger loss")
    parser.add_argument("--trigger-weight", type=float, default=1.0)
    parser.add_argument("--pooling", default="mean", choices=["mean", "mean+max"])
    parser.add_argument("--base-model", default=None, help="local Hugging Face model folder (default: MiniLM-L6)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N train documents (smoke test)")
    parser.add_argument(
        "--event-heads", action="store_true", help="also train the event extractor (needs --events-dir; neighbours)"
    )
    parser.add_argument("--set", action="append", default=[], help="other config field, KEY=JSON_VALUE")
    args = parser.parse_args()
    corpus = read_corpus(CASIE_SENTENCES)
    train, dev, test = corpus.split("train")[: args.limit], corpus.split("dev"), corpus.split("test")
    config = TransformerConfig(
        context=args.context,
        max_length=args.max_length,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        seed=args.seed,
        patience=args.patience,
        events_dir=args.events_dir,
        trigger_weight=args.trigger_weight,
        pooling=args.pooling,
        base_model=args.base_model,
        events=args.event_heads,
        **{k: json.loads(v) for k, _, v in (item.partition("=") for item in args.set)},
    )
    model = TransformerModel(config)
    started = time.perf_counter()
    model.fit(train, dev)
    fit_seconds = time.perf_counter() - started
    model.tune_thresholds(dev)
    assert model.torch_net is not None
    settings = {"context": config.context, "max_length": config.max_length, "pooling": config.pooling}
    # saved first, so that a failure in the scoring below does not lose the training run
    model.save(args.out / "model")
    save_torch_checkpoint(model.torch_net, args.out / "torch", model._tokenizer_json, settings)
    y_dev, y_test = flatten_labels(dev), flatten_labels(test)
    results: dict[str, object] = {
        "config": config.to_dict(),
        "fit_seconds_incl_export": round(fit_seconds, 1),
        "training": model.metrics["training"],
    }
    started = time.perf_counter()
    p_test = model.predict_proba(test)
    results["int8_onnx_test_sentences_per_s"] = round(len(p_test) / (time.perf_counter() - started), 1)
    results["int8_onnx"] = {
        "dev": scores(y_dev, model.predict_proba(dev), model.thresholds),
        "test": scores(y_test, p_test, model.thresholds),
    }
    fp32 = OnnxClassifier(model.fp32_onnx, model._tokenizer_json, max_length=config.max_length, context=config.context)
    fp32_dev, fp32_test = fp32.predict_proba([d.texts for d in dev]), fp32.predict_proba([d.texts for d in test])
    own = tune_thresholds(y_dev, fp32_dev)
    results["fp32_onnx"] = {
        "dev": scores(y_dev, fp32_dev, own),
        "test": scores(y_test, fp32_test, own),
        "test_with_int8_thresholds": scores(y_test, fp32_test, model.thresholds),
    }
    assert model.torch_net is not None
    encoded = encode_documents(fp32.tokenizer, [d.texts for d in test], config.context)
    torch_test = predict_torch(model.torch_net, encoded)
    results["torch_vs_fp32_onnx_max_abs_diff"] = float(np.abs(torch_test - fp32_test).max())
    results["int8_vs_fp32_onnx_max_abs_diff"] = float(np.abs(p_test - fp32_test).max())
    model.metrics.update({"dev": results["int8_onnx"]["dev"], "test": results["int8_onnx"]["test"]})  # type: ignore[index]
    model.save(args.out / "model")
    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
