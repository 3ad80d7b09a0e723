"""Compare ONNX variants of one fine-tuned transformer: fp32, dynamic int8 per-tensor, dynamic int8 per-channel.

Each variant gets its own thresholds tuned on dev; prints dev/test weighted F1 (five events + O),
test event macro F1, file size and test sentences/s.

    python benchmarks/quantisation.py runs/tf-none/torch
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import CASIE_SENTENCES
from threatevents.corpus import read_corpus
from threatevents.metrics import headline_scores
from threatevents.models.base import flatten_labels
from threatevents.models.onnx_runtime import OnnxClassifier, encode_pairs, load_tokenizer
from threatevents.models.thresholds import tune_thresholds
from threatevents.models.transformer_training import export_onnx, load_torch_checkpoint, quantize_onnx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    args = parser.parse_args()
    corpus = read_corpus(CASIE_SENTENCES)
    dev, test = corpus.split("dev"), corpus.split("test")
    y_dev, y_test = flatten_labels(dev), flatten_labels(test)
    net, tokenizer_json, settings = load_torch_checkpoint(args.checkpoint)
    tokenizer = load_tokenizer(tokenizer_json, settings["max_length"])
    graph = export_onnx(net, encode_pairs(tokenizer, [("An example sentence to trace.", None)])[0])
    variants = {"fp32": graph, "int8 per-tensor": quantize_onnx(graph), "int8 per-channel": quantize_onnx(graph, True)}
    print(f"{'variant':18s} {'MB':>6s} {'dev wF1':>8s} {'test wF1':>8s} {'test evF1':>9s} {'sent/s':>7s}")
    for name, model in variants.items():
        runtime = OnnxClassifier(model, tokenizer_json, max_length=settings["max_length"], context=settings["context"])
        p_dev = runtime.predict_proba([d.texts for d in dev])
        started = time.perf_counter()
        p_test = runtime.predict_proba([d.texts for d in test])
        speed = len(p_test) / (time.perf_counter() - started)
        thresholds = tune_thresholds(y_dev, p_dev)
        on_dev, on_test = headline_scores(y_dev, p_dev >= thresholds), headline_scores(y_test, p_test >= thresholds)
        print(
            f"{name:18s} {len(model) / 1e6:6.1f} {on_dev['weighted_f1']:8.4f} {on_test['weighted_f1']:8.4f} "
            f"{on_test['events_macro_f1']:9.4f} {speed:7.0f}"
        )


if __name__ == "__main__":
    main()
