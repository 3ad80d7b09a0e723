"""Turn a run of ``benchmarks/train_transformer.py`` into the shipped default model.

Re-quantises the run's fp32 network as the current config says (static int8 by default), attaches the
linear companion (blend weight and cascade cut-off tuned on dev), tunes thresholds on dev, scores dev
and test with :func:`threatevents.evaluate.evaluate_model`, records training, quantisation and speed
figures in its metrics, and saves it (new card and manifest).

    python scripts/ship_transformer.py runs/tf-none --out src/threatevents/shipped/default
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the data location the benchmarks use
from _common import CASIE_SENTENCES
from threatevents.corpus import Document, read_corpus
from threatevents.evaluate import evaluate_model
from threatevents.metrics import headline_scores
from threatevents.models.base import flatten_labels
from threatevents.models.linear import LinearConfig, LinearModel
from threatevents.models.onnx_runtime import OnnxClassifier, default_threads, encode_documents, load_tokenizer
from threatevents.models.thresholds import tune_thresholds
from threatevents.models.transformer import TransformerModel
from threatevents.models.transformer_config import QUANTIZATIONS
from threatevents.models.transformer_training import export_onnx, load_torch_checkpoint

MAX_MB = 30


def len_ids(encoded: tuple[list[int], list[int]]) -> int:
    return len(encoded[0])


def transformer_alone(
    predict: Callable[[list[Document]], np.ndarray], dev: list[Document], test: list[Document]
) -> dict[str, float]:
    """Test headline scores of the transformer alone, thresholds tuned on dev."""
    thresholds = tune_thresholds(flatten_labels(dev), predict(dev))
    scores = headline_scores(flatten_labels(test), predict(test) >= thresholds)
    return {k: round(v, 4) for k, v in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="output folder of benchmarks/train_transformer.py")
    parser.add_argument("--out", type=Path, default=Path("src/threatevents/shipped/default"))
    parser.add_argument("--compare", type=Path, nargs="*", default=[], help="other runs, for the context table")
    parser.add_argument("--quantize", default="static", choices=list(QUANTIZATIONS))
    parser.add_argument(
        "--no-linear", action="store_true", help="ship the transformer alone (no linear blend or cascade)"
    )
    args = parser.parse_args()
    results = json.loads((args.run / "results.json").read_text(encoding="utf-8"))
    model = TransformerModel.load(args.run / "model")
    corpus = read_corpus(CASIE_SENTENCES)
    train, dev, test = corpus.split("train"), corpus.split("dev"), corpus.split("test")
    net, tokenizer_json, _ = load_torch_checkpoint(args.run / "torch")
    tokenizer = load_tokenizer(tokenizer_json, model.config.max_length)
    fp32 = export_onnx(
        net, max(encode_documents(tokenizer, [d.texts for d in train], model.config.context), key=len_ids)
    )
    model.config.quantize = args.quantize
    model.requantize(fp32, train)
    fp32_runtime = OnnxClassifier(
        fp32, tokenizer_json, max_length=model.config.max_length, context=model.config.context
    )
    quantisation = {
        "mode": args.quantize,
        "int8_test": transformer_alone(model.transformer_proba, dev, test),
        "fp32_onnx_test": transformer_alone(
            lambda docs: fp32_runtime.predict_proba([d.texts for d in docs]), dev, test
        ),
    }
    blend = {}
    if not args.no_linear:  # a linear model trained on train, blended in and cascading; both tuned on dev
        model.config.linear_weight, model.config.cascade_below = None, None
        model.attach_linear(LinearModel(LinearConfig(seed=model.config.seed)).fit(corpus.split("train")), dev)
        model.tune_thresholds(dev)
        blend = model.metrics["blend"]
    model.predict_proba(dev[:3])  # warm-up
    started = time.perf_counter()
    test_result = evaluate_model(model, test)
    seconds = time.perf_counter() - started
    n_test = sum(len(d.sentences) for d in test)
    model.metrics = {
        "kind": model.kind,
        "training": results["training"],
        **({"blend": blend} if blend else {}),
        "dev": evaluate_model(model, dev).to_dict(),
        "eval_split": "test",
        "test": test_result.to_dict(),
        "quantisation": quantisation
        | {
            "torch_vs_fp32_onnx_max_abs_diff": results["torch_vs_fp32_onnx_max_abs_diff"],
        },
        "context_dev": {  # keyed by run folder: several runs may share a context setting
            run.name: {
                "context": (r := json.loads((run / "results.json").read_text(encoding="utf-8")))["config"]["context"],
                "max_length": r["config"]["max_length"],
                "fp32": r["fp32_onnx"]["dev"],
                "int8": r["int8_onnx"]["dev"],
            }
            for run in [args.run, *args.compare]
        },
        "speed": {
            "test_split": (
                f"{n_test / seconds:.0f} sentences/s on {default_threads()} CPU threads (tokenising and scoring)"
            )
        },
    }
    model.save(args.out)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file()) / 1e6
    print(
        f"saved {args.out} ({size:.1f} MB); test weighted F1 {model.metrics['test']['weighted_f1']:.4f}, "
        f"event macro F1 {model.metrics['test']['events_macro_f1']:.4f}"
    )
    if size > MAX_MB:
        raise SystemExit(f"the shipped model is {size:.1f} MB, over the {MAX_MB} MB budget")


if __name__ == "__main__":
    main()
