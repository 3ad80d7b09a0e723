"""End-to-end event extraction scores, as TextEE computes them, over exact character spans.

Every metric compares *sets of tuples*, built per document from the gold and the predicted events:

==========================  =====================================================================
metric                      tuple per event (trigger) or per argument
==========================  =====================================================================
``trigger_id``              ``(trigger start, trigger end)``
``trigger_cls``             ``(trigger start, trigger end, event type)``
``argument_id``             ``(event type, argument start, argument end)``
``argument_cls``            ``(event type, argument start, argument end, role)``
``argument_attached_id``    ``(trigger start, trigger end, event type, argument start, argument end)``
``argument_attached_cls``   ``(trigger start, trigger end, event type, argument start, argument end, role)``
==========================  =====================================================================

Duplicates: as TextEE does per instance, identical tuples within one document count once (each side is
a set per document); the same tuple in two documents counts twice. For each metric ``gold``, ``pred``
and ``match`` are the sums over documents of ``|G|``, ``|P|`` and ``|G & P|``; precision is
``match / pred``, recall ``match / gold``, F1 their harmonic mean, each 0 when its denominator is 0
(TextEE's ``safe_div``).

``realis_accuracy`` (not a TextEE metric): over the ``trigger_cls`` matches, the share whose predicted
realis is a realis of a gold event with that span and type; when several predicted events share the
span and type, the one with the highest score (the first, without scores) speaks for them.

``per_role`` breaks ``argument_attached_cls`` down by role (all 26 roles, in schema order) and
``per_event_type`` breaks ``trigger_cls`` and ``argument_attached_cls`` down by event type.

Documents: scores are over the gold documents. A gold document without predictions has all its events
missed (``missing_predictions`` counts them); predictions for documents not in the gold set are not
scored (``unscored_predictions``). Spans are offsets into each document's text; when the predicted
document's text differs from the gold one its offsets cannot be trusted and ``text_mismatches`` counts it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .events import Event, EventDocument, ReadReport, read_event_dir
from .labels import ARGUMENT_ROLES, EVENT_LABELS
from .metrics import Scores, count_scores

METRICS: tuple[str, ...] = (
    "trigger_id",
    "trigger_cls",
    "argument_id",
    "argument_cls",
    "argument_attached_id",
    "argument_attached_cls",
)
NO_EXTRACTOR_NOTE = "model has no event extractor"


_COUNTERS = (
    "documents",
    "missing_predictions",
    "unscored_predictions",
    "text_mismatches",
    "missing_gold",
    "unplaced_predictions",
    "unplaced_arguments",
)


@dataclass(frozen=True)
class MatchScore:
    """Precision, recall and F1 of one metric, with the counts behind them (arithmetic:
    :func:`threatevents.metrics.count_scores`, which is TextEE's ``safe_div`` for zero denominators)."""

    gold: int = 0
    pred: int = 0
    match: int = 0

    @property
    def scores(self) -> Scores:
        return count_scores(self.match, self.pred, self.gold)

    @property
    def precision(self) -> float:
        return self.scores.precision

    @property
    def recall(self) -> float:
        return self.scores.recall

    @property
    def f1(self) -> float:
        return self.scores.f1

    def __add__(self, other: MatchScore) -> MatchScore:
        return MatchScore(self.gold + other.gold, self.pred + other.pred, self.match + other.match)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "gold": self.gold,
            "pred": self.pred,
            "match": self.match,
        }


@dataclass
class EventScores:
    """TextEE's end-to-end scores plus realis accuracy and breakdowns; see the module docstring."""

    scores: dict[str, MatchScore] = field(default_factory=lambda: {m: MatchScore() for m in METRICS})
    realis_matched: int = 0
    realis_correct: int = 0
    per_role: dict[str, MatchScore] = field(default_factory=lambda: {r: MatchScore() for r in ARGUMENT_ROLES})
    per_event_type: dict[str, dict[str, MatchScore]] = field(
        default_factory=lambda: {
            t: {"trigger_cls": MatchScore(), "argument_attached_cls": MatchScore()} for t in EVENT_LABELS
        }
    )
    documents: int = 0
    missing_predictions: int = 0
    unscored_predictions: int = 0
    text_mismatches: int = 0
    missing_gold: int = 0  # documents asked for that have no annotation (not scored)
    unplaced_predictions: int = 0  # predicted events that could not be placed in the article (not scored)
    unplaced_arguments: int = 0
    note: str | None = None

    @property
    def realis_accuracy(self) -> float:
        return self.realis_correct / self.realis_matched if self.realis_matched else 0.0

    def __getitem__(self, metric: str) -> MatchScore:
        return self.scores[metric]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"{m}_f1": self.scores[m].f1 for m in METRICS}
        out["realis_accuracy"] = self.realis_accuracy
        out |= {m: self.scores[m].to_dict() for m in METRICS}
        out["realis"] = {
            "accuracy": self.realis_accuracy,
            "matched": self.realis_matched,
            "correct": self.realis_correct,
        }
        out["per_role"] = {role: s.to_dict() for role, s in self.per_role.items()}
        out["per_event_type"] = {
            t: {m: s.to_dict() for m, s in by_metric.items()} for t, by_metric in self.per_event_type.items()
        }
        out |= {
            "documents": self.documents,
            "missing_predictions": self.missing_predictions,
            "unscored_predictions": self.unscored_predictions,
            "text_mismatches": self.text_mismatches,
            "missing_gold": self.missing_gold,
            "unplaced_predictions": self.unplaced_predictions,
            "unplaced_arguments": self.unplaced_arguments,
            "note": self.note,
        }
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventScores:
        """Back from :meth:`to_dict` (or its JSON): the counts are kept, the fractions recomputed from them."""

        def counts(item: dict[str, Any]) -> MatchScore:
            return MatchScore(int(item["gold"]), int(item["pred"]), int(item["match"]))

        result = cls(
            scores={m: counts(data[m]) for m in METRICS},
            realis_matched=int(data["realis"]["matched"]),
            realis_correct=int(data["realis"]["correct"]),
            per_role={role: counts(item) for role, item in data["per_role"].items()},
            per_event_type={
                kind: {m: counts(item) for m, item in by_metric.items()}
                for kind, by_metric in data["per_event_type"].items()
            },
            note=data.get("note"),
        )
        for name in _COUNTERS:
            setattr(result, name, int(data.get(name, 0)))
        return result

    def rows(self) -> list[tuple[str, float, float, float, int, int, int]]:
        """``(metric, precision, recall, f1, gold, pred, match)`` per metric, for a table."""
        return [(m, s.precision, s.recall, s.f1, s.gold, s.pred, s.match) for m, s in self.scores.items()]


def event_tuples(events: Iterable[Event]) -> dict[str, set[tuple[Any, ...]]]:
    """The deduplicated tuples of each metric for one document's events."""
    out: dict[str, set[tuple[Any, ...]]] = {m: set() for m in METRICS}
    for event in events:
        ts, te, kind = event.trigger.start, event.trigger.end, event.type
        out["trigger_id"].add((ts, te))
        out["trigger_cls"].add((ts, te, kind))
        for arg in event.arguments:
            out["argument_id"].add((kind, arg.start, arg.end))
            out["argument_cls"].add((kind, arg.start, arg.end, arg.role))
            out["argument_attached_id"].add((ts, te, kind, arg.start, arg.end))
            out["argument_attached_cls"].add((ts, te, kind, arg.start, arg.end, arg.role))
    return out


def _by(items: Iterable[tuple[Any, ...]], position: int) -> Counter[Any]:
    return Counter(item[position] for item in items)


def _realis_of(events: Sequence[Event], gold: bool) -> dict[tuple[int, int, str], set[str]]:
    out: dict[tuple[int, int, str], set[str]] = {}
    best: dict[tuple[int, int, str], float] = {}
    for event in events:
        key = (event.trigger.start, event.trigger.end, event.type)
        if gold:
            out.setdefault(key, set()).add(event.realis)
            continue
        score = event.score if event.score is not None else float("-inf")
        if key not in out or score > best[key]:
            out[key], best[key] = {event.realis}, score
    return out


def score_events(gold: Mapping[str, Sequence[Event]], predicted: Mapping[str, Sequence[Event]]) -> EventScores:
    """Score predicted events against gold events, both by document id (see the module docstring)."""
    result = EventScores(documents=len(gold))
    result.missing_predictions = sum(1 for doc_id in gold if doc_id not in predicted)
    result.unscored_predictions = sum(1 for doc_id in predicted if doc_id not in gold)
    for doc_id, gold_events in gold.items():
        pred_events = predicted.get(doc_id, ())
        g, p = event_tuples(gold_events), event_tuples(pred_events)
        for m in METRICS:
            result.scores[m] += MatchScore(len(g[m]), len(p[m]), len(g[m] & p[m]))
        # realis over the trigger_cls matches
        gold_realis, pred_realis = _realis_of(gold_events, gold=True), _realis_of(pred_events, gold=False)
        for key in g["trigger_cls"] & p["trigger_cls"]:
            result.realis_matched += 1
            result.realis_correct += bool(pred_realis[key] & gold_realis[key])
        # breakdowns: attached_cls by role (position 5) and by type (2); trigger_cls by type (2)
        attached = "argument_attached_cls"
        gold_roles, pred_roles = _by(g[attached], 5), _by(p[attached], 5)
        match_roles = _by(g[attached] & p[attached], 5)
        for role in set(gold_roles) | set(pred_roles):
            current = result.per_role.get(role, MatchScore())
            result.per_role[role] = current + MatchScore(gold_roles[role], pred_roles[role], match_roles[role])
        for metric in ("trigger_cls", attached):
            gold_types, pred_types = _by(g[metric], 2), _by(p[metric], 2)
            match_types = _by(g[metric] & p[metric], 2)
            for kind in set(gold_types) | set(pred_types):
                by_metric = result.per_event_type.setdefault(kind, {})
                current = by_metric.get(metric, MatchScore())
                by_metric[metric] = current + MatchScore(gold_types[kind], pred_types[kind], match_types[kind])
    return result


def score_event_documents(gold: Mapping[str, EventDocument], predicted: Mapping[str, EventDocument]) -> EventScores:
    """:func:`score_events` on documents; a predicted document whose text is not the gold text is counted."""
    result = score_events(
        {doc_id: doc.events for doc_id, doc in gold.items()},
        {doc_id: doc.events for doc_id, doc in predicted.items()},
    )
    result.text_mismatches = sum(
        1 for doc_id, doc in gold.items() if doc_id in predicted and predicted[doc_id].text != doc.text
    )
    return result


def score_event_dirs(
    gold_dir: str | Path, pred_dir: str | Path, *, ids: Iterable[str] | None = None, strict: bool = False
) -> tuple[EventScores, ReadReport, ReadReport]:
    """Score a folder of predicted CASIE JSON files against a folder of gold ones (optionally only ``ids``).

    Returns the scores and the read reports of both folders (what was corrected or skipped; ``strict``
    refuses instead, see :mod:`threatevents.events`).
    """
    wanted = None if ids is None else list(ids)
    gold, gold_report = read_event_dir(gold_dir, strict=strict, ids=wanted)
    predicted, pred_report = read_event_dir(pred_dir, strict=strict, ids=wanted)
    return score_event_documents(gold, predicted), gold_report, pred_report
