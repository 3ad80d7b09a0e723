"""The transformer training recipe as command-line options, one definition for every script that trains.

``benchmarks/train_transformer.py`` (one run on the official split) and ``benchmarks/textee_splits.py`` (the
same training on TextEE's splits) take the same options and build their :class:`TransformerConfig` here, so
a recipe given to one means the same to the other. They differ only in their defaults:
:data:`TRAIN_TRANSFORMER_DEFAULTS` (the script's historic ones) and :data:`MAIN_EVENT_RUN` (the main event
run, also the defaults of ``textee_splits.py``)::

    python benchmarks/train_transformer.py --context neighbours --max-length 96 --epochs 3 --patience 2 \\
        --pooling mean+max --events-dir ../shared/data/casie-events --event-heads --set event_lr_scale=5 \\
        --seed 13 --out DIR
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from _common import CASIE_EVENTS
from threatevents.models.transformer_config import POOLINGS, TransformerConfig

#: ``train_transformer.py``'s defaults: a sentence model without events.
TRAIN_TRANSFORMER_DEFAULTS: dict[str, Any] = {
    "context": "none",
    "max_length": 64,
    "epochs": 3,
    "learning_rate": 8e-5,
    "batch_size": 32,
    "seed": 13,
    "patience": 1,
    "events_dir": None,
    "trigger_weight": 1.0,
    "pooling": "mean",
    "base_model": None,
    "event_heads": False,
    "set": [],
}

#: The main event run (the command in this module's docstring) as option defaults.
MAIN_EVENT_RUN: dict[str, Any] = TRAIN_TRANSFORMER_DEFAULTS | {
    "context": "neighbours",
    "max_length": 96,
    "patience": 2,
    "pooling": "mean+max",
    "events_dir": str(CASIE_EVENTS),
    "event_heads": True,
    "set": ["event_lr_scale=5"],
}


def add_recipe_options(parser: argparse.ArgumentParser, defaults: Mapping[str, Any]) -> None:
    """The training options, with ``defaults`` (keys as in :data:`TRAIN_TRANSFORMER_DEFAULTS`)."""
    group = parser.add_argument_group("training recipe (TransformerConfig fields)")
    d = "(default: %(default)s)"
    preset = " ".join(defaults["set"]) or "none"
    group.add_argument("--context", default=defaults["context"], help=f"sentence context {d}")
    group.add_argument("--max-length", type=int, default=defaults["max_length"], help=f"tokens per input {d}")
    group.add_argument("--epochs", type=int, default=defaults["epochs"], help=f"at most this many epochs {d}")
    group.add_argument("--learning-rate", type=float, default=defaults["learning_rate"], help=d)
    group.add_argument("--batch-size", type=int, default=defaults["batch_size"], help=d)
    group.add_argument("--seed", type=int, default=defaults["seed"], help=d)
    group.add_argument("--patience", type=int, default=defaults["patience"], help=f"early-stopping epochs {d}")
    group.add_argument(
        "--events-dir", default=defaults["events_dir"], help=f"CASIE annotation folder: adds the trigger loss {d}"
    )
    group.add_argument("--trigger-weight", type=float, default=defaults["trigger_weight"], help=d)
    group.add_argument("--pooling", default=defaults["pooling"], choices=list(POOLINGS), help=d)
    group.add_argument(
        "--base-model",
        default=defaults["base_model"],
        help=f"local Hugging Face model folder; none: the packaged MiniLM-L6 {d}",
    )
    group.add_argument(
        "--event-heads",
        action=argparse.BooleanOptionalAction,
        default=defaults["event_heads"],
        help=f"also train the event extractor (needs --events-dir and --context neighbours) {d}",
    )
    group.add_argument(
        "--set",
        action="append",
        default=list(defaults["set"]),
        metavar="KEY=JSON_VALUE",
        help=f"another config field, repeatable; a later --set of a key wins (default: {preset})",
    )


def recipe_config(args: argparse.Namespace, parser: argparse.ArgumentParser | None = None) -> TransformerConfig:
    """The :class:`TransformerConfig` the parsed options describe; a bad value is a usage error on ``parser``."""
    try:
        extra: dict[str, Any] = {}
        for item in args.set:
            key, equals, value = item.partition("=")
            if not equals or not key:
                raise ValueError(f"--set {item!r}: expected KEY=JSON_VALUE")
            try:
                extra[key] = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(f"--set {item!r}: {value!r} is not a JSON value") from None
        return TransformerConfig(
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
            **extra,
        )
    except (TypeError, ValueError) as exc:
        if parser is None:
            raise
        parser.error(str(exc))


def comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config dict with its folders made absolute, so the same recipe given from two places compares equal."""
    out = dict(config)
    for key in ("events_dir", "base_model"):
        if out.get(key):
            out[key] = str(Path(out[key]).resolve())
    return out
