"""Score predicted sentence labels against the gold corpus labels, at sentence and document level.

Public API (the CLI's ``threatevents evaluate`` calls these, then :mod:`threatevents.report` to show them)::

    evaluate_model(model, docs, *, split=None) -> EvaluationResult
    evaluate_predictions(docs, predicted, probs=None, *, model=None, split=None) -> EvaluationResult
    result_from_dict(data) -> EvaluationResult              # back from to_dict()/JSON: numbers only

The score arithmetic (:class:`~threatevents.metrics.Scores` and friends) is in :mod:`threatevents.metrics`;
the terminal table, JSON file and report folder are written by :mod:`threatevents.report`.

Sentence level. Every sentence is a row of six binary columns in :data:`~threatevents.labels.ALL_LABELS`
order: the five event labels plus ``O``, which is set exactly when no event label is (gold and
predicted alike, as :func:`~threatevents.labels.with_o_column` derives it). Precision, recall, F1
and support are computed by scikit-learn's ``precision_recall_fscore_support`` with
``zero_division=0``, per label and as micro, macro, weighted and samples averages over the six
columns, and again as micro, macro and weighted averages over the five event columns only (the
samples average is left out there: it is undefined for sentences with no event). The exact-match
ratio is the share of sentences whose whole label set is right (subset accuracy).

Document level. Each article's label set is the union of its sentences' event labels; an article
with no event sentence gets ``{O}`` instead of the empty set, so that the ``O`` column counts
articles that report no event and every article has at least one label. Scores are computed over
the same six columns as for sentences, except that the macro average is taken over the labels at
least one article truly has (scikit-learn's ``labels=``); predictions of any other label still
lower the micro and samples precision (the weighted average gives such labels no weight anyway).
Articles without any event are rare (one of the 900 in the corpus), and a gold-empty ``O`` column
scoring F1 0 would otherwise cut a model's document macro-F1 by a sixth for a single article
wrongly left without events.

Structured events. With CASIE annotation (``threatevents evaluate --events-dir``), the CLI adds the
model's event extraction scores (:func:`threatevents.event_evaluation.evaluate_events`) as
:attr:`EvaluationResult.events`; ``to_dict`` then has ``trigger_id_f1`` ... ``argument_attached_cls_f1``
and ``realis_accuracy`` at the top level and every count under ``events`` (see ``docs/events.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import accuracy_score

from .corpus import Document
from .environment import describe_environment
from .event_metrics import METRICS as EVENT_METRICS
from .event_metrics import EventScores
from .labels import ALL_LABELS, EVENT_LABELS, check_labels, events_to_matrix, with_o_column
from .metrics import Scores, average_scores, label_scores
from .models import describe_model_path

if TYPE_CHECKING:
    from .models.base import EventModel

#: Event extraction figures copied to the top level of :meth:`EvaluationResult.to_dict` (all under ``events``).
EVENT_HEADLINES = (*(f"{m}_f1" for m in EVENT_METRICS), "realis_accuracy")
SENTENCE_AVERAGES = ("micro", "macro", "weighted", "samples")
EVENT_AVERAGES = ("micro", "macro", "weighted")
DOCUMENT_AVERAGES = ("micro", "macro", "weighted", "samples")


@dataclass
class EvaluationResult:
    """The scores of one evaluation plus the matrices the report plots are drawn from.

    ``y_true``/``y_pred`` are ``(sentences, 6)`` and ``doc_true``/``doc_pred`` ``(documents, 6)``
    indicator matrices in :data:`ALL_LABELS` order; ``probs`` holds the model's ``(sentences, 5)``
    event probabilities when they are known. A result read back with :func:`result_from_dict` has
    the numbers only (the matrices are ``None``).
    """

    per_label: dict[str, Scores]
    averages: dict[str, Scores]
    event_averages: dict[str, Scores]
    exact_match: float
    doc_per_label: dict[str, Scores]
    doc_averages: dict[str, Scores]
    n_sentences: int
    n_documents: int
    model: str | None = None
    split: str | None = None
    y_true: np.ndarray | None = None
    y_pred: np.ndarray | None = None
    probs: np.ndarray | None = None
    doc_ids: list[str] = field(default_factory=list)
    doc_true: np.ndarray | None = None
    doc_pred: np.ndarray | None = None
    events: EventScores | None = None  # structured event scores, when evaluated with CASIE annotation
    environment: dict[str, Any] | None = None  # what the model ran on (:mod:`threatevents.environment`)

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """The sentence-level ``(y_true, y_pred)`` matrices; ``ValueError`` for a result read from JSON."""
        if self.y_true is None or self.y_pred is None:
            raise ValueError("this result holds only the numbers (read back from JSON); re-run the evaluation")
        return self.y_true, self.y_pred

    def cooccurrence(self, normalise: bool = True) -> np.ndarray:
        """``(6, 6)`` counts of sentences with true label *i* and predicted label *j*.

        With ``normalise`` each row is divided by the true label's support (rows of labels that
        never occur stay zero), so the diagonal is the recall and off-diagonal cells show where a
        label's sentences were (also) put.
        """
        y_true, y_pred = self.matrices()
        counts = y_true.T.astype(np.int64) @ y_pred.astype(np.int64)
        if not normalise:
            return counts
        support = y_true.sum(axis=0)
        return np.divide(counts, support[:, None], out=np.zeros(counts.shape), where=support[:, None] > 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON summary: headline F1 values first, then full breakdowns (floats are Python floats)."""
        out: dict[str, Any] = {
            "weighted_f1": self.averages["weighted"].f1,
            "micro_f1": self.averages["micro"].f1,
            "macro_f1": self.averages["macro"].f1,
            "samples_f1": self.averages["samples"].f1,
            "events_micro_f1": self.event_averages["micro"].f1,
            "events_macro_f1": self.event_averages["macro"].f1,
            "events_weighted_f1": self.event_averages["weighted"].f1,
            "exact_match": self.exact_match,
            "doc_micro_f1": self.doc_averages["micro"].f1,
            "doc_macro_f1": self.doc_averages["macro"].f1,
            "n_documents": self.n_documents,
            "n_sentences": self.n_sentences,
            "per_label": {name: s.to_dict() for name, s in self.per_label.items()},
            "averages": {name: s.to_dict() for name, s in self.averages.items()},
            "event_averages": {name: s.to_dict() for name, s in self.event_averages.items()},
            "doc_per_label": {name: s.to_dict() for name, s in self.doc_per_label.items()},
            "doc_averages": {name: s.to_dict() for name, s in self.doc_averages.items()},
        }
        if self.model is not None:
            out["model"] = self.model
        if self.split is not None:
            out["split"] = self.split
        if self.environment is not None:
            out["environment"] = self.environment
        if self.events is not None:
            events = self.events.to_dict()
            out |= {key: events[key] for key in EVENT_HEADLINES}
            out["events"] = events
        return out


def _scores_from_dict(data: dict[str, dict[str, Any]]) -> dict[str, Scores]:
    return {
        name: Scores(float(s["precision"]), float(s["recall"]), float(s["f1"]), int(s["support"]))
        for name, s in data.items()
    }


def result_from_dict(data: dict[str, Any]) -> EvaluationResult:
    """Rebuild a result (numbers only, no matrices) from :meth:`EvaluationResult.to_dict` output.

    Lets a saved ``metrics.json`` be shown again with :func:`threatevents.report.render_table`. Raises ``KeyError``
    when a key written by ``to_dict`` is missing.
    """
    return EvaluationResult(
        per_label=_scores_from_dict(data["per_label"]),
        averages=_scores_from_dict(data["averages"]),
        event_averages=_scores_from_dict(data["event_averages"]),
        exact_match=float(data["exact_match"]),
        doc_per_label=_scores_from_dict(data["doc_per_label"]),
        doc_averages=_scores_from_dict(data["doc_averages"]),
        n_sentences=int(data["n_sentences"]),
        n_documents=int(data["n_documents"]),
        model=data.get("model"),
        split=data.get("split"),
        events=EventScores.from_dict(data["events"]) if data.get("events") else None,
        environment=data["environment"] if isinstance(data.get("environment"), dict) else None,
    )


def _label_matrix(label_sets: Sequence[Sequence[str]]) -> np.ndarray:
    return with_o_column(events_to_matrix([check_labels(labels) for labels in label_sets]))


def _document_matrix(sentence_matrix: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """Union of each document's sentence event columns, with ``O`` where the union is empty."""
    n_events = len(EVENT_LABELS)
    bounds = np.cumsum([0, *lengths])
    events = np.zeros((len(lengths), n_events), dtype=np.int8)
    for d in range(len(lengths)):
        events[d] = sentence_matrix[bounds[d] : bounds[d + 1], :n_events].max(axis=0, initial=0)
    return with_o_column(events)


def _gold_columns(y_true: np.ndarray) -> list[int]:
    """Indices of the columns set in at least one gold row (every row has one: an event or ``O``)."""
    return [int(j) for j in np.flatnonzero(y_true.any(axis=0))]


def evaluate_predictions(
    docs: Sequence[Document],
    predicted: Sequence[Sequence[str]],
    probs: np.ndarray | None = None,
    *,
    model: str | None = None,
    split: str | None = None,
) -> EvaluationResult:
    """Score ``predicted`` label tuples (flat over all sentences of ``docs``, in order) against the gold.

    ``probs`` (optional, ``(sentences, 5)`` event probabilities) is kept for the precision-recall
    plots. ``model`` and ``split`` are names recorded in the result and the report. Raises
    ``ValueError`` when the counts or shapes disagree and :class:`~threatevents.labels.LabelError`
    for an unknown label.
    """
    lengths = [len(doc.sentences) for doc in docs]
    n = sum(lengths)
    if n == 0:
        raise ValueError("nothing to evaluate: the documents have no sentences")
    if len(predicted) != n:
        raise ValueError(f"{len(predicted)} predictions for {n} sentences in {len(docs)} documents")
    if probs is not None:
        probs = np.asarray(probs, dtype=float)
        if probs.shape != (n, len(EVENT_LABELS)):
            raise ValueError(f"probs has shape {probs.shape}, expected ({n}, {len(EVENT_LABELS)})")
    y_true = _label_matrix([labels for doc in docs for labels in doc.labels])
    y_pred = _label_matrix(predicted)
    doc_true, doc_pred = _document_matrix(y_true, lengths), _document_matrix(y_pred, lengths)
    n_events = len(EVENT_LABELS)
    return EvaluationResult(
        per_label=label_scores(y_true, y_pred, ALL_LABELS),
        averages=average_scores(y_true, y_pred, SENTENCE_AVERAGES),
        event_averages=average_scores(y_true[:, :n_events], y_pred[:, :n_events], EVENT_AVERAGES),
        exact_match=float(accuracy_score(y_true, y_pred)),
        doc_per_label=label_scores(doc_true, doc_pred, ALL_LABELS),
        doc_averages=average_scores(doc_true, doc_pred, DOCUMENT_AVERAGES, _gold_columns(doc_true)),
        n_sentences=n,
        n_documents=len(docs),
        model=model,
        split=split,
        y_true=y_true,
        y_pred=y_pred,
        probs=probs,
        doc_ids=[doc.id for doc in docs],
        doc_true=doc_true,
        doc_pred=doc_pred,
    )


def model_name(model: EventModel) -> str:
    """How a model is named in results, reports and plots: its kind and where it lives, e.g.
    ``transformer: shipped model "default"``, ``linear: models/linear`` or ``linear: not saved``."""
    return f"{model.kind}: {describe_model_path(model.path) if model.path is not None else 'not saved'}"


def evaluate_model(
    model: EventModel, docs: Sequence[Document], *, split: str | None = None, name: str | None = None
) -> EvaluationResult:
    """Run ``model`` once over ``docs`` (one ``predict_proba`` call, then ``decide``) and score it.

    ``name`` is how the result names the model (default :func:`model_name`).
    """
    probs = np.asarray(model.predict_proba(docs), dtype=float)
    result = evaluate_predictions(docs, model.decide(probs), probs, model=name or model_name(model), split=split)
    result.environment = describe_environment()  # int8 scores move with the onnxruntime release (and maybe the CPU)
    return result
