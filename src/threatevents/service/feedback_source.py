"""Reviewed sentences and reviewed events from a workbench database, for training (``train --feedback``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, selectinload

from ..corpus import Document
from ..events import Argument, Event, Span
from ..feedback import EventFeedback, event_feedback
from ..labels import check_labels
from .db import DocumentRow, EventArgumentRow, EventRow, open_database, reviewed_documents

T = TypeVar("T")


def load_feedback_documents(db_url: str) -> list[Document]:
    """One document per stored workbench document that has reviewed sentences, holding only those
    sentences with their latest reviewed labels; ids are ``review-<document id>``.

    The database schema is migrated if needed. Raises ``FileNotFoundError`` for a SQLite file that
    does not exist (rather than creating an empty database at a mistyped path).
    """
    return _read(db_url, reviewed_documents)


def load_event_feedback(db_url: str) -> list[EventFeedback]:
    """The reviewed events of every stored document where an analyst accepted, corrected, added or deleted an
    event or argument: per document, its sentences and labels, the sentences whose events were reviewed, and
    those sentences' events as reviewed (deleted ones left out: the sentence then teaches "not this event").
    Ids are ``review-<document id>``. Same database handling as :func:`load_feedback_documents`."""
    return _read(db_url, reviewed_events)


def reviewed_events(session: Session) -> list[EventFeedback]:
    """:func:`load_event_feedback` on an open session."""
    doc_ids = session.scalars(select(EventRow.document_id).where(EventRow.reviewer.is_not(None)).distinct()).all()
    touched_by_argument = session.scalars(
        select(EventRow.document_id).join(EventArgumentRow).where(EventArgumentRow.reviewer.is_not(None)).distinct()
    ).all()
    out = []
    for doc_id in sorted({*doc_ids, *touched_by_argument}):
        row = session.scalar(
            select(DocumentRow)
            .where(DocumentRow.id == doc_id)
            .options(
                selectinload(DocumentRow.sentences), selectinload(DocumentRow.events).selectinload(EventRow.arguments)
            )
        )
        assert row is not None
        reviewed = {
            e.sentence_index for e in row.events if e.reviewer is not None or any(a.reviewer for a in e.arguments)
        }
        events = [
            Event(
                e.type,
                e.realis,
                Span(e.trigger_start, e.trigger_end, row.text[e.trigger_start : e.trigger_end]),
                [
                    Argument(a.role, a.start, a.end, row.text[a.start : a.end])
                    for a in e.arguments
                    if a.state != "deleted"
                ],
            )
            for e in row.events
            if e.state != "deleted" and e.sentence_index in reviewed
        ]
        labels = [
            _labels(
                s.labels, s.reviewed, [e.type for e in events if e.trigger.start >= s.start and e.trigger.end <= s.end]
            )
            for s in row.sentences
        ]
        texts = [s.text for s in row.sentences]
        out.append(event_feedback(f"review-{doc_id}", row.text, texts, labels, reviewed, events))
    return out


def _labels(labels: list[str], reviewed: bool, event_types: list[str]) -> tuple[str, ...]:
    """A sentence's training labels: the analyst's when the sentence was reviewed, else its reviewed events'
    types (``O`` for none)."""
    if reviewed:
        return tuple(labels)
    return check_labels(event_types or ["O"])


def _read(db_url: str, read: Callable[[Session], T]) -> T:
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).expanduser().is_file():
        raise FileNotFoundError(f"no review database at {url.database}")
    engine, sessions = open_database(db_url)
    try:
        with sessions() as session:
            return read(session)
    finally:
        engine.dispose()
