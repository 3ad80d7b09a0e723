"""The workbench service layer: tag, store, review and export documents. The REST API and the review
page both call :class:`Workbench`; neither touches the model or the database directly.

Errors are :class:`~.errors.WorkbenchError` subclasses (re-exported here) carrying the HTTP status a web
layer should answer. Model work (ingesting, tagging) is bounded by a :class:`~.limits.Gate`.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, selectinload, sessionmaker

from ..corpus import format_document
from ..events import Argument, Event, Span
from ..export import FORMAT_NAMES, export_string, get_format
from ..indicators import Indicator, document_indicators
from ..labels import ALL_LABELS, ARGUMENT_ROLES, EVENT_LABELS, REALIS, LabelError, check_labels
from ..tagging import Review, TaggedSentence, paragraph_numbers, tag_documents, with_indicators
from .db import (
    DocumentRow,
    EventArgumentRow,
    EventRow,
    ReviewRow,
    SentenceRow,
    reviewed_documents,
    utcnow,
)
from .errors import (
    Busy,
    ModelNotReady,
    NotFound,
    TooLarge,
    UnsupportedMedia,
    ValidationError,
    WorkbenchError,
)
from .jobs import Job, JobQueue
from .limits import Gate
from .settings import Settings
from .views import (
    MAX_ID,
    DocumentCounts,
    DocumentPage,
    DocumentSummary,
    DocumentView,
    EventArgumentView,
    EventView,
    ReviewView,
    SentenceView,
    TagRequest,
    TriggerView,
    lone_surrogate,
)

if TYPE_CHECKING:
    from ..ingest import IngestedDocument
    from ..models.base import EventModel

#: Every format of the export registry (:data:`threatevents.export.FORMATS`) is offered.
EXPORT_FORMATS: tuple[str, ...] = FORMAT_NAMES
MAX_PAGE = 200
#: Sentences of context tagged on each side of a chunk (models read at most the neighbour on each side).
CONTEXT_MARGIN = 2
JOB_RETRY_SECONDS = 0.5  # a background job's pause before asking a busy server for a model slot again
__all__ = [
    "EXPORT_FORMATS",
    "Busy",
    "Export",
    "Gate",
    "ModelNotReady",
    "NotFound",
    "TooLarge",
    "UnsupportedMedia",
    "ValidationError",
    "Workbench",
    "WorkbenchError",
]


@dataclass(frozen=True)
class Export:
    content: str
    media_type: str
    filename: str


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def one_line(value: str) -> str:
    """A name for display and storage: NUL is dropped, other control characters (line breaks, escapes) become
    spaces and runs of white space one space, ends trimmed. Refuses (:class:`ValidationError`) text that is not
    valid Unicode."""
    if lone_surrogate(value) is not None:
        raise ValidationError("names must be valid Unicode text (a lone UTF-16 surrogate is not)")
    return " ".join(_CONTROL_CHARS.sub(" ", value.replace("\x00", "")).split())


def _check_id(doc_id: int) -> None:
    if not 1 <= doc_id <= MAX_ID:
        raise NotFound(f"no document with id {doc_id}")


def _event_counts(label_sets: Sequence[Sequence[str]]) -> dict[str, int]:
    counts = Counter(label for labels in label_sets for label in labels)
    return {name: counts[name] for name in EVENT_LABELS if counts[name]}


def _label_counts(label_sets: Sequence[Sequence[str]]) -> dict[str, int]:
    """Sentences per label, every label of the schema (``O`` included), zeros kept."""
    counts = Counter(label for labels in label_sets for label in labels)
    return {name: counts[name] for name in ALL_LABELS}


def _review_view(row: ReviewRow) -> ReviewView:
    return ReviewView(labels=list(row.labels), accepted=row.accepted, reviewer=row.reviewer, created_at=row.created_at)


def _domain_event(row: EventRow, text: str) -> Event:
    """A stored event as the domain type, without its deleted arguments."""
    arguments = [
        Argument(a.role, a.start, a.end, text[a.start : a.end], score=a.score, id=str(a.id))
        for a in row.arguments
        if a.state != "deleted"
    ]
    trigger = Span(row.trigger_start, row.trigger_end, text[row.trigger_start : row.trigger_end])
    return Event(row.type, row.realis, trigger, arguments, id=str(row.id), score=row.score)


def _sentence_events(row: DocumentRow) -> dict[int, tuple[Event, ...]]:
    """The document's events that are not deleted, as domain events by the index of their trigger's sentence."""
    found: dict[int, list[Event]] = {}
    for event in row.events:
        if event.state != "deleted":
            found.setdefault(event.sentence_index, []).append(_domain_event(event, row.text))
    return {index: tuple(events) for index, events in found.items()}


def _argument_view(row: EventArgumentRow, text: str) -> EventArgumentView:
    return EventArgumentView(
        id=row.id,
        role=row.role,
        start=row.start,
        end=row.end,
        text=text[row.start : row.end],
        score=row.score,
        state=row.state,  # type: ignore[arg-type]  # one of EVENT_STATES, written only by this module
        origin=row.origin,  # type: ignore[arg-type]
        reviewer=row.reviewer,
        reviewed_at=row.reviewed_at,
    )


def _event_view(row: EventRow, text: str) -> EventView:
    return EventView(
        id=row.id,
        sentence=row.sentence_index,
        type=row.type,
        realis=row.realis,
        score=row.score,
        trigger=TriggerView(
            start=row.trigger_start, end=row.trigger_end, text=text[row.trigger_start : row.trigger_end]
        ),
        arguments=[_argument_view(a, text) for a in row.arguments],
        state=row.state,  # type: ignore[arg-type]
        origin=row.origin,  # type: ignore[arg-type]
        reviewer=row.reviewer,
        reviewed_at=row.reviewed_at,
    )


def _event_rows(tagged: Sequence[TaggedSentence]) -> list[EventRow]:
    """Rows for the events the model found (state ``proposed``, origin ``model``)."""
    return [
        EventRow(
            sentence_index=s.index,
            type=e.type,
            realis=e.realis,
            trigger_start=e.trigger.start,
            trigger_end=e.trigger.end,
            score=e.score,
            origin="model",
            state="proposed",
            arguments=[
                EventArgumentRow(role=a.role, start=a.start, end=a.end, score=a.score, origin="model", state="proposed")
                for a in e.arguments
            ],
        )
        for s in tagged
        for e in s.events
    ]


def _tagged(row: DocumentRow) -> list[TaggedSentence]:
    """The stored sentences of a document as the domain type every export takes (reviews applied; events as
    reviewed: deleted events and arguments left out, corrections and added ones in)."""
    paragraphs = paragraph_numbers(row.text, [s.start for s in row.sentences])
    events = _sentence_events(row)
    out = []
    for s, paragraph in zip(row.sentences, paragraphs, strict=True):
        latest = s.reviews[-1] if s.reviews else None
        review = Review(latest.accepted, latest.reviewer, tuple(s.predicted), latest.created_at) if latest else None
        out.append(
            TaggedSentence(
                row.name,
                s.index,
                s.start,
                s.end,
                s.text,
                tuple(s.labels),
                dict(s.scores),
                paragraph,
                tuple(Indicator.from_dict(i, s.index, s.start) for i in s.indicators),
                review,
                events.get(s.index, ()),
            )
        )
    return out


def _sentence_view(s: TaggedSentence, history: Sequence[ReviewRow]) -> SentenceView:
    reviews = [_review_view(r) for r in history]
    return SentenceView(
        index=s.index,
        start=s.start,
        end=s.end,
        text=s.text,
        predicted=list(s.predicted),
        scores=dict(s.scores),
        indicators=list(s.indicators),
        review=reviews[-1] if reviews else None,
        labels=list(s.labels),
        history=reviews,
    )


def _document_view(row: DocumentRow) -> DocumentView:
    tagged = _tagged(row)
    sentences = [_sentence_view(s, r.reviews) for s, r in zip(tagged, row.sentences, strict=True)]
    return DocumentView(
        id=row.id,
        name=row.name,
        title=row.title,
        format=row.format,
        created_at=row.created_at,
        text=row.text,
        event_counts=_event_counts([s.labels for s in sentences]),
        label_counts=_label_counts([s.labels for s in sentences]),
        indicators=document_indicators(s.indicators for s in tagged),
        sentences=sentences,
        events=[_event_view(e, row.text) for e in row.events],
    )


def _reviewer_name(reviewer: str) -> str:
    name = one_line(reviewer)
    if not name or len(name) > 200:
        raise ValidationError("reviewer must be 1 to 200 characters")
    return name


def _check_choice(value: str, choices: Sequence[str], field: str) -> str:
    if value not in choices:
        raise ValidationError(f"{field}: unknown value {value!r}; choose from {', '.join(choices)}")
    return value


def _check_span(start: int, end: int, text: str, field: str) -> tuple[int, int]:
    """``(start, end)`` when it is a non-empty span inside ``text``; else :class:`ValidationError` naming ``field``."""
    if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
        raise ValidationError(f"{field}: start and end must be integers")
    if not 0 <= start < end:
        raise ValidationError(f"{field}: span {start}-{end} is empty or negative (end must be greater than start)")
    if end > len(text):
        raise ValidationError(f"{field}: span {start}-{end} ends after the document ({len(text)} characters)")
    return start, end


class Workbench:
    """Tagging, storage, review and export over one model and one database.

    ``model`` may be ``None`` while it is still loading: model calls then raise :class:`ModelNotReady`
    and :meth:`is_ready` is false; assign ``workbench.model`` once loaded.
    """

    def __init__(self, model: EventModel | None, session_factory: sessionmaker[Any], settings: Settings) -> None:
        self.model = model
        self.settings = settings
        self.gate = Gate(settings.max_concurrency, settings.max_queue, settings.queue_timeout)
        self.jobs = JobQueue(max_pending=settings.max_jobs)
        self._sessions = session_factory

    # -- model work ----------------------------------------------------------------------------
    @property
    def suggests_arguments(self) -> bool:
        """Whether the model can suggest the arguments of an analyst's trigger (it has an event extractor, on)."""
        return self.model is not None and self.model.has_event_extractor and self.model.events_enabled

    def _require_model(self) -> EventModel:
        if self.model is None:
            raise ModelNotReady("the model is still loading; retry shortly")
        return self.model

    def _ingest(
        self, *, data: bytes | None, filename: str | None, text: str | None, title: str | None, name: str | None = None
    ) -> IngestedDocument:
        from ..ingest import (
            EmptyDocumentError,
            IngestError,
            TooLargeError,
            UnsupportedFormatError,
            ingest_bytes,
            ingest_text,
        )

        if (data is None) == (text is None):
            raise ValidationError("give either file bytes or text")
        try:
            if data is not None:
                return ingest_bytes(data, name=filename or "upload", max_bytes=self.settings.max_upload_bytes)
            return ingest_text(text or "", name=name or title or "text", title=title)
        except UnsupportedFormatError as exc:
            raise UnsupportedMedia(f"{exc}; send plain text, HTML, PDF or DOCX") from None
        except TooLargeError as exc:
            raise TooLarge(str(exc)) from None
        except (EmptyDocumentError, IngestError) as exc:
            raise ValidationError(str(exc)) from None

    def _tag(self, docs: Sequence[IngestedDocument]) -> list[list[TaggedSentence]]:
        """Model work only (in a gate slot); :func:`with_indicators` adds the indicators after it."""
        return tag_documents(self._require_model(), docs, indicators=False)

    def _check_sync_size(self, n_sentences: int) -> None:
        if n_sentences > self.settings.max_sync_sentences:
            raise TooLarge(
                f"{n_sentences:,} sentences is more than {self.settings.max_sync_sentences:,} per request; "
                "store it with POST /v1/documents, which tags large documents in the background"
            )

    def _tag_in_chunks(
        self, doc: IngestedDocument, progress: Callable[[int], None] | None = None, *, patient: bool = False
    ) -> list[TaggedSentence]:
        """Tag ``doc`` holding a model slot for at most ``settings.chunk_sentences`` sentences at a time, so that a
        large document lets other requests in between its chunks. Each chunk is tagged with the context a model
        may read around it (the headline and :data:`CONTEXT_MARGIN` neighbours each side), so the labels are the
        ones tagging the whole document at once gives."""
        size, n = self.settings.chunk_sentences, len(doc.sentences)
        tagged: list[TaggedSentence] = []
        for first in range(0, n, size):
            last = min(n, first + size)
            lo = max(1, first - CONTEXT_MARGIN)
            hi = min(n, last + CONTEXT_MARGIN)
            head = [] if first == 0 else doc.sentences[:1]
            spans = doc.sentences[:hi] if first == 0 else [*head, *doc.sentences[lo:hi]]
            skip = first if first == 0 else len(head) + first - lo
            part = replace(doc, sentences=spans)
            rows = self._tag_part(part, patient=patient)[skip : skip + last - first]
            tagged.extend(replace(s, index=first + i) for i, s in enumerate(rows))
            if progress is not None:
                progress(len(tagged))
        return tagged

    def _tag_part(self, part: IngestedDocument, *, patient: bool) -> list[TaggedSentence]:
        """Tag one chunk in a model slot. A ``patient`` caller (a background job) waits out a busy server instead of
        failing, and stops when the job queue shuts down."""
        while True:
            if patient and self.jobs.stopping.is_set():
                raise Busy("the server is shutting down")
            try:
                with self.gate.slot():
                    return self._tag([part])[0]
            except Busy:
                if not patient:
                    raise
                time.sleep(JOB_RETRY_SECONDS)

    def tag_batch(self, items: Sequence[TagRequest]) -> list[list[TaggedSentence]]:
        """Tag several texts in one model call without storing them; the tagged sentences of each item, with
        their indicators (the ``threatevents tag`` JSONL record is ``TaggedSentence.to_record()``). More than
        ``settings.max_sync_sentences`` sentences in all is refused (:class:`TooLarge`).
        """
        if len(items) > self.settings.max_batch:
            raise ValidationError(f"at most {self.settings.max_batch} items per batch")
        with self.gate.slot():
            self._require_model()
            docs = [self._ingest(data=None, filename=None, text=item.text, title=item.title) for item in items]
            self._check_sync_size(sum(len(doc.sentences) for doc in docs))
            tagged = self._tag(docs)
        return [with_indicators(doc_tagged) for doc_tagged in tagged]

    def tag_text(self, text: str, title: str | None = None) -> list[TaggedSentence]:
        """Tag one text without storing it (see :meth:`tag_batch` for the record shape)."""
        return self.tag_batch([TagRequest(text=text, title=title)])[0]

    def ingest(
        self,
        *,
        data: bytes | None = None,
        filename: str | None = None,
        text: str | None = None,
        title: str | None = None,
        name: str | None = None,
    ) -> IngestedDocument:
        """Read a document (bytes of any supported format, or text) into sentences, in a model slot."""
        with self.gate.slot():
            self._require_model()
            return self._ingest(data=data, filename=filename, text=text, title=title, name=name)

    def store_document(
        self, doc: IngestedDocument, progress: Callable[[int], None] | None = None, *, patient: bool = False
    ) -> DocumentView:
        """Tag an ingested document (in chunks; ``patient``: waiting out a busy server) and store it in one
        transaction."""
        tagged = with_indicators(self._tag_in_chunks(doc, progress, patient=patient))
        row = DocumentRow(
            name=(one_line(doc.name) or "upload")[:255],
            title=doc.title[:1000] if doc.title else None,
            format=doc.format,
            text=doc.text,
            indicators=[i.to_dict() for i in document_indicators(s.indicators for s in tagged)],
        )
        row.sentences = [
            SentenceRow(
                index=s.index,
                start=s.start,
                end=s.end,
                text=s.text,
                predicted=list(s.labels),
                scores=dict(s.scores),
                indicators=[i.to_dict() for i in s.indicators],
                labels=list(s.labels),
                reviewed=False,
                reviews=[],
            )
            for s in tagged
        ]
        row.events = _event_rows(tagged)
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return _document_view(row)

    def add_document(
        self,
        *,
        data: bytes | None = None,
        filename: str | None = None,
        text: str | None = None,
        title: str | None = None,
        name: str | None = None,
    ) -> DocumentView:
        """Ingest (bytes of any supported format, or text), tag and store a document, whatever its size."""
        return self.store_document(self.ingest(data=data, filename=filename, text=text, title=title, name=name))

    def submit_document(self, doc: IngestedDocument) -> Job:
        """Tag and store ``doc`` in the background (:class:`~.jobs.JobQueue`); the job says how it went. The job
        waits for model slots as long as the server is busy (it does not fail on a full queue)."""
        work = lambda progress: self.store_document(doc, progress, patient=True).id  # noqa: E731
        return self.jobs.submit(work, len(doc.sentences))

    def job(self, job_id: str) -> Job:
        found = self.jobs.get(job_id)
        if found is None:
            raise NotFound(f"no job {job_id} (jobs are forgotten when the server restarts)")
        return found

    # -- stored documents ----------------------------------------------------------------------
    def list_documents(self, offset: int = 0, limit: int = 50) -> DocumentPage:
        """Newest first, ``limit`` (1 to 200) documents from ``offset``, with review progress and event counts."""
        if not 0 <= offset <= MAX_ID or not 1 <= limit <= MAX_PAGE:
            raise ValidationError(f"offset must be >= 0 and limit between 1 and {MAX_PAGE}")
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(DocumentRow)) or 0
            docs = session.execute(
                select(DocumentRow.id, DocumentRow.name, DocumentRow.title, DocumentRow.format, DocumentRow.created_at)
                .order_by(DocumentRow.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
            labels: dict[int, list[list[str]]] = {d.id: [] for d in docs}
            reviewed: Counter[int] = Counter()
            rows = session.execute(
                select(SentenceRow.document_id, SentenceRow.labels, SentenceRow.reviewed).where(
                    SentenceRow.document_id.in_(list(labels))
                )
            )
            for doc_id, sentence_labels, is_reviewed in rows:
                labels[doc_id].append(sentence_labels)
                reviewed[doc_id] += bool(is_reviewed)
        items = [
            DocumentSummary(
                id=d.id,
                name=d.name,
                title=d.title,
                format=d.format,
                created_at=d.created_at,
                n_sentences=len(labels[d.id]),
                n_reviewed=reviewed[d.id],
                event_counts=_event_counts(labels[d.id]),
            )
            for d in docs
        ]
        return DocumentPage(items=items, total=total, offset=offset, limit=limit)

    def _load(self, session: Session, doc_id: int) -> DocumentRow:
        row = session.scalar(
            select(DocumentRow)
            .where(DocumentRow.id == doc_id)
            .options(
                selectinload(DocumentRow.sentences).selectinload(SentenceRow.reviews),
                selectinload(DocumentRow.events).selectinload(EventRow.arguments),
            )
        )
        if row is None:
            raise NotFound(f"no document with id {doc_id}")
        return row

    def get_document(self, doc_id: int) -> DocumentView:
        _check_id(doc_id)
        with self._sessions() as session:
            return _document_view(self._load(session, doc_id))

    def document_counts(self, doc_id: int) -> DocumentCounts:
        """The document's review progress and sentences per label (what the page shows after a review)."""
        with self._sessions() as session:
            if session.get(DocumentRow, doc_id) is None:
                raise NotFound(f"no document with id {doc_id}")
            rows = session.execute(
                select(SentenceRow.labels, SentenceRow.reviewed).where(SentenceRow.document_id == doc_id)
            ).all()
        return DocumentCounts(
            n_sentences=len(rows),
            n_reviewed=sum(bool(reviewed) for _, reviewed in rows),
            label_counts=_label_counts([labels for labels, _ in rows]),
        )

    def delete_document(self, doc_id: int) -> None:
        """Delete a document with its sentences and reviews."""
        _check_id(doc_id)
        with self._sessions.begin() as session:
            row = session.get(DocumentRow, doc_id)
            if row is None:
                raise NotFound(f"no document with id {doc_id}")
            session.delete(row)

    def review_sentence(
        self, doc_id: int, index: int, *, accept: bool, labels: Sequence[str] | None = None, reviewer: str
    ) -> ReviewView:
        """Record a review; it is committed (durable) when this returns. The newest review of a sentence wins.

        ``accept=True`` confirms the prediction (``labels`` omitted, or equal to it); ``accept=False``
        corrects it to ``labels``: any set of event labels, or ``["O"]`` / ``[]`` for no event.
        """
        reviewer = one_line(reviewer)
        if not reviewer or len(reviewer) > 200:
            raise ValidationError("reviewer must be 1 to 200 characters")
        _check_id(doc_id)
        if not 0 <= index <= MAX_ID:
            raise NotFound(f"document {doc_id} has no sentence {index}")
        try:
            given = check_labels(labels) if labels is not None else None
        except LabelError as exc:
            raise ValidationError(str(exc)) from None
        with self._sessions.begin() as session:
            sentence = session.scalar(
                select(SentenceRow).where(SentenceRow.document_id == doc_id, SentenceRow.index == index)
            )
            if sentence is None:
                if session.get(DocumentRow, doc_id) is None:
                    raise NotFound(f"no document with id {doc_id}")
                raise NotFound(f"document {doc_id} has no sentence {index}")
            predicted = tuple(sentence.predicted)
            if accept and given is not None and given != predicted:
                raise ValidationError("accept=true confirms the prediction; to change labels send accept=false")
            if not accept and given is None:
                raise ValidationError("accept=false needs the corrected labels")
            final = predicted if accept else given
            review = ReviewRow(sentence_id=sentence.id, labels=list(final or ()), accepted=accept, reviewer=reviewer)
            session.add(review)
            sentence.labels = list(final or ())
            sentence.reviewed = True
            session.flush()
            return _review_view(review)

    # -- events --------------------------------------------------------------------------------
    def _document_text(self, session: Session, doc_id: int) -> str:
        _check_id(doc_id)
        found = session.scalar(select(DocumentRow.text).where(DocumentRow.id == doc_id))
        if found is None:
            raise NotFound(f"no document with id {doc_id}")
        return found

    def _event(self, session: Session, doc_id: int, event_id: int) -> tuple[EventRow, str]:
        """The event ``event_id`` of document ``doc_id`` (locked for update) and the document's text."""
        text_ = self._document_text(session, doc_id)
        if not 1 <= event_id <= MAX_ID:
            raise NotFound(f"document {doc_id} has no event {event_id}")
        event = session.scalar(
            select(EventRow)
            .where(EventRow.id == event_id, EventRow.document_id == doc_id)
            .options(selectinload(EventRow.arguments))
            .with_for_update()
        )
        if event is None:
            raise NotFound(f"document {doc_id} has no event {event_id}")
        return event, text_

    @staticmethod
    def _argument(event: EventRow, doc_id: int, argument_id: int) -> EventArgumentRow:
        found = next((a for a in event.arguments if a.id == argument_id), None)
        if found is None:
            raise NotFound(f"event {event.id} of document {doc_id} has no argument {argument_id}")
        return found

    @staticmethod
    def _touch(row: EventRow | EventArgumentRow, reviewer: str, state: str = "accepted") -> None:
        row.state, row.reviewer, row.reviewed_at = state, reviewer, utcnow()

    def _answer(self, session: Session, event: EventRow, text_: str) -> EventView:
        session.flush()
        return _event_view(event, text_)

    def add_event(
        self,
        doc_id: int,
        *,
        type: str,
        realis: str,
        trigger: tuple[int, int],
        arguments: Sequence[tuple[str, int, int]] = (),
        reviewer: str,
        suggest_arguments: bool = False,
    ) -> EventView:
        """Add an event an analyst found (origin ``analyst``, state ``accepted``). The trigger must lie inside one
        sentence (the event belongs to it); arguments may be anywhere in the document. ``suggest_arguments``: the
        model also finds the trigger's arguments (reading its sentence and the two around it, as when tagging) and
        they are stored as the model's (origin ``model``, state ``proposed``, with their scores) for the analyst to
        review, except one the analyst gave (same role and span); a model without an event extractor suggests
        none and is not run. Everything the analyst gave is checked before the model runs, and the document must
        be the same after it (else :class:`NotFound`). Committed when this returns."""
        reviewer = _reviewer_name(reviewer)
        _check_choice(type, EVENT_LABELS, "type")
        _check_choice(realis, REALIS, "realis")
        for n, (role, _, _) in enumerate(arguments):
            _check_choice(role, ARGUMENT_ROLES, f"arguments[{n}].role")
        read: str | None = None  # the document text the suggestions were found in
        suggested: list[Argument] = []
        if suggest_arguments:
            self._require_model()
            if self.suggests_arguments:
                read, suggested = self._suggested_arguments(doc_id, type, trigger, arguments)
        given = set(arguments)
        suggested = [a for a in suggested if (a.role, a.start, a.end) not in given]
        with self._sessions.begin() as session:
            text_ = self._document_text(session, doc_id)
            if read is not None and text_ != read:  # deleted while the model ran (and its id given to another)
                raise NotFound(f"document {doc_id} changed while its arguments were found; reload it")
            start, end = _check_span(*trigger, text_, "trigger")
            spans = [
                _check_span(a_start, a_end, text_, f"arguments[{n}]") for n, (_, a_start, a_end) in enumerate(arguments)
            ]
            sentence = session.scalar(
                select(SentenceRow.index).where(
                    SentenceRow.document_id == doc_id, SentenceRow.start <= start, SentenceRow.end >= end
                )
            )
            if sentence is None:
                raise ValidationError(f"trigger: span {start}-{end} is not inside one sentence of the document")
            now = utcnow()
            event = EventRow(
                document_id=doc_id,
                sentence_index=sentence,
                type=type,
                realis=realis,
                trigger_start=start,
                trigger_end=end,
                score=None,
                origin="analyst",
                state="accepted",
                reviewer=reviewer,
                reviewed_at=now,
                arguments=[
                    EventArgumentRow(
                        role=role,
                        start=a_start,
                        end=a_end,
                        score=None,
                        origin="analyst",
                        state="accepted",
                        reviewer=reviewer,
                        reviewed_at=now,
                    )
                    for (role, _, _), (a_start, a_end) in zip(arguments, spans, strict=True)
                ]
                + [
                    EventArgumentRow(
                        role=a.role, start=a.start, end=a.end, score=a.score, origin="model", state="proposed"
                    )
                    for a in suggested
                ],
            )
            session.add(event)
            return self._answer(session, event, text_)

    def _suggested_arguments(
        self, doc_id: int, type: str, trigger: tuple[int, int], arguments: Sequence[tuple[str, int, int]]
    ) -> tuple[str, list[Argument]]:
        """The document's text and the arguments the model finds in it for an analyst's trigger (document
        offsets); none when the trigger is not inside one sentence (:meth:`add_event` then refuses it). The trigger
        and the analyst's ``arguments`` are checked first."""
        with self._sessions.begin() as session:
            text_ = self._document_text(session, doc_id)
            start, end = _check_span(*trigger, text_, "trigger")
            for n, (_, a_start, a_end) in enumerate(arguments):
                _check_span(a_start, a_end, text_, f"arguments[{n}]")
            index = session.scalar(
                select(SentenceRow.index).where(
                    SentenceRow.document_id == doc_id, SentenceRow.start <= start, SentenceRow.end >= end
                )
            )
            if index is None:
                return text_, []
            near = session.execute(
                select(SentenceRow.start, SentenceRow.text)
                .where(SentenceRow.document_id == doc_id, SentenceRow.index.between(index - 1, index + 1))
                .order_by(SentenceRow.index)
            ).all()
        asked = Event(type, "Other", Span(start, end, text_[start:end]))
        with self.gate.slot():
            found = self._require_model().predict_arguments(
                [[row.text for row in near]], [[asked]], [[row.start for row in near]]
            )
        found_arguments = [argument for event in found[0] for argument in event.arguments]
        return text_, [a for a in found_arguments if 0 <= a.start < a.end <= len(text_)]  # never a span outside

    def update_event(
        self,
        doc_id: int,
        event_id: int,
        *,
        type: str | None = None,
        realis: str | None = None,
        accept: bool = False,
        reviewer: str,
    ) -> EventView:
        """Correct an event's ``type``/``realis`` and/or confirm it (``accept``; also restores a deleted event).
        Any change marks it ``accepted`` by ``reviewer``. Committed when this returns."""
        reviewer = _reviewer_name(reviewer)
        if type is None and realis is None and not accept:
            raise ValidationError("give type, realis or state")
        if type is not None:
            _check_choice(type, EVENT_LABELS, "type")
        if realis is not None:
            _check_choice(realis, REALIS, "realis")
        with self._sessions.begin() as session:
            event, text_ = self._event(session, doc_id, event_id)
            event.type = type or event.type
            event.realis = realis or event.realis
            self._touch(event, reviewer)
            return self._answer(session, event, text_)

    def delete_event(self, doc_id: int, event_id: int, *, reviewer: str) -> EventView:
        """Mark an event ``deleted`` (kept, so that training learns the model was wrong). Committed when this
        returns; deleting a deleted event changes nothing but the reviewer and time."""
        reviewer = _reviewer_name(reviewer)
        with self._sessions.begin() as session:
            event, text_ = self._event(session, doc_id, event_id)
            self._touch(event, reviewer, "deleted")
            return self._answer(session, event, text_)

    def add_argument(self, doc_id: int, event_id: int, *, role: str, start: int, end: int, reviewer: str) -> EventView:
        """Add an argument (origin ``analyst``) to an event, which becomes ``accepted``; the event is returned."""
        reviewer = _reviewer_name(reviewer)
        _check_choice(role, ARGUMENT_ROLES, "role")
        with self._sessions.begin() as session:
            event, text_ = self._event(session, doc_id, event_id)
            start, end = _check_span(start, end, text_, "span")
            argument = EventArgumentRow(role=role, start=start, end=end, score=None, origin="analyst")
            self._touch(argument, reviewer)
            event.arguments.append(argument)
            self._touch(event, reviewer)
            return self._answer(session, event, text_)

    def update_argument(self, doc_id: int, event_id: int, argument_id: int, *, role: str, reviewer: str) -> EventView:
        """Change an argument's role (it and its event become ``accepted``); the event is returned."""
        reviewer = _reviewer_name(reviewer)
        _check_choice(role, ARGUMENT_ROLES, "role")
        with self._sessions.begin() as session:
            event, text_ = self._event(session, doc_id, event_id)
            argument = self._argument(event, doc_id, argument_id)
            argument.role = role
            self._touch(argument, reviewer)
            self._touch(event, reviewer)
            return self._answer(session, event, text_)

    def delete_argument(self, doc_id: int, event_id: int, argument_id: int, *, reviewer: str) -> EventView:
        """Mark an argument ``deleted`` (its event becomes ``accepted``: reviewed); the event is returned."""
        reviewer = _reviewer_name(reviewer)
        with self._sessions.begin() as session:
            event, text_ = self._event(session, doc_id, event_id)
            argument = self._argument(event, doc_id, argument_id)
            self._touch(argument, reviewer, "deleted")
            if event.state != "deleted":
                self._touch(event, reviewer)
            return self._answer(session, event, text_)

    # -- exports -------------------------------------------------------------------------------
    def export_document(self, doc_id: int, fmt: str) -> Export:
        """The document with its effective labels (reviews applied) in any format of the export registry."""
        try:
            export_format = get_format(fmt)
        except ValueError as exc:
            raise ValidationError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}") from exc
        with self._sessions() as session:
            row = self._load(session, doc_id)
            name, created = row.name, row.created_at
            tagged = _tagged(row)
        content = export_string([tagged], export_format.name, created=created)
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.rsplit(".", 1)[0])[:60] or "document"
        return Export(content, export_format.media_type, f"{stem}-{doc_id}.{export_format.extension}")

    def export_reviewed_corpus(self) -> str:
        """Every reviewed sentence in the corpus training format, one block per document, blank-line separated."""
        with self._sessions() as session:
            documents = reviewed_documents(session)
        return "\n".join(format_document(doc) for doc in documents)

    def export_reviewed_events(self) -> str:
        """JSON Lines, one object per document with reviewed sentences or reviewed events: ``document_id``,
        ``name``, its reviewed ``sentences`` (index, offsets, text, labels, predicted) and every event an analyst
        touched, in the shape of ``GET /v1/documents/{id}`` (deleted ones included, ``state`` says which)."""
        with self._sessions() as session:
            doc_ids = session.scalars(
                select(SentenceRow.document_id)
                .where(SentenceRow.reviewed.is_(True))
                .union(select(EventRow.document_id).where(EventRow.reviewer.is_not(None)))
            ).all()
            lines = []
            for doc_id in sorted(set(doc_ids)):
                row = self._load(session, doc_id)
                sentences = [
                    {
                        "index": s.index,
                        "start": s.start,
                        "end": s.end,
                        "text": s.text,
                        "labels": list(s.labels),
                        "predicted": list(s.predicted),
                    }
                    for s in row.sentences
                    if s.reviewed
                ]
                events = [_event_view(e, row.text).model_dump(mode="json") for e in row.events if e.reviewer]
                record = {"document_id": row.id, "name": row.name, "sentences": sentences, "events": events}
                lines.append(json.dumps(record, ensure_ascii=False))
        return "".join(line + "\n" for line in lines)

    # -- health --------------------------------------------------------------------------------
    def database_ok(self) -> bool:
        try:
            with self._sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception:  # any driver error means "not reachable"
            return False
        return True

    def is_ready(self) -> bool:
        """Model loaded and database reachable."""
        return self.model is not None and self.database_ok()
