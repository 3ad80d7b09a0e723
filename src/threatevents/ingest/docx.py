"""Text of a DOCX with python-docx, after checking the ZIP container is not a bomb.

Before python-docx reads anything, :func:`check_zip` looks at every member's declared uncompressed
size (the standard library's ``zipfile`` never inflates past it) and refuses archives with too many
members, a member or a total over the size limits, or a big member with an extreme compression ratio.
Paragraphs and table cells are read in document order, one per line, up to a character budget.
"""

from __future__ import annotations

import io
import logging
import zipfile
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


@dataclass
class DocxText:
    title: str | None
    text: str
    meta: dict[str, str] = field(default_factory=dict)


def check_zip(data: bytes) -> None:
    """Raise :class:`TooLargeError` when the archive would inflate past the limits above."""
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
