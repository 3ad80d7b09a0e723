"""Tag ingested documents with a model: one :class:`TaggedSentence` per sentence.

The JSONL record of a sentence (``TaggedSentence.to_record``) is the one shape shared by the CLI,
the Python API (``model.tag``) and the REST API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .labels import ALL_LABELS, EVENT_LABELS, O, o_score

if TYPE_CHECKING:
    from .ingest import IngestedDocument
    from .models.base import EventModel


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


def tag_documents(model: EventModel, docs: Sequence[IngestedDocument]) -> list[list[TaggedSentence]]:
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


def document_events(tagged: Sequence[TaggedSentence]) -> dict[str, int]:
    """How many sentences of a document carry each event label (only labels that occur)."""
    counts = {name: 0 for name in EVENT_LABELS}
    for sentence in tagged:
        for label in sentence.events:
            counts[label] += 1
    return {name: n for name, n in counts.items() if n}
