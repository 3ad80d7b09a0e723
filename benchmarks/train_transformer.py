"""Experiment: fine-tune the transformer kind with one setting; score dev and test (int8, fp32 ONNX, torch).

Writes ``<out>/model`` (the saved model), ``<out>/torch`` (the fp32 torch checkpoint used by
``bench_models.py``) and ``<out>/results.json``. Thresholds are tuned on dev only. The training options
are defined in ``_recipe.py``, shared with ``textee_splits.py``.

    python benchmarks/train_transformer.py --context headline --max-length 96 --epochs 3 --out runs/tf-headline
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from _common import CASIE_SENTENCES
from _recipe import TRAIN_TRANSFORMER_DEFAULTS, add_recipe_options, recipe_config
from threatevents.corpus import read_corpus
from threatevents.metrics import headline_scores
from threatevents.models.base import flatten_labels
from threatevents.models.onnx_runtime import OnnxClassifier, encode_documents
from threatevents.models.thresholds import tune_thresholds
from threatevents.models.transformer import TransformerModel
from threatevents.models.transformer_training import predict_torch, save_torch_checkpoint


def scores(y_true: np.ndarray, probs: np.ndarray, thresholds: np.ndarray) -> dict[str, float]:
    """Weighted F1 over the five events + O, and macro F1 over the five events."""
    return {k: round(v, 4) for k, v in headline_scores(y_true, probs >= thresholds).items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_recipe_options(parser, TRAIN_TRANSFORMER_DEFAULTS)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N train documents (smoke test)")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = recipe_config(args, parser)
    corpus = read_corpus(CASIE_SENTENCES)
    train, dev, test = corpus.split("train")[: args.limit], corpus.split("dev"), corpus.split("test")
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
