"""What ingestion produces (:class:`IngestedDocument` of :class:`Span`) and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MAX_BYTES = 20 * 1024 * 1024


class IngestError(Exception):
    """Input that cannot be turned into a document; the message is meant for the user."""


class UnsupportedFormatError(IngestError):
    """The bytes are not plain text, HTML, PDF or DOCX (an API answers 415 for this one)."""


class TooLargeError(IngestError):
    """The file, or what it expands to (a ZIP or PDF bomb), is over a size limit."""


class EmptyDocumentError(IngestError):
    """Extraction worked but left no text to split into sentences."""


class DecodeError(IngestError):
    """Text that is not UTF-8 / UTF-16, or a file of a known format that its reader cannot open."""


@dataclass(frozen=True)
class Span:
    """A sentence: ``text == document.text[start:end]``."""

    start: int
    end: int
    text: str


@dataclass
class IngestedDocument:
    """The extracted, whitespace-normalised text of a report and its sentences.

    ``format`` is ``text``, ``html``, ``pdf`` or ``docx``; ``title`` is the document's title when the
    format has one (an HTML page's or a caller's title also starts the text as its own paragraph; a PDF's
    or DOCX's metadata title is not part of the text); ``meta`` holds extra facts such
    as ``truncated`` when a PDF or DOCX was cut at the character budget.
    """

    name: str
    text: str
    sentences: list[Span]
    format: str = "text"
    title: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.sentences]
