"""How far CASIE's trigger annotation agrees with the sentence labels: triggers as a sentence-label oracle.

Each corpus sentence is found in its CASIE article (``threatevents.casie.align_triggers``) and predicted
to carry exactly the event types of the triggers inside it (``O`` when none); a sentence that cannot be
found in its article is predicted ``O``. The predictions are scored against the sentence labels as
``threatevents evaluate`` scores a model. Also printed: the share of sentences found (aligned), the share
whose triggers agree exactly with their labels (``Alignment.agreeing``: the sentences the transformer's
trigger loss trains on), sentences holding a vulnerability trigger, and what the annotation reader
corrected or skipped.

Also the ceiling of an extractor that reads the corpus sentences: every gold event carried into the
sentences (``event_evaluation.events_in_sentences``), placed back in the article (``place_events``) and
scored end to end (``event_metrics``). Events in sentences the corpus lacks or the aligner cannot find
are lost, so recall is below 1; precision must be 1 (nothing lands on another span).

    python benchmarks/casie_oracle.py [--splits train dev test] [--json oracle.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from _common import CASIE_EVENTS, CASIE_SENTENCES
from threatevents.casie import align_triggers
from threatevents.corpus import Document, read_corpus
from threatevents.evaluate import evaluate_predictions
from threatevents.event_evaluation import events_in_sentences, place_events
from threatevents.event_metrics import score_events
from threatevents.events import Event, read_event_dir
from threatevents.labels import check_labels

VULNERABILITY = {"DiscoverVulnerability", "PatchVulnerability"}


def event_ceiling(docs: list[Document], events_dir: Path) -> dict[str, Any]:
    gold, _ = read_event_dir(events_dir, ids=[doc.id for doc in docs])
    placed: dict[str, list[Event]] = {}
    lost = 0
    for doc in docs:
        if doc.id in gold:
            inside, events_lost, _ = events_in_sentences(gold[doc.id].events, doc.texts, gold[doc.id].text)
            placed[doc.id] = place_events(inside, doc.texts, gold[doc.id].text)[0]
            lost += events_lost
    scores = score_events({doc_id: d.events for doc_id, d in gold.items()}, placed)
    return {"events_outside_sentences": lost} | {
        m: {
            "precision": round(scores[m].precision, 4),
            "recall": round(scores[m].recall, 4),
            "f1": round(scores[m].f1, 4),
        }
        for m in ("trigger_cls", "argument_attached_cls")
    }


def oracle(corpus_dir: Path, events_dir: Path, split: str) -> dict[str, Any]:
    docs = read_corpus(corpus_dir).split(split)
    alignment = align_triggers(events_dir, docs)
    predicted = [check_labels({label for *_, label in triggers}) for triggers in alignment.triggers]
    scores = evaluate_predictions(docs, predicted, split=split).to_dict()
    ceiling = event_ceiling(docs, events_dir)
    return {
        "split": split,
        "event_ceiling": ceiling,
        "documents": len(docs),
        "sentences": len(predicted),
        "aligned": round(alignment.coverage, 4),
        "agreeing": round(sum(alignment.agreeing(docs)) / max(len(predicted), 1), 4),
        "sentences_with_vulnerability_trigger": sum(
            bool({label for *_, label in triggers} & VULNERABILITY) for triggers in alignment.triggers
        ),
        "weighted_f1": round(scores["weighted_f1"], 4),
        "events_macro_f1": round(scores["events_macro_f1"], 4),
        "per_label_f1": {name: round(v["f1"], 4) for name, v in scores["per_label"].items()},
        "reader": alignment.report.to_dict() | {"missing_documents": alignment.missing_documents},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=CASIE_SENTENCES)
    parser.add_argument("--events-dir", type=Path, default=CASIE_EVENTS)
    parser.add_argument("--splits", nargs="+", default=["train", "dev", "test"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = [oracle(args.data, args.events_dir, split) for split in args.splits]
    header = f"{'split':6} {'docs':>5} {'sents':>6} {'aligned':>8} {'agreeing':>9} {'vuln':>5} {'wF1':>6}"
    header += f" {'evMacro':>8}"
    print(header)
    for r in results:
        print(
            f"{r['split']:6} {r['documents']:5d} {r['sentences']:6d} {r['aligned']:8.3f} {r['agreeing']:9.3f} "
            f"{r['sentences_with_vulnerability_trigger']:5d} {r['weighted_f1']:6.3f} {r['events_macro_f1']:8.3f}"
        )
    for r in results:
        c = r["event_ceiling"]
        print(
            f"{r['split']}: event ceiling trigger_cls P/R/F1 {c['trigger_cls']['precision']:.3f}/"
            f"{c['trigger_cls']['recall']:.3f}/{c['trigger_cls']['f1']:.3f}, argument_attached_cls "
            f"{c['argument_attached_cls']['precision']:.3f}/{c['argument_attached_cls']['recall']:.3f}/"
            f"{c['argument_attached_cls']['f1']:.3f} "
            f"({c['events_outside_sentences']} gold events outside the sentences)"
        )
    for r in results:
        print(f"{r['split']}: per-label F1 {r['per_label_f1']}")
        reader = r["reader"]
        print(
            f"{r['split']}: reader shifted {len(reader['shifted'])} files, dropped events {reader['dropped_events']}, "
            f"skipped files {len(reader['skipped_files'])}, missing {reader['missing_documents']}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
