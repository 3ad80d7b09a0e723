"""Tag documents or raw text with a model: one :class:`TaggedSentence` per sentence.

The JSONL record of a sentence (``TaggedSentence.to_record``) is the one shape shared by the CLI,
the Python API (``tag_text``, which ``model.tag`` delegates to) and the REST API.

This module does not import :mod:`threatevents.models`: it needs of a model only what
:class:`Scorer` names, which every :class:`~threatevents.models.base.EventModel` has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .labels import ALL_LABELS, EVENT_LABELS, O, o_score

if TYPE_CHECKING:
    from .ingest import IngestedDocument


class Scorer(Protocol):
    """What tagging needs of a model: event probabilities per sentence and the label decision."""

    def predict_proba(self, docs: Sequence[Sequence[str]]) -> np.ndarray: ...

    def decide(self, probs: np.ndarray) -> list[tuple[str, ...]]: ...


@dataclass(frozen=True)
class TaggedSentence:
    document: str
    index: int
    start: int
    end: int
    text: str
    labels: tuple[str, ...]
    scores: dict[str, float]

    def to_record(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "index": self.index,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "labels": list(self.labels),
            "scores": dict(self.scores),
        }

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(label for label in self.labels if label != O)


def tag_documents(model: Scorer, docs: Sequence[IngestedDocument]) -> list[list[TaggedSentence]]:
    """Score every sentence of every document in one batch call to the model."""
    probs = model.predict_proba([doc.texts for doc in docs]) if docs else np.zeros((0, len(EVENT_LABELS)))
    labels = model.decide(probs)
    o_scores = o_score(probs)
    out: list[list[TaggedSentence]] = []
    row = 0
    for doc in docs:
        tagged = []
        for index, span in enumerate(doc.sentences):
            values = [*map(float, probs[row]), float(o_scores[row])]
            scores = {name: round(v, 4) for name, v in zip(ALL_LABELS, values, strict=True)}
            tagged.append(TaggedSentence(doc.name, index, span.start, span.end, span.text, labels[row], scores))
            row += 1
        out.append(tagged)
    return out


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
        for label in sentence.events:
            counts[label] += 1
    return {name: n for name, n in counts.items() if n}
