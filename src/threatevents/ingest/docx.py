"""Text of a DOCX with python-docx, after checking the ZIP container is not a bomb.

Before python-docx reads anything, :func:`check_zip` looks at every member's declared uncompressed
size and refuses archives with too many members, a member or a total over the size limits, or a big
member with an extreme compression ratio. A header can lie (declare 4,000 bytes for a member that
inflates to a gigabyte, which ``zipfile.ZipFile.read`` would inflate whole in one call), so every member
is then inflated through a counting stream in :data:`CHUNK_BYTES` pieces, whatever its header says: one
that inflates past its declared size is refused as soon as it does, with no more than a chunk in memory.
Paragraphs and table cells are read in document order, one per line, up to a character budget.
"""

from __future__ import annotations

import copy
import io
import logging
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from .document import DecodeError, IngestError, TooLargeError
from .pdf import MAX_CHARS, meaningful_title

log = logging.getLogger(__name__)

MAX_MEMBERS = 5_000
MAX_MEMBER_BYTES = 100 * 1024 * 1024
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_RATIO = 200
_RATIO_CHECKED_FROM = 1024 * 1024  # small members may compress very well; only big ones are checked
CHUNK_BYTES = 64 * 1024


@dataclass
class DocxText:
    title: str | None
    text: str
    meta: dict[str, str] = field(default_factory=dict)


def check_zip(data: bytes) -> None:
    """Raise :class:`TooLargeError` when the archive would inflate past the limits above.

    Declared sizes are checked first (cheap), then every member is inflated through
    :func:`inflate_capped`, so a member whose header lies is refused too; :class:`DecodeError` for a
    damaged archive.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DecodeError(f"cannot read this DOCX (damaged ZIP: {exc})") from None
    if len(members) > MAX_MEMBERS:
        raise TooLargeError(f"the DOCX has {len(members)} parts (limit {MAX_MEMBERS})")
    total = 0
    for info in members:
        size = info.file_size
        total += size
        if size > MAX_MEMBER_BYTES:
            raise TooLargeError(f"DOCX part {info.filename!r} expands to {size} bytes (limit {MAX_MEMBER_BYTES})")
        if size >= _RATIO_CHECKED_FROM and size > MAX_RATIO * max(info.compress_size, 1):
            raise TooLargeError(
                f"DOCX part {info.filename!r} is compressed {size // max(info.compress_size, 1)}:1 (a ZIP bomb?)"
            )
    if total > MAX_TOTAL_BYTES:
        raise TooLargeError(f"the DOCX expands to {total} bytes (limit {MAX_TOTAL_BYTES})")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in members:
            inflate_capped(archive, info)


def inflate_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, chunk: int = CHUNK_BYTES) -> int:
    """Inflate one member in chunks, counting, and return its size; refuse it past its declared size.

    ``zipfile`` trusts the header's size: it stops there and then fails the CRC check, but only after
    ``read()`` has inflated everything in one piece. Here the member is opened with a size just over the
    limit, so the real output is counted chunk by chunk and a lying header is caught within a chunk.
    Raises :class:`TooLargeError` for a lie, :class:`DecodeError` for a damaged or unreadable member.
    """
    probe = copy.copy(info)
    probe.file_size = MAX_MEMBER_BYTES + 1  # never read more than this whatever the stream holds
    size = 0
    try:
        with archive.open(probe) as stream:
            while piece := stream.read(chunk):
                size += len(piece)
                if size > info.file_size:
                    raise TooLargeError(
                        f"DOCX part {info.filename!r} inflates past the {info.file_size:,} bytes its header "
                        "declares (a ZIP bomb?)"
                    )
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise DecodeError(f"cannot read this DOCX (damaged part {info.filename!r}: {exc})") from None
    return size


def _blocks(document: object) -> Iterator[str]:
    """Text of each paragraph and table cell of the body, in order (merged cells once)."""
    from docx.table import Table

    for block in document.iter_inner_content():  # type: ignore[attr-defined]
        if isinstance(block, Table):
            seen: set[object] = set()  # holding the elements keeps lxml's proxies (and their identity) alive
            for row in block.rows:
                for cell in row.cells:
                    if cell._tc not in seen:
                        seen.add(cell._tc)
                        yield from (p.text for p in cell.paragraphs)
        else:
            yield block.text


def extract_docx(data: bytes, *, max_chars: int = MAX_CHARS) -> DocxText:
    """Title (core properties) and text of a DOCX; :class:`IngestError` for damaged or bomb files."""
    check_zip(data)
    import docx

    meta: dict[str, str] = {}
    try:
        document = docx.Document(io.BytesIO(data))
        title = meaningful_title(document.core_properties.title)
        lines, total = [], 0
        for block in _blocks(document):
            if total >= max_chars:
                meta["truncated"] = f"cut at {total} characters"
                log.warning("DOCX truncated: %s", meta["truncated"])
                break
            lines.append(block)
            total += len(block) + 1
    except IngestError:
        raise
    except Exception as exc:  # python-docx and lxml raise many kinds of error on damaged files
        raise DecodeError(f"cannot read this DOCX ({type(exc).__name__}: {exc})") from None
    text = "\n".join(lines)
    if len(text) > max_chars:  # one huge paragraph must not slip past the budget
        text = text[:max_chars]
        meta["truncated"] = f"cut at {max_chars} characters"
    return DocxText(title, text, meta)
