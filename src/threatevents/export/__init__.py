"""Every output format of threatevents in one registry: JSONL, CSV, the corpus training format, a standalone
HTML page, STIX 2.1, and the structured events as CSV (one row per argument) and CASIE JSON. Each writer takes
documents as lists of :class:`~threatevents.tagging.TaggedSentence`.

Public API::

    FORMATS: dict[str, ExportFormat]          # name -> writer, media type, file extension, streamable
    get_format(name) -> ExportFormat         # ValueError naming the choices for an unknown name
    export(docs, fmt, out, *, created=None, continued=False) -> None
    export_string(docs, fmt, *, created=None) -> str

A *streamable* format's output for several documents is the outputs of each document (or batch of documents)
written one after another: ``continued=True`` says the stream was already started (CSV then writes no header
line, the corpus format a blank line first). A format that is not streamable writes one whole thing for the run
(one HTML page, one STIX bundle holding a report per document); the CLI's ``-o DIR`` writes one file per input
document in every format.

``created`` stamps what a format dates (the STIX objects); default now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TextIO

from .eventfmt import write_casie, write_events_csv
from .page import write_html
from .tabular import write_corpus_text, write_csv, write_jsonl

if TYPE_CHECKING:
    from ..tagging import TaggedSentence

Documents = Sequence[Sequence["TaggedSentence"]]


class Writer(Protocol):
    def __call__(
        self, docs: Documents, out: TextIO, *, created: datetime | None = None, continued: bool = False
    ) -> None: ...


def write_stix(docs: Documents, out: TextIO, *, created: datetime | None = None, continued: bool = False) -> None:
    """One STIX 2.1 bundle holding a report per document (``stix2`` is imported on first use: it is slow to load)."""
    from .stix import to_stix_json

    out.write(to_stix_json(docs, created=created) + "\n")


@dataclass(frozen=True)
class ExportFormat:
    """An output format: its writer, the media type and file extension of what it writes, and whether it
    streams (see the module docstring)."""

    name: str
    description: str
    media_type: str
    extension: str
    streamable: bool
    write: Writer


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("jsonl", "one JSON record per sentence", "application/x-ndjson", "jsonl", True, write_jsonl),
        ExportFormat("csv", "one row per sentence", "text/csv", "csv", True, write_csv),
        ExportFormat("corpus", "the training format (sentence | labels)", "text/plain", "txt", True, write_corpus_text),
        ExportFormat("html", "one standalone page", "text/html", "html", False, write_html),
        ExportFormat(
            "stix", "one STIX 2.1 bundle, a report per document", "application/json", "stix.json", False, write_stix
        ),
        ExportFormat(
            "events-csv",
            "one row per event argument (and per event without)",
            "text/csv",
            "events.csv",
            True,
            write_events_csv,
        ),
        ExportFormat(
            "casie",
            "CASIE-shaped JSON of the events: an object for one document, an array for several",
            "application/json",
            "casie.json",
            False,
            write_casie,
        ),
    )
}
FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)


def get_format(name: str) -> ExportFormat:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; choose from {', '.join(FORMATS)}") from None


def export(docs: Documents, fmt: str, out: TextIO, *, created: datetime | None = None, continued: bool = False) -> None:
    """Write tagged documents to ``out`` in format ``fmt`` (a name of :data:`FORMATS`)."""
    get_format(fmt).write(docs, out, created=created, continued=continued)


def export_string(docs: Documents, fmt: str, *, created: datetime | None = None) -> str:
    import io

    buffer = io.StringIO()
    export(docs, fmt, buffer, created=created)
    return buffer.getvalue()


__all__ = ["FORMATS", "FORMAT_NAMES", "ExportFormat", "Writer", "export", "export_string", "get_format"]
