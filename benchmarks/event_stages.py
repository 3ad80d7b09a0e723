"""Where the event scores are lost: a model end to end, against the same model given the gold triggers.

Two scorings of one split, both TextEE's end-to-end scores as ``threatevents evaluate --events-dir`` computes
them (:mod:`threatevents.event_evaluation`):

1. ``end to end``: the model finds the triggers, their realis and their arguments
   (:func:`~threatevents.event_evaluation.evaluate_events`);
2. ``gold triggers``: every gold event carried into the corpus sentences (two gold events with the same trigger
   span and type give one event)
   (:func:`~threatevents.event_evaluation.events_in_sentences`), its trigger and type given to
   ``model.predict_arguments``, which decodes realis and arguments for it as ``predict_events`` would, the
   events placed back in the article and scored the same way. Its trigger scores are the ceiling of reading
   the corpus sentences (events in sentences the corpus lacks are missed); its argument scores are those of
   the argument stage when every trigger is right. The gap between the two rows' argument scores is what
   trigger errors cost.

Tune on ``dev``; ``test`` only to report. ::

    python benchmarks/event_stages.py --model src/threatevents/shipped/events --split dev [--json stages.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import CASIE_EVENTS, CASIE_SENTENCES
from threatevents.corpus import Document, read_corpus
from threatevents.event_evaluation import evaluate_events, events_in_sentences, place_events
from threatevents.event_metrics import EventScores, score_events
from threatevents.events import Event, read_event_dir
from threatevents.models import load_model
from threatevents.models.base import EventModel

METRICS = ("trigger_cls", "argument_id", "argument_cls", "argument_attached_id", "argument_attached_cls")


def with_gold_triggers(model: EventModel, docs: Sequence[Document], events_dir: str | Path) -> EventScores:
    """The model's events scored against ``events_dir`` when it is given every gold trigger that lies in the
    corpus sentences (see the module docstring)."""
    gold, _ = read_event_dir(events_dir, ids=[doc.id for doc in docs])
    scored = [doc for doc in docs if doc.id in gold]
    given = [events_in_sentences(gold[doc.id].events, doc.texts, gold[doc.id].text)[0] for doc in scored]
    predicted: dict[str, list[Event]] = {}
    for doc, events in zip(scored, model.predict_arguments(scored, given), strict=True):
        predicted[doc.id] = place_events(events, doc.texts, gold[doc.id].text)[0]
    return score_events({doc.id: gold[doc.id].events for doc in scored}, predicted)


def stages(model: EventModel, docs: Sequence[Document], events_dir: str | Path) -> dict[str, EventScores]:
    """Both scorings, by row name."""
    return {
        "end to end": evaluate_events(model, docs, events_dir)[0],
        "gold triggers": with_gold_triggers(model, docs, events_dir),
    }


def summary(scores: EventScores) -> dict[str, Any]:
    """Precision, recall and F1 of :data:`METRICS`, and realis accuracy, rounded."""
    out: dict[str, Any] = {
        m: {k: round(getattr(scores[m], k), 4) for k in ("precision", "recall", "f1")} for m in METRICS
    }
    out["realis_accuracy"] = round(scores.realis_accuracy, 4)
    return out


def table(rows: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of F1 (precision / recall) per metric, one column per row of ``rows``."""
    names = list(rows)
    lines = [f"| score | {' | '.join(names)} |", "|---|" + "---|" * len(names)]
    for m in METRICS:
        cells = [f"{r[m]['f1']:.3f} ({r[m]['precision']:.3f} / {r[m]['recall']:.3f})" for r in rows.values()]
        lines.append(f"| {m} F1 (P / R) | {' | '.join(cells)} |")
    realis = " | ".join(f"{r['realis_accuracy']:.3f}" for r in rows.values())
    lines.append(f"| realis accuracy | {realis} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a saved model folder or a shipped model name (events)")
    parser.add_argument("--corpus", default=str(CASIE_SENTENCES))
    parser.add_argument("--events-dir", default=str(CASIE_EVENTS))
    parser.add_argument("--split", default="dev", choices=("train", "dev", "test"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    if not model.has_event_extractor:
        parser.error(f"{args.model} has no event extractor")
    docs = read_corpus(args.corpus).split(args.split)
    began = time.perf_counter()
    rows = {name: summary(scores) for name, scores in stages(model, docs, args.events_dir).items()}
    print(
        f"{len(docs)} documents ({args.split} split of {args.corpus}); model {args.model}; "
        f"{time.perf_counter() - began:.0f} s"
    )
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "model": args.model, "rows": rows}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
