"""Tag documents or raw text with a model: one :class:`TaggedSentence` per sentence.

:class:`TaggedSentence` is the one domain type of a tagged sentence, from tagging (or the service's
database) to every export: its labels, scores, the indicators found in it (document offsets) and, once
stored and reviewed, its latest :class:`Review`. Its record (``TaggedSentence.to_record``) is the one shape
shared by the CLI's JSONL, the Python API (``tag_text``, which ``model.tag`` delegates to) and the REST API.

This module does not import :mod:`threatevents.models`: it needs of a model only what
:class:`Scorer` names, which every :class:`~threatevents.models.base.EventModel` has.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .events import Event
from .indicators import Indicator
from .labels import ALL_LABELS, EVENT_LABELS, O, o_score

if TYPE_CHECKING:
    from .ingest import IngestedDocument


class Scorer(Protocol):
    """What tagging needs of a model: event probabilities per sentence and the label decision."""

    def predict_proba(self, docs: Sequence[Sequence[str]]) -> np.ndarray: ...

    def decide(self, probs: np.ndarray) -> list[tuple[str, ...]]: ...


@dataclass(frozen=True)
class Review:
    """The latest review of a stored sentence: ``accepted`` the model's labels (``predicted``) or relabelled them."""

    accepted: bool
    reviewer: str
    predicted: tuple[str, ...]
    created_at: datetime | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "reviewer": self.reviewer,
            "predicted": list(self.predicted),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


@dataclass(frozen=True)
class TaggedSentence:
    """One tagged sentence of a document.

    ``start``/``end`` are character offsets into the document text; ``labels`` are the sentence's labels:
    the model's, or the reviewer's once ``review`` is set (``review.predicted`` then keeps the model's).
    ``indicators`` carry document offsets and this sentence's index; ``paragraph`` is the 0-based paragraph
    of the document the sentence is in (a line break in the text between two sentences starts a new one).
    ``events`` are the structured events whose trigger is in this sentence (:class:`~threatevents.events.Event`,
    offsets in the document text: an argument found in a neighbouring sentence keeps its document offsets);
    empty when the model extracts none. ``event_labels`` are the sentence's labels other than ``O``.
    """

    document: str
    index: int
    start: int
    end: int
    text: str
    labels: tuple[str, ...]
    scores: dict[str, float]
    paragraph: int = 0
    indicators: tuple[Indicator, ...] = ()
    review: Review | None = None
    events: tuple[Event, ...] = ()

    def to_record(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "paragraph": self.paragraph,
            "text": self.text,
            "labels": list(self.labels),
            "scores": dict(self.scores),
            "indicators": [indicator.to_dict() for indicator in self.indicators],
            "review": self.review.to_record() if self.review else None,
            "events": [event.to_record() for event in self.events],
        }

    @property
    def event_labels(self) -> tuple[str, ...]:
        return tuple(label for label in self.labels if label != O)

    @property
    def predicted(self) -> tuple[str, ...]:
        """The model's labels (``labels`` unless a review changed them)."""
        return self.review.predicted if self.review else self.labels


_LINE_BREAKS = re.compile(r"\n+")


def paragraph_numbers(text: str, starts: Sequence[int]) -> list[int]:
    """The 0-based paragraph of each offset in ``starts``: how many runs of line breaks of ``text`` come before it."""
    breaks = [match.start() for match in _LINE_BREAKS.finditer(text)]
    return [bisect.bisect_left(breaks, start) for start in starts]


def with_indicators(tagged: Sequence[TaggedSentence]) -> list[TaggedSentence]:
    """``tagged`` with the indicators of each sentence (document offsets; ioc-finder is run here)."""
    from .indicators import indicators_for_sentences  # imported on first use: ioc-finder takes a second to load

    found = indicators_for_sentences([s.text for s in tagged])
    return [
        replace(s, indicators=tuple(i.in_document(s.index, s.start) for i in inds))
        for s, inds in zip(tagged, found, strict=True)
    ]


def tag_documents(
    model: Scorer, docs: Sequence[IngestedDocument], *, indicators: bool = True
) -> list[list[TaggedSentence]]:
    """Score every sentence of every document in one batch call to the model; find the indicators of each
    sentence too unless ``indicators=False`` (then call :func:`with_indicators` when they are wanted). A model
    with an event extractor also gives each sentence its events (document offsets), from the same pass."""
    probs, events = _scores_and_events(model, docs)
    labels = model.decide(probs)
    o_scores = o_score(probs)
    out: list[list[TaggedSentence]] = []
    row = 0
    for doc in docs:
        tagged = []
        paragraphs = paragraph_numbers(doc.text, [span.start for span in doc.sentences])
        for index, span in enumerate(doc.sentences):
            values = [*map(float, probs[row]), float(o_scores[row])]
            scores = {name: round(v, 4) for name, v in zip(ALL_LABELS, values, strict=True)}
            tagged.append(
                TaggedSentence(
                    doc.name,
                    index,
                    span.start,
                    span.end,
                    span.text,
                    labels[row],
                    scores,
                    paragraphs[index],
                    events=tuple(events[row]) if events is not None else (),
                )
            )
            row += 1
        out.append(with_indicators(tagged) if indicators else tagged)
    return out


def _scores_and_events(model: Scorer, docs: Sequence[IngestedDocument]) -> tuple[np.ndarray, list[list[Event]] | None]:
    """Event probabilities of every sentence and, from a model with an event extractor
    (``has_event_extractor`` and ``predict_proba_and_events``, one encoder pass for both), each sentence's
    events in document offsets; ``None`` for a model without one."""
    if not docs:
        return np.zeros((0, len(EVENT_LABELS))), None
    both = getattr(model, "predict_proba_and_events", None)
    if both is None or not getattr(model, "has_event_extractor", False):
        return model.predict_proba([doc.texts for doc in docs]), None
    starts = [[span.start for span in doc.sentences] for doc in docs]
    probs, per_doc = both([doc.texts for doc in docs], starts)
    return probs, [sentence for doc in per_doc for sentence in doc]


def tag_texts(
    model: Scorer,
    texts: Sequence[str],
    *,
    titles: Sequence[str | None] | None = None,
    names: Sequence[str] | None = None,
) -> list[list[dict[str, Any]]]:
    """Ingest raw ``texts`` (with optional headlines) and tag them in one batch; JSONL records per text.

    ``names`` become the records' ``document`` field (default ``text-0``, ``text-1``...).
    """
    from .ingest import ingest_text

    titles = titles or [None] * len(texts)
    names = names or [f"text-{i}" for i in range(len(texts))]
    docs = [ingest_text(t, name=n, title=h) for t, h, n in zip(texts, titles, names, strict=True)]
    return [[s.to_record() for s in tagged] for tagged in tag_documents(model, docs)]


def tag_text(model: Scorer, text: str, *, title: str | None = None, document: str = "text") -> list[dict[str, Any]]:
    """Tag one raw text; returns the same records as ``threatevents tag --format jsonl``."""
    return tag_texts(model, [text], titles=[title], names=[document])[0]


def document_events(tagged: Sequence[TaggedSentence]) -> dict[str, int]:
    """How many sentences of a document carry each event label (only labels that occur)."""
    counts = {name: 0 for name in EVENT_LABELS}
    for sentence in tagged:
        for label in sentence.event_labels:
            counts[label] += 1
    return {name: n for name, n in counts.items() if n}
