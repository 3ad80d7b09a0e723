"""Turn a ``benchmarks/train_transformer.py --event-heads`` run into a shipped model (the ``events`` model today).

Loads the run's saved model (int8 ONNX with the event heads, linear companion tuned on dev), counts the trigger
lexicon from ``train``'s annotation and fits the trigger and argument rankers on ``train`` when the run has none
(re-quantising fits them again, on the new graph's outputs),
chooses on ``dev`` the event decoding
(:meth:`TransformerModel.tune_event_decoding`), whether found triggers lift sentence labels
(:meth:`TransformerModel.tune_trigger_labels`), the events cascade
(:meth:`TransformerModel.tune_event_cascade`) and the label thresholds; then scores ``dev`` and ``test``
(sentence labels, and events against the CASIE annotation as ``threatevents evaluate --events-dir`` does), the
fp32 network from the run's torch checkpoint on ``test`` (the cost of int8), and the test split's speed, and
saves the model with these figures in its metrics and card. Nothing is fitted on ``test``.

    python scripts/ship_event_model.py runs/ev1 --quantize dynamic --out src/threatevents/shipped/events
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the data location the benchmarks use
from _common import CASIE_EVENTS, CASIE_SENTENCES
from threatevents.corpus import Document, read_corpus
from threatevents.evaluate import evaluate_model
from threatevents.event_evaluation import evaluate_events
from threatevents.models.onnx_runtime import default_threads
from threatevents.models.transformer import TransformerModel
from threatevents.models.transformer_config import QUANTIZATIONS

MAX_MB = 40
EVENT_KEYS = ("trigger_cls_f1", "argument_attached_cls_f1", "realis_accuracy")


def scores(model: TransformerModel, docs: list[Document]) -> dict[str, Any]:
    """Sentence and event scores, as ``threatevents evaluate --events-dir`` computes them."""
    result = evaluate_model(model, docs)
    result.events = evaluate_events(model, docs, CASIE_EVENTS)[0]
    return result.to_dict()


def headline(d: dict[str, Any]) -> str:
    keys = ("weighted_f1", "events_macro_f1", *EVENT_KEYS)
    return ", ".join(f"{k} {d[k]:.4f}" for k in keys)


def fp32_model(model: TransformerModel, run: Path) -> TransformerModel:
    """The same model served by the fp32 ONNX export of the run's torch checkpoint."""
    from threatevents.models.event_extractor import encode_windows, plain_tokenizer
    from threatevents.models.transformer_training import export_onnx, load_torch_checkpoint

    net, tokenizer_json, _ = load_torch_checkpoint(run / "torch")
    example = encode_windows(
        plain_tokenizer(tokenizer_json), [["An example sentence.", "And its neighbour."]], model.config.max_length
    )
    fp32 = copy.copy(model)
    fp32.config = copy.deepcopy(model.config)
    fp32.config.quantize = "none"
    fp32._set_runtime(export_onnx(net, example[0].pair), tokenizer_json)
    return fp32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="output folder of benchmarks/train_transformer.py --event-heads")
    parser.add_argument("--out", type=Path, default=Path("src/threatevents/shipped/default"))
    parser.add_argument(
        "--quantize",
        choices=["keep", *QUANTIZATIONS],
        default="keep",
        help="keep the run's int8 graph, or re-quantise the fp32 export of its torch checkpoint",
    )
    parser.add_argument(
        "--trigger-labels",
        type=float,
        default=None,
        help="fix the weight with which found triggers lift sentence labels (default: chosen on dev); 0 keeps "
        "the events cascade possible (a speed choice: the cascade is off while triggers lift labels)",
    )
    parser.add_argument("--skip-fp32", action="store_true", help="do not score the fp32 network (saves a test pass)")
    args = parser.parse_args()
    model = TransformerModel.load(args.run / "model")
    training = model.metrics.get("training", {})  # as fit recorded it (results.json repeats it when complete)
    if not model.has_event_extractor:
        raise SystemExit(f"{args.run}/model has no event extractor")
    model.config.events_dir = str(CASIE_EVENTS)
    corpus = read_corpus(CASIE_SENTENCES)
    dev, test = corpus.split("dev"), corpus.split("test")
    if args.quantize != "keep":
        fp32 = fp32_model(model, args.run)
        model.config.quantize = args.quantize
        model.requantize(fp32._onnx, corpus.split("train"))
    started = time.perf_counter()
    if model.event_heads is not None and model.event_heads.lexicon is None:  # runs trained before the lexicon
        model.build_trigger_lexicon(corpus.split("train"))
    if model.event_heads is not None and model.event_heads.ranker is None:  # runs trained before the ranker
        model.fit_trigger_ranker(corpus.split("train"))
    if model.event_heads is not None and model.event_heads.argument_ranker is None:  # runs trained before it
        model.fit_argument_ranker(corpus.split("train"))
    model.tune_event_decoding(dev)
    if args.trigger_labels is None:
        model.tune_trigger_labels(dev)
    else:
        model.config.trigger_labels = args.trigger_labels
        model.config.validate()
    model.tune_event_cascade(dev)
    model.tune_thresholds(dev)
    print(
        f"tuned on dev in {time.perf_counter() - started:.0f} s: {model.metrics['decoding']['decoding']}, "
        f"trigger_labels {model.config.trigger_labels}, event_cascade_below {model.config.event_cascade_below}"
    )
    dev_scores = scores(model, dev)
    print("dev :", headline(dev_scores))
    model.predict_proba(dev[:3])  # warm-up
    started = time.perf_counter()
    test_scores = scores(model, test)
    seconds = time.perf_counter() - started
    print("test:", headline(test_scores))
    n_test = sum(len(d.sentences) for d in test)
    quantisation: dict[str, Any] = {"mode": model.config.quantize}
    if not args.skip_fp32:
        fp32 = scores(fp32_model(model, args.run), test)
        keys = ("weighted_f1", "events_macro_f1", *EVENT_KEYS)
        quantisation["fp32_onnx_test"] = {k: round(fp32[k], 4) for k in keys}
        quantisation["int8_test"] = {k: round(test_scores[k], 4) for k in keys}
        print("fp32 test:", headline(fp32))
    model.config.events_dir = "../shared/data/casie-events"  # as the README's commands name it, not this machine's path
    model.metrics = {
        "kind": model.kind,
        "training": training,
        **{
            k: model.metrics[k]
            for k in (
                "blend",
                "trigger_lexicon",
                "trigger_ranker",
                "argument_ranker",
                "decoding",
                "trigger_labels",
                "event_cascade",
            )
            if k in model.metrics
        },
        "dev": dev_scores,
        "eval_split": "test",
        "test": test_scores,
        "quantisation_events": quantisation,
        "speed": {
            "test_split": f"{n_test / seconds:.0f} sentences/s on {default_threads()} CPU threads (tokenising, "
            "scoring, event extraction and event scoring)"
        },
    }
    model.save(args.out)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file()) / 1e6
    print(f"saved {args.out} ({size:.1f} MB)")
    if size > MAX_MB:
        raise SystemExit(f"the shipped model is {size:.1f} MB, over the {MAX_MB} MB budget")


if __name__ == "__main__":
    main()
