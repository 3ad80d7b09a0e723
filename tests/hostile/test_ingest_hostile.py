"""Hostile files for ingestion: each ends in a clean :class:`IngestError` or a document, never another
exception, within a memory and a time bound (issues 10 and 11).

Memory is Python's peak allocation while the file is ingested (``tracemalloc``; zlib's output buffers
are Python bytes, so an inflated bomb shows), time is wall-clock. The files are built here, small on disk.
"""

from __future__ import annotations

import gzip
import io
import struct
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from pdf_samples import flate_bomb
from test_ingest import BODY, _zip
from test_ingest_pdf_docx import _encrypted_pdf, lying_docx, make_docx, make_pdf
from threatevents.ingest import (
    DecodeError,
    IngestedDocument,
    IngestError,
    TooLargeError,
    UnsupportedFormatError,
    ingest_bytes,
)

pytestmark = pytest.mark.hostile

MAX_PEAK_BYTES = 64 << 20
MAX_SECONDS = 60.0


@dataclass
class Outcome:
    result: IngestedDocument | IngestError
    peak: int
    seconds: float


def ingest_bounded(data: bytes, name: str) -> Outcome:
    """Ingest ``data``; fail the test on any exception but an IngestError, or past the bounds."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result: IngestedDocument | IngestError = ingest_bytes(data, name=name)
    except IngestError as exc:
        result = exc
    finally:
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"{name}: peak {peak:,} bytes"
    assert seconds < MAX_SECONDS, f"{name}: {seconds:.1f} s"
    if isinstance(result, IngestError):
        assert str(result).startswith(f"{name}: "), result
    return Outcome(result, peak, seconds)


def _patch_member(data: bytes, member: str, edit: Callable[[bytearray, int, int], None]) -> bytes:
    """Apply ``edit(buffer, local_header_offset, central_entry_offset)`` to one member's two headers."""
    buf = bytearray(data)
    local = zipfile.ZipFile(io.BytesIO(data)).getinfo(member).header_offset
    central = buf.find(b"PK\x01\x02")
    while buf[central + 46 : central + 46 + len(member)] != member.encode():
        central = buf.find(b"PK\x01\x02", central + 4)
    edit(buf, local, central)
    return bytes(buf)


def _set_flag(bit: int) -> Callable[[bytearray, int, int], None]:
    def edit(buf: bytearray, local: int, central: int) -> None:
        buf[local + 6] |= bit
        buf[central + 8] |= bit

    return edit


def _set_method(method: int) -> Callable[[bytearray, int, int], None]:
    def edit(buf: bytearray, local: int, central: int) -> None:
        struct.pack_into("<H", buf, local + 8, method)
        struct.pack_into("<H", buf, central + 10, method)

    return edit


def test_docx_whose_header_lies_about_a_gigabyte_is_refused_within_a_chunk() -> None:
    # The file: word/document.xml declares 4,000 bytes and inflates to 1 GiB (2.3 GB RSS before).
    data = lying_docx(1 << 30)
    outcome = ingest_bounded(data, "liar.docx")
    assert isinstance(outcome.result, TooLargeError), outcome.result
    assert "inflates past the 4,000 bytes its header declares" in str(outcome.result)
    assert outcome.peak < 16 << 20 and outcome.seconds < 5


def test_docx_bomb_with_an_honest_header_is_refused_before_inflating() -> None:
    outcome = ingest_bounded(
        _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b" " * (90 << 20)}), "b.docx"
    )
    assert isinstance(outcome.result, TooLargeError) and "compressed" in str(outcome.result)


def test_docx_with_thousands_of_parts_is_refused() -> None:
    members = {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}
    members.update({f"word/media/{i}.bin": b"" for i in range(5_100)})
    outcome = ingest_bounded(_zip(members), "parts.docx")
    assert isinstance(outcome.result, TooLargeError) and "parts" in str(outcome.result)


@pytest.mark.parametrize(
    ("edit", "why"),
    [(_set_flag(0x1), "encrypted member"), (_set_method(99), "AES/unknown compression"), (_set_method(12), "bzip2")],
)
def test_docx_member_that_zipfile_cannot_inflate_is_a_clear_error(
    edit: Callable[[bytearray, int, int], None], why: str
) -> None:
    data = _patch_member(make_docx(BODY), "word/document.xml", edit)
    outcome = ingest_bounded(data, "odd.docx")
    assert isinstance(outcome.result, DecodeError), (why, outcome.result)


def test_docx_member_that_declares_more_than_it_holds_is_read_or_refused_cleanly() -> None:
    def inflate_declared(buf: bytearray, local: int, central: int) -> None:
        struct.pack_into("<I", buf, local + 22, 90_000)
        struct.pack_into("<I", buf, central + 24, 90_000)

    data = _patch_member(make_docx(BODY), "word/document.xml", inflate_declared)
    outcome = ingest_bounded(data, "short.docx")
    assert isinstance(outcome.result, IngestedDocument | IngestError)


def test_truncated_docx_is_a_clear_error() -> None:
    data = make_docx(BODY)
    outcome = ingest_bounded(data[: len(data) // 2], "cut.docx")
    assert isinstance(outcome.result, UnsupportedFormatError | DecodeError), outcome.result


def test_zip_bomb_that_is_not_a_docx_is_refused_without_inflating() -> None:
    data = lying_docx(256 << 20)
    renamed = data.replace(b"[Content_Types].xml", b"[Content_Types].xmm")
    outcome = ingest_bounded(renamed, "archive.zip")
    assert isinstance(outcome.result, UnsupportedFormatError) and outcome.peak < 4 << 20


def test_gzip_bomb_is_refused_without_inflating() -> None:
    outcome = ingest_bounded(gzip.compress(b" " * (64 << 20), compresslevel=1), "page.html.gz")
    assert isinstance(outcome.result, UnsupportedFormatError) and outcome.peak < 4 << 20


def test_pdf_flate_bomb_is_refused() -> None:
    outcome = ingest_bounded(flate_bomb(make_pdf([BODY[0]]), 200), "bomb.pdf")
    assert isinstance(outcome.result, TooLargeError)


def test_pdf_that_needs_a_password_is_refused_as_password_protected() -> None:
    outcome = ingest_bounded(_encrypted_pdf("secret", "AES-256"), "locked.pdf")
    assert isinstance(outcome.result, IngestError) and "password-protected" in str(outcome.result)


def test_aes_pdf_without_a_user_password_is_read() -> None:
    outcome = ingest_bounded(_encrypted_pdf("", "AES-256"), "aes.pdf")
    assert isinstance(outcome.result, IngestedDocument) and BODY[0] in outcome.result.texts


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("The C2 at 10.20.30[.]40 reached hxxp://evil[.]com/a.php and 1.2.3. " * 10_000, 10_000),
        ("1[.]" * 250_000, 1),  # one megabyte-long defanged token
        ("a.b" * 300_000, 1),
        ("[.] (.) {.} " * 50_000, None),  # no sentence end: cut into chunks of MAX_CHUNK_CHARS
    ],
)
def test_text_dense_with_defanged_tokens_is_split_in_bounded_time(text: str, sentences: int | None) -> None:
    outcome = ingest_bounded(text.encode(), "iocs.txt")
    assert isinstance(outcome.result, IngestedDocument)
    assert sentences is None or len(outcome.result.sentences) == sentences
    assert outcome.seconds < 30


def test_html_read_even_when_trafilatura_cannot_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    page = b"<html><head><title>Leak</title></head><body><p>Hackers stole the files of 9 firms.</p></body></html>"
    outcome = ingest_bounded(page, "leak.html")
    assert isinstance(outcome.result, IngestedDocument) and outcome.result.texts[-1].startswith("Hackers")
