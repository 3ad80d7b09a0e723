"""A model's structured events on corpus documents, scored against the CASIE annotation of the same articles.

This is what ``threatevents evaluate CORPUS --events-dir CASIE_DIR`` adds to the sentence scores. The
corpus gives each article as sentences; the model's :meth:`~threatevents.models.base.EventModel.predict_events`
answers with offsets into those sentences joined (:func:`~threatevents.events.join_sentences`). Each corpus
sentence is found in the CASIE article text (:func:`~threatevents.casie.locate_sentences`) and every
predicted span is carried over into the article; the gold events are all of the article's events, so a
gold event in a sentence that could not be found (or that the corpus left out) still counts as missed. A
predicted event whose trigger cannot be placed in the article (its sentence not found, or the span crossing
sentences) is left out and counted in ``unplaced_predictions``, as is a predicted argument in
``unplaced_arguments``. Scores: :mod:`threatevents.event_metrics`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .casie import char_map, locate_sentences
from .corpus import Document
from .event_metrics import NO_EXTRACTOR_NOTE, EventScores, score_events
from .events import Event, ReadReport, Span, join_sentences, read_event_dir

if TYPE_CHECKING:
    from .models.base import EventModel


class _Placer:
    """Carries spans from the joined-sentences frame of a corpus document into its article text."""

    def __init__(self, sentences: Sequence[str], content: str) -> None:
        self.sentences = list(sentences)
        self.content = content
        self.starts = join_sentences(self.sentences)[1]
        self.spans = locate_sentences(content, self.sentences)

    def place(self, start: int, end: int) -> tuple[int, int] | None:
        """The article span of joined-frame ``[start, end)``, or ``None`` where it cannot be placed."""
        i = bisect_right(self.starts, start) - 1
        if i < 0 or start >= end or end > self.starts[i] + len(self.sentences[i]) or self.spans[i] is None:
            return None  # before the text, empty, crossing into the next sentence, or in a sentence not found
        at, where = self.starts[i], self.spans[i]
        assert where is not None
        begin, finish = where
        if self.content[begin:finish] == self.sentences[i]:
            return begin + start - at, begin + end - at
        # the sentence was found with whitespace collapsed: carry the span character by character
        mapping = char_map(self.sentences[i], self.content[begin:finish])
        if mapping is None:
            return None
        return begin + mapping[start - at], begin + mapping[end - at - 1] + 1


def place_events(events: Sequence[Event], sentences: Sequence[str], content: str) -> tuple[list[Event], int, int]:
    """``events`` (offsets into ``sentences`` joined) with offsets into ``content``, and how many events and
    arguments could not be placed (dropped)."""
    placer = _Placer(sentences, content)
    out: list[Event] = []
    lost_events = lost_arguments = 0
    for event in events:
        trigger = placer.place(event.trigger.start, event.trigger.end)
        if trigger is None:
            lost_events += 1
            continue
        arguments = []
        for argument in event.arguments:
            span = placer.place(argument.start, argument.end)
            if span is None:
                lost_arguments += 1
                continue
            arguments.append(replace(argument, start=span[0], end=span[1], text=content[span[0] : span[1]]))
        out.append(
            replace(event, trigger=Span(trigger[0], trigger[1], content[trigger[0] : trigger[1]]), arguments=arguments)
        )
    return out, lost_events, lost_arguments


def events_in_sentences(
    events: Sequence[Event], sentences: Sequence[str], content: str
) -> tuple[list[Event], int, int]:
    """The inverse of :func:`place_events`: article events with offsets into ``sentences`` joined (the frame of
    ``predict_events``; training targets for an extractor), and how many events and arguments fall outside
    every sentence found in the article (dropped)."""
    spans = locate_sentences(content, sentences)
    starts = join_sentences(sentences)[1]

    def to_joined(start: int, end: int) -> tuple[int, int] | None:
        for sentence, at, where in zip(sentences, starts, spans, strict=True):
            if where is None or not (where[0] <= start and end <= where[1]):
                continue
            if content[where[0] : where[1]] == sentence:
                return at + start - where[0], at + end - where[0]
            mapping = char_map(content[where[0] : where[1]], sentence)  # found with whitespace collapsed
            if mapping is None:
                return None
            return at + mapping[start - where[0]], at + mapping[end - where[0] - 1] + 1
        return None

    joined = join_sentences(sentences)[0]
    out: list[Event] = []
    lost_events = lost_arguments = 0
    for event in events:
        trigger = to_joined(event.trigger.start, event.trigger.end)
        if trigger is None:
            lost_events += 1
            continue
        arguments = []
        for argument in event.arguments:
            span = to_joined(argument.start, argument.end)
            if span is None:
                lost_arguments += 1
                continue
            arguments.append(replace(argument, start=span[0], end=span[1], text=joined[span[0] : span[1]]))
        out.append(
            replace(event, trigger=Span(trigger[0], trigger[1], joined[trigger[0] : trigger[1]]), arguments=arguments)
        )
    return out, lost_events, lost_arguments


def evaluate_events(
    model: EventModel, docs: Sequence[Document], events_dir: str | Path, *, strict: bool = False
) -> tuple[EventScores, ReadReport]:
    """Score ``model``'s events on ``docs`` against ``events_dir`` (a CASIE folder, or its ``annotation``).

    Documents without an annotation file are not scored (``missing_gold``). Returns the scores and the
    annotation's read report (``strict`` refuses what the reader cannot correct).
    """
    gold_docs, report = read_event_dir(events_dir, strict=strict, ids=[doc.id for doc in docs])
    scored = [doc for doc in docs if doc.id in gold_docs]
    predicted: dict[str, list[Event]] = {doc.id: [] for doc in scored}
    lost_events = lost_arguments = 0
    if model.has_event_extractor and scored:
        for doc, events in zip(scored, model.predict_events(scored), strict=True):
            placed, events_lost, arguments_lost = place_events(events, doc.texts, gold_docs[doc.id].text)
            predicted[doc.id] = placed
            lost_events += events_lost
            lost_arguments += arguments_lost
    scores = score_events({doc.id: gold_docs[doc.id].events for doc in scored}, predicted)
    scores.missing_gold = len(docs) - len(scored)
    scores.unplaced_predictions, scores.unplaced_arguments = lost_events, lost_arguments
    if not model.has_event_extractor:
        scores.note = NO_EXTRACTOR_NOTE
    return scores, report
