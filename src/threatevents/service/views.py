"""Pydantic shapes of what the service returns (and accepts); the API and the review page share them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StrictBool, field_validator, model_validator

from ..indicators import Indicator
from ..labels import ARGUMENT_ROLES, EVENT_LABELS, REALIS
from ..tagging import TaggedSentence

MAX_TEXT_CHARS = 2_000_000
MAX_ID = 2**31 - 1  # ids, indexes and offsets are 32-bit integers in every backend
MAX_EVENT_ARGUMENTS = 64  # arguments given with a new event
if TYPE_CHECKING:
    EventType = str
    Realis = str
    Role = str
else:  # the schema's names, so that OpenAPI lists them and anything else is a 422 naming the field
    EventType = Literal[EVENT_LABELS]
    Realis = Literal[REALIS]
    Role = Literal[ARGUMENT_ROLES]
EventState = Literal["proposed", "accepted", "deleted"]
EventOrigin = Literal["model", "analyst"]
_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: object) -> str | None:
    """The first lone UTF-16 surrogate in ``value`` (a string, or strings inside lists and dicts), else ``None``.

    JSON may spell one (``"\\ud800"``) and Python then holds a string that cannot be encoded as UTF-8: storing,
    splitting or answering with it fails. Requests carrying one are refused."""
    if isinstance(value, str):
        match = _SURROGATE.search(value)
        return match.group() if match else None
    if isinstance(value, list | tuple):
        return next((found for item in value if (found := lone_surrogate(item)) is not None), None)
    if isinstance(value, dict):
        return next(
            (found for item in (*value.keys(), *value.values()) if (found := lone_surrogate(item)) is not None), None
        )
    return None


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are refused, and so is text that is not valid Unicode."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        char = lone_surrogate(value)
        if char is not None:
            raise ValueError(f"contains a lone UTF-16 surrogate (U+{ord(char):04X}), which is not valid Unicode text")
        return value


class TagRequest(RequestModel):
    """Raw text to tag; ``title`` (optional) is prepended as its own paragraph when the text lacks it."""

    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    title: str | None = Field(default=None, max_length=1000)


class TagBatchRequest(RequestModel):
    """Texts to tag in one call; how many at most is a setting (``max_batch``), checked by the workbench."""

    items: list[TagRequest] = Field(min_length=1)


class DocumentCreate(TagRequest):
    """A document given as text; ``name`` defaults to the title or ``text``."""

    name: str | None = Field(default=None, min_length=1, max_length=255)


class ReviewRequest(RequestModel):
    """``accept`` = the prediction is right (leave ``labels`` out); else ``labels`` is the corrected set:
    any event labels, or ``["O"]`` / ``[]`` for none."""

    accept: bool
    labels: list[str] | None = Field(default=None, max_length=6)
    reviewer: str = Field(min_length=1, max_length=200)


class SpanIn(RequestModel):
    """Characters ``[start, end)`` of the document text (``end`` > ``start``, both inside the document)."""

    start: int = Field(ge=0, le=MAX_ID)
    end: int = Field(ge=1, le=MAX_ID)

    @model_validator(mode="after")
    def _not_empty(self) -> SpanIn:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be greater than start ({self.start})")
        return self


class ArgumentCreate(SpanIn):
    """A new argument of an event: its role and span. ``reviewer`` defaults to ``analyst``."""

    role: Role
    reviewer: str | None = Field(default=None, min_length=1, max_length=200)


class NewArgument(SpanIn):
    """An argument given with a new event."""

    role: Role


class EventCreate(RequestModel):
    """A new event an analyst found: type, realis, trigger span (inside one sentence) and optional arguments."""

    type: EventType
    realis: Realis = "Actual"
    trigger: SpanIn
    arguments: list[NewArgument] = Field(default_factory=list, max_length=MAX_EVENT_ARGUMENTS)
    suggest_arguments: StrictBool = Field(
        default=False,
        description="the model also finds the trigger's arguments, stored as its proposals (origin model, state "
        "proposed) for review; a model without an event extractor suggests none",
    )
    reviewer: str | None = Field(default=None, min_length=1, max_length=200)


class EventUpdate(RequestModel):
    """A correction of an event: a new ``type`` and/or ``realis``, or ``state: "accepted"`` to confirm it (also
    restores a deleted event). Any change marks the event accepted by the reviewer."""

    type: EventType | None = None
    realis: Realis | None = None
    state: Literal["accepted"] | None = None
    reviewer: str | None = Field(default=None, min_length=1, max_length=200)


class ArgumentUpdate(RequestModel):
    """A new role for an argument."""

    role: Role
    reviewer: str | None = Field(default=None, min_length=1, max_length=200)


class TriggerView(BaseModel):
    start: int
    end: int
    text: str


class EventArgumentView(BaseModel):
    """An argument of a stored event, with its review state (``deleted`` ones are kept and shown as such)."""

    id: int
    role: str
    start: int
    end: int
    text: str
    score: float | None
    state: EventState
    origin: EventOrigin
    reviewer: str | None
    reviewed_at: datetime | None


class EventView(BaseModel):
    """A stored event: ``sentence`` is the index of the sentence holding its trigger, offsets are into the document
    text. ``state`` is ``proposed`` (by the model, unreviewed), ``accepted`` (confirmed, corrected or added by
    ``reviewer`` at ``reviewed_at``) or ``deleted``."""

    id: int
    sentence: int
    type: str
    realis: str
    score: float | None
    trigger: TriggerView
    arguments: list[EventArgumentView]
    state: EventState
    origin: EventOrigin
    reviewer: str | None
    reviewed_at: datetime | None


def _records(sentences: list[TaggedSentence]) -> list[dict[str, Any]]:
    """Answer each sentence as its JSONL record (events as ``Event.to_record()``), not field by field: pydantic
    would otherwise write the event dataclasses' internal fields (hopper, CASIE attributes...)."""
    return [sentence.to_record() for sentence in sentences]


class TaggedDocumentView(BaseModel):
    """The tagged sentences of one text: each is the JSONL record of ``threatevents tag`` (the domain type
    :class:`~threatevents.tagging.TaggedSentence` itself, indicators with document offsets)."""

    sentences: Annotated[
        list[TaggedSentence],
        PlainSerializer(_records, return_type=list[dict[str, Any]]),
        Field(description="`threatevents tag` JSONL records; their `events` follow docs/events.md's record schema."),
    ]


class TagBatchResponse(BaseModel):
    items: list[TaggedDocumentView]


class ReviewView(BaseModel):
    labels: list[str]
    accepted: bool
    reviewer: str
    created_at: datetime


class SentenceView(BaseModel):
    """A stored sentence. ``labels`` are the effective labels: the latest review's, else ``predicted``."""

    index: int
    start: int
    end: int
    text: str
    predicted: list[str]
    scores: dict[str, float]
    indicators: list[Indicator]
    review: ReviewView | None
    labels: list[str]
    history: list[ReviewView]


class DocumentSummary(BaseModel):
    """A row of the document list; ``event_counts`` counts sentences per event label (effective labels)."""

    id: int
    name: str
    title: str | None
    format: str
    created_at: datetime
    n_sentences: int
    n_reviewed: int
    event_counts: dict[str, int]


class DocumentPage(BaseModel):
    items: list[DocumentSummary]
    total: int
    offset: int
    limit: int


class DocumentCounts(BaseModel):
    """Review progress of one document: ``label_counts`` has every label of the schema, ``O`` (no event)
    included and zeros kept, counting sentences by their effective labels."""

    n_sentences: int
    n_reviewed: int
    label_counts: dict[str, int]


class PageReviewView(ReviewView):
    """What the review page's script gets back for a review: the review plus the document's new counts."""

    counts: DocumentCounts


class DocumentView(BaseModel):
    """One stored document. ``event_counts`` counts sentences per event label (events only, zeros left out);
    ``label_counts`` counts every label, ``O`` included, zeros kept."""

    id: int
    name: str
    title: str | None
    format: str
    created_at: datetime
    text: str
    event_counts: dict[str, int]
    label_counts: dict[str, int]
    indicators: list[Indicator]
    sentences: list[SentenceView]
    events: list[EventView] = Field(default_factory=list)

    @property
    def n_reviewed(self) -> int:
        return sum(1 for s in self.sentences if s.review is not None)


class JobView(BaseModel):
    """A background job: ``queued``, ``running``, ``done`` (``document_id``/``document_url`` name the stored
    document) or ``failed`` (``error`` says why). ``tagged`` of ``sentences`` are done."""

    id: str
    status: str
    sentences: int
    tagged: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    document_id: int | None
    document_url: str | None
    error: str | None


class Alive(BaseModel):
    status: str


class Health(BaseModel):
    status: str
    model: bool
    database: bool


class ErrorBody(BaseModel):
    """An error: a message, or (422 from request validation) FastAPI's list of field errors."""

    detail: str | list[dict[str, Any]]
