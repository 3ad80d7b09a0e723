"""Turn a report (plain text, HTML, PDF, DOCX) into a document of sentences with character offsets.

The format is decided from the bytes (:func:`detect_format`), never the file name. Each format has
its extractor (trafilatura for HTML, pypdf for PDF, python-docx for DOCX; imported only when needed);
the extracted text is normalised (:func:`normalize_text`: single spaces, ``\\n`` line ends, at most one
blank line), starts with the title as its own paragraph when the page has one (HTML) or the caller gives
one (a PDF's or DOCX's metadata title is kept in ``title`` only: it is not part of the body), and is split into
sentences (:func:`split_sentences`) whose offsets index that normalised text:
``doc.text[s.start:s.end] == s.text``. Bad input raises an :class:`IngestError` subclass whose
message names the file and the problem. :func:`check_extractors` imports every extractor at once, for
programs to call at start-up so that a broken install fails there rather than on each file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .document import (
    DEFAULT_MAX_BYTES,
    DecodeError,
    EmptyDocumentError,
    IngestedDocument,
    IngestError,
    Span,
    TooLargeError,
    UnsupportedFormatError,
)
from .extractors import ExtractorUnavailableError, check_extractors
from .sentences import normalize_text, split_sentences
from .sniff import INPUT_FORMATS, decode_text, detect_format

log = logging.getLogger(__name__)

# More sentences than any report has; a file of millions of one-word lines is cut here, not split whole.
MAX_SENTENCES = 200_000

__all__ = [
    "DEFAULT_MAX_BYTES",
    "INPUT_FORMATS",
    "DecodeError",
    "EmptyDocumentError",
    "ExtractorUnavailableError",
    "IngestError",
    "IngestedDocument",
    "Span",
    "TooLargeError",
    "UnsupportedFormatError",
    "check_extractors",
    "detect_format",
    "ingest_bytes",
    "ingest_path",
    "ingest_text",
    "normalize_text",
    "split_sentences",
]


def _starts_with(text: str, title: str) -> bool:
    """Does the text's first line already say the title (case and spacing aside)?"""
    first = text.split("\n", 1)[0]
    return " ".join(first.split()).casefold().startswith(" ".join(title.split()).casefold())


def ingest_text(
    text: str,
    *,
    name: str = "text",
    title: str | None = None,
    format: str = "text",
    meta: dict[str, str] | None = None,
    title_in_text: bool = True,
) -> IngestedDocument:
    """Normalise ``text``, put ``title`` first unless the text starts with it, and split it into sentences.

    With ``title_in_text=False`` the title is only the document's ``title`` (a PDF's or DOCX's metadata,
    which a reader of the body never sees), not a sentence. Raises :class:`EmptyDocumentError` when no
    sentence is left.
    """
    text = normalize_text(text)
    title = normalize_text(title).replace("\n", " ") if title else None
    if title and title_in_text and not _starts_with(text, title):
        text = f"{title}\n\n{text}" if text else title
    meta = dict(meta or {})
    sentences = split_sentences(text, limit=MAX_SENTENCES)
    if len(sentences) == MAX_SENTENCES and sentences[-1].end < len(text.rstrip()):
        meta["truncated"] = f"stopped at {MAX_SENTENCES:,} sentences (character {sentences[-1].end:,} of {len(text):,})"
        log.warning("%s: %s", name, meta["truncated"])
    if not sentences:
        hint = " (a scanned PDF has no text layer: run OCR on it first)" if format == "pdf" else ""
        raise EmptyDocumentError(f"{name}: no text found in this {format} document{hint}")
    return IngestedDocument(name, text, sentences, format, title or None, meta)


def ingest_bytes(data: bytes, *, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> IngestedDocument:
    """Detect the format of ``data``, extract its text and split it into sentences.

    Raises :class:`TooLargeError` over ``max_bytes`` (or when a PDF/DOCX would expand past its
    limits), :class:`UnsupportedFormatError`, :class:`DecodeError` or :class:`EmptyDocumentError`;
    every message starts with ``name``.
    """
    if len(data) > max_bytes:
        raise TooLargeError(f"{name}: {len(data):,} bytes is over the limit of {max_bytes:,} bytes")
    if not data.strip():
        raise EmptyDocumentError(f"{name}: the file is empty")
    try:
        fmt = detect_format(data)
        if fmt == "pdf":
            from .pdf import extract_pdf

            pdf = extract_pdf(data)
            return ingest_text(pdf.text, name=name, title=pdf.title, format=fmt, meta=pdf.meta, title_in_text=False)
        if fmt == "docx":
            from .docx import extract_docx

            docx = extract_docx(data)
            return ingest_text(docx.text, name=name, title=docx.title, format=fmt, meta=docx.meta, title_in_text=False)
        html = fmt == "html"
        text = decode_text(data, html=html)
        if html:
            from .html import extract_html

            title, text = extract_html(text)
            return ingest_text(text, name=name, title=title, format=fmt)
        return ingest_text(text, name=name, format=fmt)
    except IngestError as exc:
        message = str(exc)
        if message.startswith(f"{name}: "):
            raise
        raise type(exc)(f"{name}: {message}") from None


def ingest_path(path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES, name: str | None = None) -> IngestedDocument:
    """Read a file (refusing it before reading when it is over ``max_bytes``) and ingest it.

    The document (and every error message) is named ``name``, by default the file name.
    """
    path = Path(path)
    name = name or path.name
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TooLargeError(f"{name}: {size:,} bytes is over the limit of {max_bytes:,} bytes")
        if not path.is_file():
            raise IngestError(f"{name}: not a regular file")
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{name}: cannot read the file ({exc.strerror or exc})") from None
    return ingest_bytes(data, name=name, max_bytes=max_bytes)
