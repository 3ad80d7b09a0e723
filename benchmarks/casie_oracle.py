"""How far CASIE's trigger annotation agrees with the sentence labels: triggers as a sentence-label oracle.

Each corpus sentence is found in its CASIE article (``threatevents.casie.align_triggers``) and predicted
to carry exactly the event types of the triggers inside it (``O`` when none); a sentence that cannot be
found in its article is predicted ``O``. The predictions are scored against the sentence labels as
``threatevents evaluate`` scores a model. Also printed: the share of sentences found (aligned), the share
whose triggers agree exactly with their labels (``Alignment.agreeing``: the sentences the transformer's
trigger loss trains on), sentences holding a vulnerability trigger, and what the annotation reader
corrected or skipped.

    python benchmarks/casie_oracle.py [--splits train dev test] [--json oracle.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from _common import CASIE_EVENTS, CASIE_SENTENCES
from threatevents.casie import align_triggers
from threatevents.corpus import read_corpus
from threatevents.evaluate import evaluate_predictions
from threatevents.labels import check_labels

VULNERABILITY = {"DiscoverVulnerability", "PatchVulnerability"}


def oracle(corpus_dir: Path, events_dir: Path, split: str) -> dict[str, Any]:
    docs = read_corpus(corpus_dir).split(split)
    alignment = align_triggers(events_dir, docs)
    predicted = [check_labels({label for *_, label in triggers}) for triggers in alignment.triggers]
    scores = evaluate_predictions(docs, predicted, split=split).to_dict()
    return {
        "split": split,
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
