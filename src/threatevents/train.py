"""Train a model of any kind: fit on ``train``, tune thresholds on ``dev``, score ``test``, save."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .corpus import Corpus, Document
from .feedback import EventFeedback
from .models import EventModel, describe_model_path, model_class


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``["epochs=3", "context=headline"]`` -> ``{"epochs": 3, "context": "headline"}`` (JSON values)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"expected KEY=VALUE, got {pair!r}")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip().replace("-", "_")] = value
    return out


def train_model(
    corpus: Corpus,
    kind: str = "linear",
    overrides: dict[str, Any] | None = None,
    *,
    feedback: Sequence[Document] = (),
    event_feedback: Sequence[EventFeedback] = (),
    eval_split: str = "test",
    name: str | None = None,
) -> EventModel:
    """Fit a model on the corpus's ``train`` split (plus reviewed ``feedback`` sentences, and the analysts'
    ``event_feedback``: event supervision for an event extractor, see :func:`~.feedback.merge_event_feedback`).

    Thresholds are tuned on ``dev``; metrics on ``dev`` and ``eval_split`` are stored in
    ``model.metrics``, naming the model ``name`` (default: its kind, "not saved"). A corpus without a
    split file trains on everything and keeps 0.5 thresholds.
    """
    from .evaluate import evaluate_model

    cls = model_class(kind)
    config = cls.config_class.from_dict(overrides or {})
    has_splits = corpus.has_split("train")
    train = corpus.split("train") if has_splits else corpus.split("all")
    dev = corpus.split("dev") if corpus.has_split("dev") else []
    if feedback:
        from .feedback import merge_feedback

        train = merge_feedback(train, feedback)
    model = cls(config)
    if event_feedback:
        from .feedback import merge_event_feedback

        train, model.event_supervision = merge_event_feedback(train, event_feedback)
    started = time.perf_counter()
    model = model.fit(train, dev or None)
    fit_seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {
        "kind": kind,
        "fit_seconds": round(fit_seconds, 1),
        "n_train_documents": len(train),
        "n_train_sentences": sum(len(d.sentences) for d in train),
        "n_feedback_documents": len(feedback),
        "n_event_feedback_documents": len(event_feedback),
    }
    if dev:
        model.tune_thresholds(dev)
        metrics["dev"] = evaluate_model(model, dev, split="dev", name=name).to_dict()
    if corpus.has_split(eval_split):
        metrics["eval_split"] = eval_split
        metrics["test"] = evaluate_model(model, corpus.split(eval_split), split=eval_split, name=name).to_dict()
    events_dir = getattr(config, "events_dir", None)
    if events_dir and model.has_event_extractor:
        metrics |= _event_metrics(
            model, events_dir, {"dev": dev, "test": corpus.split(eval_split) if "test" in metrics else []}
        )
    model.metrics = {**model.metrics, **metrics}  # keep what fit recorded (e.g. the training curve)
    return model


def _event_metrics(model: EventModel, events_dir: str, splits: dict[str, Sequence[Document]]) -> dict[str, Any]:
    """TextEE event scores of ``model`` on each non-empty split (``dev_events``, ``test_events``): headline
    figures and the trigger and attached-argument counts (the rest is for ``threatevents evaluate``)."""
    from .event_evaluation import evaluate_events

    out: dict[str, Any] = {}
    for split, docs in splits.items():
        if docs:
            scores = evaluate_events(model, docs, events_dir)[0].to_dict()
            headline = {k: v for k, v in scores.items() if k.endswith("_f1") or k == "realis_accuracy"}
            out[f"{split}_events"] = headline | {m: scores[m] for m in ("trigger_cls", "argument_attached_cls")}
    return out


def train_and_save(
    corpus: Corpus,
    out: str | Path,
    kind: str = "linear",
    overrides: dict[str, Any] | None = None,
    *,
    feedback: Sequence[Document] = (),
    event_feedback: Sequence[EventFeedback] = (),
) -> EventModel:
    """:func:`train_model`, then save the model to ``out`` (its metrics name it by kind and ``out``)."""
    name = f"{kind}: {describe_model_path(out)}"
    model = train_model(corpus, kind, overrides, feedback=feedback, event_feedback=event_feedback, name=name)
    model.save(out)
    return model
