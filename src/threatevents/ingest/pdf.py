"""Text of a PDF with pypdf, within a decompression, page, character and time budget.

pypdf (BSD-3) is pure Python and enforces per-stream decompression limits, which we tighten with
``pypdf.apply_configuration`` so that a Flate bomb (a small stream that inflates to gigabytes) is
refused after :data:`MAX_STREAM_BYTES`, and a content stream of millions of operators after
:data:`MAX_STREAM_TOKENS`. Extraction stops after :data:`MAX_PAGES` pages, :data:`MAX_CHARS`
characters or :data:`MAX_SECONDS` seconds and says so in ``meta["truncated"]``. PDF text comes as
visual lines; :func:`reflow` joins the lines of a wrapped paragraph so that the splitter's rule
(every line break is a sentence boundary) holds.
"""

from __future__ import annotations

import io
import logging
import re
import time
from dataclasses import dataclass, field

from .document import DecodeError, IngestError, TooLargeError

log = logging.getLogger(__name__)

MAX_STREAM_BYTES = 16 * 1024 * 1024
MAX_STREAM_TOKENS = 500_000  # a dense text page has some 10,000; pypdf parses about 200,000 a second
MAX_PAGES = 2_000
MAX_CHARS = 2_000_000
MAX_SECONDS = 30.0  # a last safety valve: pages that each stay under the limits but add up
# A line at least this share of the page's longest line was wrapped: the paragraph goes on.
_WRAPPED = 0.7
_FILENAME_TITLE = re.compile(r"\.(?:docx?|pdf|rtf|odt|txt|indd|tex|pptx?)\s*$|^microsoft\s+\w+\s+-\s|^untitled", re.I)


@dataclass
class PdfText:
    title: str | None
    text: str
    meta: dict[str, str] = field(default_factory=dict)


def meaningful_title(title: object) -> str | None:
    """The metadata title unless it is empty, a file name, 'Untitled' or a 'Microsoft Word - x' label."""
    if not isinstance(title, str):
        return None
    title = " ".join(title.split())
    if len(title) < 4 or not any(c.isalpha() for c in title) or _FILENAME_TITLE.search(title):
        return None
    return title


def reflow(page_text: str) -> str:
    """Join the visual lines of each paragraph; short lines (headings, ends of paragraphs) end one."""
    lines = [" ".join(line.split()) for line in page_text.splitlines()]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current = ""
    previous_wrapped = False
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current, previous_wrapped = "", False
            continue
        if current and previous_wrapped:
            if current.endswith("-") and current[-2:-1].isalpha() and line[:1].islower():
                current = current[:-1] + line
            else:
                current = f"{current} {line}"
        else:
            if current:
                paragraphs.append(current)
            current = line
        previous_wrapped = len(line) >= _WRAPPED * width
    if current:
        paragraphs.append(current)
    return "\n".join(paragraphs)


def extract_pdf(data: bytes, *, max_chars: int = MAX_CHARS, max_pages: int = MAX_PAGES) -> PdfText:
    """Title and reflowed text of a PDF; :class:`IngestError` for encrypted, damaged or bomb files."""
    import pypdf
    from pypdf.errors import LimitReachedError

    limits = pypdf.get_configuration().with_overwrites(
        zlib_maximum_output_length=MAX_STREAM_BYTES,
        lzw_maximum_output_length=MAX_STREAM_BYTES,
        run_length_maximum_output_length=MAX_STREAM_BYTES,
        brotli_maximum_output_length=MAX_STREAM_BYTES,
        stream_decoding_work_maximum_length=4 * MAX_STREAM_BYTES,
        stream_parsing_work_maximum_count=MAX_STREAM_TOKENS,
    )
    meta: dict[str, str] = {}
    try:
        with pypdf.apply_configuration(limits):
            reader = pypdf.PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise IngestError("the PDF is password-protected")
            n_pages = len(reader.pages)
            meta["pages"] = str(n_pages)
            title = meaningful_title(reader.metadata.title if reader.metadata else None)
            pages, total, deadline = [], 0, time.monotonic() + MAX_SECONDS
            for number, page in enumerate(reader.pages):
                if number >= max_pages or total >= max_chars or time.monotonic() > deadline:
                    meta["truncated"] = f"stopped after {number} of {n_pages} pages ({total} characters)"
                    log.warning("PDF truncated: %s", meta["truncated"])
                    break
                text = reflow(page.extract_text() or "")
                pages.append(text)
                total += len(text)
    except LimitReachedError as exc:
        raise TooLargeError(f"the PDF expands past the safety limits ({exc})") from None
    except IngestError:
        raise
    except Exception as exc:  # pypdf raises many kinds of error on damaged files; all mean "cannot read"
        raise DecodeError(f"cannot read this PDF ({type(exc).__name__}: {exc})") from None
    text = "\n\n".join(page for page in pages if page)
    if len(text) > max_chars:
        text = text[:max_chars]
        meta.setdefault("truncated", f"cut at {max_chars} characters")
    return PdfText(title, text, meta)
