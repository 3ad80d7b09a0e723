"""Pydantic shapes of what the service returns (and accepts); the API and the review page share them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..indicators import Indicator
from ..tagging import TaggedSentence

MAX_TEXT_CHARS = 2_000_000
MAX_ID = 2**31 - 1  # ids, indexes and offsets are 32-bit integers in every backend
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


class TaggedDocumentView(BaseModel):
    """The tagged sentences of one text: each is the JSONL record of ``threatevents tag`` (the domain type
    :class:`~threatevents.tagging.TaggedSentence` itself, indicators with document offsets)."""

    sentences: list[TaggedSentence]


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
