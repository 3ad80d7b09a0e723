"""Dev scoring of the event extractor: epoch selection in training and the decoding offsets chosen after it.

:class:`DevEvents` holds the dev sentences' windows and their gold events (from CASIE, placed in the sentences
as in training) once; :meth:`DevEvents.score` decodes a network's per-window outputs (torch during training,
onnxruntime after) and returns the mean of TextEE's ``trigger_cls`` and ``argument_attached_cls`` F1 over the
dev sentences that have gold events. :func:`tune_decoding` picks the :class:`Decoding` (offsets and joins) by
coordinate search on that score, and :func:`tune_event_cascade` the cut-off below which the events pass skips a
sentence (the cascade rule of :func:`~threatevents.models.blend.last_cut_within`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..corpus import Document
from ..event_metrics import score_events
from ..events import Event, join_sentences
from .event_extractor import (
    Decoding,
    EventHeadWeights,
    Window,
    WindowOutputs,
    encode_windows,
    plain_tokenizer,
    window_events,
)

#: Values tried for each decision, in the order searched: joining touching spans, redrawing trigger edges by the
#: trigger lexicon and its margin, the lexicon's proposals, the trigger ranker's threshold (which, when on, decides
#: the triggers instead of the trigger offset, the redrawn edges and the proposals), then the offsets (trigger,
#: mention, argument), then the argument ranker's threshold (which, when on, decides the arguments instead of the
#: mention offset, the mention join and the argument offset).
GRID: dict[str, tuple[float | bool, ...]] = {
    "join_triggers": (False, True),
    "join_mentions": (False, True),
    "trigger_boundaries": (False, True),
    "boundary_margin": (0.0, 0.1, 0.2, 0.3),
    "propose": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3),
    "rank": (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5),
    "trigger": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
    "mention": (0.0, 0.5, 1.0, 2.0, 3.0),
    "argument": (0.0, 0.5, 1.0, 2.0, 3.0),
    "arguments_rank": (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5),
}


class DevEvents:
    """Dev windows and gold events, scored against any network's window outputs."""

    def __init__(self, dev: Sequence[Document], events_dir: str | Path, tokenizer_json: str, max_length: int) -> None:
        from .event_training import align_events, joined_events

        self.docs = list(dev)
        self.texts = [d.texts for d in self.docs]
        self.gold_sentences = align_events(events_dir, self.docs).sentences
        self.windows: list[Window] = encode_windows(plain_tokenizer(tokenizer_json), self.texts, max_length)
        self.gold: dict[str, list[Event]] = {}
        self.rows: list[range] = []
        row = 0
        for doc, sentences in zip(self.docs, self.texts, strict=True):
            self.gold[doc.id] = joined_events(sentences, self.gold_sentences[row : row + len(sentences)])
            self.rows.append(range(row, row + len(sentences)))
            row += len(sentences)

    @property
    def pairs(self) -> list[tuple[list[int], list[int]]]:
        return [w.pair for w in self.windows]

    def score(
        self,
        outputs: Sequence[Sequence[np.ndarray]],
        heads: EventHeadWeights,
        decoding: Decoding | None = None,
        skip: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        network_labels: np.ndarray | None = None,
    ) -> float:
        """Mean dev ``trigger_cls`` and ``argument_attached_cls`` F1 of the events decoded from ``outputs``
        (one ``EVENT_OUTPUTS`` tuple per window), over the sentences with gold events; sentences where ``skip``
        is true (a mask over the dev sentences) find no events, as when the cascade skips them. ``labels`` (one
        row of label probabilities per dev sentence) lets the trigger lexicon propose triggers; ``network_labels`` (the
        network's own, without the linear companion) lets the trigger ranker choose them."""
        predicted: dict[str, list[Event]] = {}
        for doc, sentences, doc_rows in zip(self.docs, self.texts, self.rows, strict=True):
            starts = join_sentences(sentences)[1]
            found: list[Event] = []
            for i, r in enumerate(doc_rows):
                if self.gold_sentences[r] is None:  # no gold to compare with: not scored
                    continue
                if skip is not None and skip[r]:
                    continue
                around = [(sentences[j], starts[j]) if 0 <= j < len(sentences) else None for j in (i - 1, i, i + 1)]
                row_labels = labels[r] if labels is not None else None
                network = network_labels[r] if network_labels is not None else None
                window = WindowOutputs(*outputs[r])
                found += window_events(self.windows[r], window, heads, around, decoding, row_labels, network)
            predicted[doc.id] = found
        scores = score_events(self.gold, predicted)
        return (scores["trigger_cls"].f1 + scores["argument_attached_cls"].f1) / 2


@dataclass
class DecodingChoice:
    """The decoding chosen and the dev score of every point tried (``trigger=..,mention=..,...``)."""

    decoding: Decoding
    dev_scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"decoding": asdict(self.decoding), "dev_scores": self.dev_scores}


def tune_decoding(
    score: Callable[[Decoding], float],
    grid: dict[str, tuple[float | bool, ...]] = GRID,
    start: Decoding | None = None,
) -> DecodingChoice:
    """Coordinate search from ``start`` (plain argmax decoding by default): each choice in turn (``grid`` order)
    takes the value with the best ``score``, the others held at their best so far; the smallest value wins a tie,
    so offsets stay 0 and joins off unless they help. A choice absent from ``grid`` keeps its ``start`` value."""
    best = start or Decoding()
    scores: dict[str, float] = {}

    def key(d: Decoding) -> str:
        return ",".join(f"{k}={v:g}" for k, v in asdict(d).items())

    best_score = scores[key(best)] = round(score(best), 6)
    for name, values in grid.items():
        for value in sorted(values):
            kept = value if isinstance(value, bool) else float(value)
            candidate = Decoding(**(asdict(best) | {name: kept}))
            if key(candidate) not in scores:
                scores[key(candidate)] = round(score(candidate), 6)
            if scores[key(candidate)] > best_score + 1e-9:
                best, best_score = candidate, scores[key(candidate)]
    return DecodingChoice(best, scores)


#: The events cascade may cost at most this much dev event score against decoding every sentence.
MAX_EVENT_CASCADE_COST = 0.005


@dataclass
class CascadeChoice:
    """The events cascade's cut-off chosen on dev, the share of dev sentences it skips, and the dev event score of
    every cut-off tried."""

    cut: float
    dev_skipped: float
    dev_scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tune_event_cascade(
    linear: np.ndarray, score: Callable[[np.ndarray], float], cuts: Sequence[float]
) -> CascadeChoice:
    """The largest cut-off, tried from small to large, whose dev event score stays within
    :data:`MAX_EVENT_CASCADE_COST` of decoding every sentence (stopping at the first that does not).

    ``score(skip)`` is the dev event score when the sentences in the mask ``skip`` find no events; a sentence is
    skipped when the linear model's highest probability (``linear``, one row per dev sentence) is below the cut.
    """
    from .blend import easy_rows, last_cut_within

    full = score(np.zeros(len(linear), dtype=bool))
    chosen, tried = last_cut_within(
        sorted(c for c in cuts if c > 0), lambda cut: score(easy_rows(linear, cut)), full - MAX_EVENT_CASCADE_COST
    )
    scores = {f"{cut:g}": round(value, 6) for cut, value in {0.0: full, **tried}.items()}
    skipped = float(easy_rows(linear, chosen).mean()) if len(linear) else 0.0
    return CascadeChoice(chosen, round(skipped, 4), scores)
