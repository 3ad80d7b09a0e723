"""The line-oriented formats: JSONL records, CSV rows (safe to open in a spreadsheet) and the corpus training format."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from ..corpus import Document, Sentence, format_document
from ..labels import ALL_LABELS

if TYPE_CHECKING:
    from ..tagging import TaggedSentence

CSV_COLUMNS = [
    "document",
    "index",
    "start",
    "end",
    "paragraph",
    "text",
    "labels",
    "predicted",
    "reviewer",
    "indicators",
    *(f"score_{x}" for x in ALL_LABELS),
]
#: A cell starting with one of these is read as a formula by spreadsheets (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` made inert for a spreadsheet: text starting with ``= + - @``, a tab or a carriage return gets a
    leading single quote (OWASP's advice), so it shows as text and is never run as a formula. Numbers pass as is."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class SafeCsvWriter:
    """A :func:`csv.writer` whose every cell goes through :func:`safe_cell`: every CSV the project writes uses it.

    Rows end in CRLF (RFC 4180): with that terminator the writer also quotes a cell holding a lone carriage
    return, which a ``\n`` terminator leaves bare (and a reader then splits the row)."""

    def __init__(self, out: TextIO) -> None:
        self._writer = csv.writer(out, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def write_jsonl(
    docs: Sequence[Sequence[TaggedSentence]], out: TextIO, *, created: datetime | None = None, continued: bool = False
) -> None:
    for tagged in docs:
        for s in tagged:
            out.write(json.dumps(s.to_record(), ensure_ascii=False) + "\n")


def _indicator_cell(s: TaggedSentence) -> str:
    """``type:value@start-end`` (document offsets) for each indicator of the sentence, ``; ``-separated."""
    return "; ".join(f"{i.type}:{i.value}@{i.start}-{i.end}" for i in s.indicators)


def write_csv(
    docs: Sequence[Sequence[TaggedSentence]], out: TextIO, *, created: datetime | None = None, continued: bool = False
) -> None:
    """One row per sentence (a header first unless ``continued``); ``labels`` are the effective labels,
    ``predicted`` the model's, ``reviewer`` who reviewed the sentence (empty when no one did)."""
    writer = SafeCsvWriter(out)
    if not continued:
        writer.writerow(CSV_COLUMNS)
    for tagged in docs:
        for s in tagged:
            writer.writerow(
                [
                    s.document,
                    s.index,
                    s.start,
                    s.end,
                    s.paragraph,
                    s.text,
                    ";".join(s.labels),
                    ";".join(s.predicted),
                    s.review.reviewer if s.review else "",
                    _indicator_cell(s),
                    *(f"{s.scores[x]:.4f}" for x in ALL_LABELS),
                ]
            )


def to_corpus_document(tagged: Sequence[TaggedSentence], doc_id: str) -> Document:
    return Document(doc_id, [Sentence(" ".join(s.text.split()), s.labels) for s in tagged if s.text.strip()])


def write_corpus_text(
    docs: Sequence[Sequence[TaggedSentence]], out: TextIO, *, created: datetime | None = None, continued: bool = False
) -> None:
    """The training format; several documents are separated by a blank line (read them one per file)."""
    for i, tagged in enumerate(docs):
        if i or continued:
            out.write("\n")
        out.write(format_document(to_corpus_document(tagged, tagged[0].document if tagged else "doc")))
