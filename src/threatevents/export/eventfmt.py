"""The structured-event formats: ``events-csv`` (one row per event argument) and ``casie`` (CASIE-shaped JSON).

Both read the :class:`~threatevents.events.Event` objects of each tagged sentence (``TaggedSentence.events``,
document offsets) and number a document's events as the CASIE writer does (an event's own ``id``, else the
first free ``E1``, ``E2``...), so an ``event_id`` of the CSV is the event's ``index`` in the CASIE JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from ..events import CasieError, Event, EventDocument, check_event, to_casie_json
from .tabular import SafeCsvWriter

if TYPE_CHECKING:
    from ..tagging import TaggedSentence

EVENT_CSV_COLUMNS = [
    "document",
    "sentence",
    "event_id",
    "type",
    "realis",
    "event_score",
    "trigger_text",
    "trigger_start",
    "trigger_end",
    "role",
    "argument_text",
    "argument_start",
    "argument_end",
    "argument_score",
]


def sentence_events(tagged: Sequence[TaggedSentence]) -> list[tuple[TaggedSentence, Event]]:
    """Every event of a document with the sentence holding it; an event listed twice (same record) counts once."""
    seen: set[str] = set()
    out = []
    for s in tagged:
        for event in s.events:
            key = json.dumps(event.to_record(), sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append((s, event))
    return out


def event_ids(events: Sequence[Event]) -> list[str]:
    """Each event's id as :func:`~threatevents.events.to_casie_json` writes it: its own, else the next free
    ``E<n>``."""
    used = {event.id for event in events}
    fresh = (f"E{n}" for n in range(1, len(events) * 2 + 2) if f"E{n}" not in used)
    return [event.id or next(fresh) for event in events]


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def write_events_csv(
    docs: Sequence[Sequence[TaggedSentence]], out: TextIO, *, created: datetime | None = None, continued: bool = False
) -> None:
    """One row per event argument, and one row (empty argument cells) per event without arguments; a header first
    unless ``continued``. Offsets are document offsets; every cell is spreadsheet-safe (:class:`SafeCsvWriter`)."""
    writer = SafeCsvWriter(out)
    if not continued:
        writer.writerow(EVENT_CSV_COLUMNS)
    for tagged in docs:
        found = sentence_events(tagged)
        for (s, event), event_id in zip(found, event_ids([e for _, e in found]), strict=True):
            head = [
                s.document,
                s.index,
                event_id,
                event.type,
                event.realis,
                _score(event.score),
                event.trigger.text,
                event.trigger.start,
                event.trigger.end,
            ]
            if not event.arguments:
                writer.writerow([*head, "", "", "", "", ""])
            for argument in event.arguments:
                writer.writerow(
                    [*head, argument.role, argument.text, argument.start, argument.end, _score(argument.score)]
                )


def document_text(tagged: Sequence[TaggedSentence]) -> str:
    """The document text as far as the sentences tell it: each sentence at its offsets, the characters between
    sentences written as spaces (a line break where a new paragraph starts)."""
    parts: list[str] = []
    at = 0
    previous = None
    for s in sorted(tagged, key=lambda s: s.start):
        if s.start < at:  # overlapping sentences: keep the text already written
            continue
        gap = s.start - at
        parts.append(("\n" if previous is not None and s.paragraph != previous else " ") * gap)
        parts.append(s.text)
        at, previous = s.start + len(s.text), s.paragraph
    return "".join(parts)


def to_event_document(tagged: Sequence[TaggedSentence]) -> EventDocument:
    """The events of one tagged document as an :class:`EventDocument` over :func:`document_text`.

    An event whose spans do not read that text (offsets from another frame) is left out and counted in
    ``metadata["threatevents"]["dropped_events"]``."""
    name = tagged[0].document if tagged else "document"
    text = document_text(tagged)
    found = sentence_events(tagged)
    ids = event_ids([e for _, e in found])
    kept, dropped = [], 0
    for (_, event), event_id in zip(found, ids, strict=True):
        try:
            check_event(event, text, where=name)
        except CasieError:
            dropped += 1
            continue
        kept.append(event if event.id else replace(event, id=event_id))
    metadata: dict[str, Any] = {"sourcefile": name}
    if dropped:
        metadata["threatevents"] = {"dropped_events": dropped}
    return EventDocument(name, text, kept, metadata=metadata)


def write_casie(
    docs: Sequence[Sequence[TaggedSentence]], out: TextIO, *, created: datetime | None = None, continued: bool = False
) -> None:
    """One document: its CASIE JSON object (``content``, ``sourcefile``, ``cyberevent.hopper[].events[]``), which
    :func:`~threatevents.events.read_event_file` reads back. Several documents: a JSON array of those objects."""
    objects = [to_casie_json(to_event_document(tagged)) for tagged in docs]
    value: Any = objects[0] if len(objects) == 1 else objects
    out.write(json.dumps(value, ensure_ascii=False, indent=1) + "\n")
