"""Experiment: how far static int8 moves one run's probabilities from its fp32 network, and what that costs.

For each calibration sample seed and each set of matrix products kept in fp32, quantises the run's
fp32 export as the shipped recipe does (99.99th-percentile scales from 640 training sentences) and
prints: graph size; the per-sentence, per-label deviation from fp32 on ``dev`` (mean, 99th
percentile, max); the share of ``dev`` sentences whose labels change at fp32's thresholds; and the
transformer's headline scores alone (thresholds tuned on ``dev``) next to fp32's.

    python benchmarks/quantization_fidelity.py runs/tf-s14 --seeds 13 14 --keep none attention ffn-out

``--keep``: ``none`` (the shipped recipe), ``attention`` (the two activation-by-activation products
of each attention layer), ``ffn-out`` (each layer's feed-forward output projection), ``head`` (the
classifier heads); ``GROUP:N`` keeps only encoder layer N's nodes of a group (``ffn-out:5``); join
groups with ``+`` (``ffn-out:4+ffn-out:5``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx

from _common import CASIE_SENTENCES
from threatevents.corpus import read_corpus
from threatevents.metrics import headline_scores
from threatevents.models.base import flatten_labels
from threatevents.models.onnx_runtime import OnnxClassifier, encode_documents, load_tokenizer
from threatevents.models.thresholds import tune_thresholds
from threatevents.models.transformer import calibration_sample
from threatevents.models.transformer_training import export_onnx, load_torch_checkpoint, quantize_onnx

GROUPS = {
    "attention": lambda name: name.endswith(("attention/self/MatMul", "attention/self/MatMul_1")),
    "ffn-out": lambda name: name.endswith("/output/dense/MatMul") and "attention" not in name,
    "head": lambda name: name.startswith(("/head/", "/token_head/")),
}


def kept_nodes(graph: bytes, keep: str) -> list[str]:
    """Names of the graph's nodes in the ``+``-joined groups of ``keep`` (``none``: no node)."""
    if keep == "none":
        return []
    groups = [group.partition(":") for group in keep.split("+")]
    for base, _, _ in groups:
        if base not in GROUPS:
            raise ValueError(f"unknown node group {base!r}; expected one of {', '.join(GROUPS)}")

    def kept(name: str) -> bool:
        return any(GROUPS[base](name) and (not layer or f"/layer.{layer}/" in name) for base, _, layer in groups)

    names = [node.name for node in onnx.load_from_string(graph).graph.node]
    return [name for name in names if kept(name)]


def scores(y_dev: np.ndarray, p_dev: np.ndarray, y_test: np.ndarray, p_test: np.ndarray) -> str:
    thresholds = tune_thresholds(y_dev, p_dev)
    dev, test = headline_scores(y_dev, p_dev >= thresholds), headline_scores(y_test, p_test >= thresholds)
    return (
        f"dev {dev['weighted_f1']:.4f}/{dev['events_macro_f1']:.4f}  "
        f"test {test['weighted_f1']:.4f}/{test['events_macro_f1']:.4f}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="output folder of benchmarks/train_transformer.py (needs torch/)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[13, 14], help="calibration sample seeds")
    parser.add_argument("--keep", nargs="+", default=["none", "ffn-out"], help="node groups kept in fp32")
    parser.add_argument("--dynamic", action="store_true", help="also dynamic int8 (the earlier recipe)")
    args = parser.parse_args(argv)
    corpus = read_corpus(CASIE_SENTENCES)
    train, dev, test = corpus.split("train"), corpus.split("dev"), corpus.split("test")
    net, tokenizer_json, settings = load_torch_checkpoint(args.run / "torch")
    max_length, context = int(settings.get("max_length", 64)), str(settings.get("context", "none"))
    encoded = encode_documents(load_tokenizer(tokenizer_json, max_length), [d.texts for d in train], context)
    fp32 = export_onnx(net, max(encoded, key=lambda e: len(e[0])))
    y_dev, y_test = flatten_labels(dev), flatten_labels(test)

    def probabilities(graph: bytes) -> tuple[np.ndarray, np.ndarray]:
        runtime = OnnxClassifier(graph, tokenizer_json, max_length=max_length, context=context)
        return runtime.predict_proba([d.texts for d in dev]), runtime.predict_proba([d.texts for d in test])

    ref_dev, ref_test = probabilities(fp32)
    ref_thresholds = tune_thresholds(y_dev, ref_dev)

    def report(name: str, graph: bytes, p_dev: np.ndarray, p_test: np.ndarray) -> None:
        gap = np.abs(p_dev - ref_dev)
        changed = float(((p_dev >= ref_thresholds) != (ref_dev >= ref_thresholds)).any(axis=1).mean())
        print(
            f"{name:<26} {len(graph) / 1e6:5.1f} MB  "
            f"gap mean {gap.mean():.4f} p99 {np.quantile(gap, 0.99):.3f} max {gap.max():.3f}  "
            f"labels changed {changed:.1%}  {scores(y_dev, p_dev, y_test, p_test)}",
            flush=True,
        )

    print(f"fp32                       {len(fp32) / 1e6:5.1f} MB  {scores(y_dev, ref_dev, y_test, ref_test)}")
    if args.dynamic:  # scales from each batch at run time, so a sentence's scores depend on its batch
        dynamic = quantize_onnx(fp32)
        p_dev, p_test = probabilities(dynamic)
        report("dynamic int8", dynamic, p_dev, p_test)
    for keep in args.keep:
        exclude = kept_nodes(fp32, keep)
        for seed in args.seeds:
            graph = quantize_onnx(fp32, calibration=calibration_sample(encoded, seed), exclude=exclude)
            p_dev, p_test = probabilities(graph)
            report(f"int8 keep={keep:<10} seed={seed:<3}", graph, p_dev, p_test)


if __name__ == "__main__":
    main()
