"""Hostile PDFs built from a harmless one, shared by the ingestion tests and ``benchmarks/bench_extractors.py``."""

from __future__ import annotations

import io
import zlib


def with_flate_content(pdf: bytes, compressed: bytes) -> bytes:
    """``pdf`` with its first page's content replaced by the Flate-compressed stream ``compressed``."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject, StreamObject

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    stream = StreamObject()
    stream._data = compressed
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    writer.pages[0][NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def flate_bomb(pdf: bytes, inflated_mb: int) -> bytes:
    """``pdf`` whose first page content inflates to ``inflated_mb`` MB of spaces (small on disk)."""
    packer = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    return with_flate_content(pdf, b"".join(packer.compress(chunk) for _ in range(inflated_mb)) + packer.flush())
