"""Turn a report (text, HTML, PDF, DOCX) into a document of sentences with character offsets.

INTERFACE STUB: the real extractors and sentence splitter replace the internals; the public names
and signatures below are the contract other modules rely on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_MAX_BYTES = 20 * 1024 * 1024


class IngestError(Exception):
    """Input that cannot be turned into a document; the message is meant for the user."""


class UnsupportedFormatError(IngestError):
    pass


class TooLargeError(IngestError):
    pass


class EmptyDocumentError(IngestError):
    pass


class DecodeError(IngestError):
    pass


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


@dataclass
class IngestedDocument:
    name: str
    text: str
    sentences: list[Span]
    format: str = "text"
    title: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.sentences]


def split_sentences(text: str) -> list[Span]:
    spans = []
    for m in re.finditer(r"[^\n.!?]+[.!?]*", text):
        raw = m.group(0)
        stripped = raw.strip()
        if stripped:
            start = m.start() + raw.index(stripped)
            spans.append(Span(start, start + len(stripped), stripped))
    return spans


def ingest_text(text: str, *, name: str = "text", title: str | None = None) -> IngestedDocument:
    if title and not text.lstrip().startswith(title.strip()):
        text = f"{title.strip()}\n\n{text}"
    sentences = split_sentences(text)
    if not sentences:
        raise EmptyDocumentError(f"{name}: no text found")
    return IngestedDocument(name, text, sentences, "text", title)


def ingest_path(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> IngestedDocument:
    path = Path(path)
    data = path.read_bytes()
    return ingest_bytes(data, name=path.name, max_bytes=max_bytes)


def ingest_bytes(data: bytes, *, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> IngestedDocument:
    if len(data) > max_bytes:
        raise TooLargeError(f"{name}: {len(data)} bytes is over the limit of {max_bytes}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"{name}: text does not decode as UTF-8") from None
    return ingest_text(text, name=name)
