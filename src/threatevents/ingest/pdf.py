"""Text of a PDF with pypdf, within a decompression, page, character and time budget.

pypdf (BSD-3) is pure Python and enforces per-stream decompression limits, which we tighten with
``pypdf.apply_configuration`` so that a Flate bomb (a small stream that inflates to gigabytes) is
refused after :data:`MAX_STREAM_BYTES`, and a content stream of millions of operators after
:data:`MAX_STREAM_TOKENS`. Extraction stops after :data:`MAX_PAGES` pages, :data:`MAX_CHARS`
characters or :data:`MAX_SECONDS` seconds and says so in ``meta["truncated"]``. PDF text comes as
visual lines; :func:`reflow` joins the lines of a wrapped paragraph, on a page or over a page break, so
that the splitter's rule (every line break is a sentence boundary) holds, and rejoins a hash or a URL
that the layout cut at the end of a line.
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
# A line plus the next line's first word longer than this share of the longest line: the word did not fit.
_FITS = 0.85
_SENTENCE_END = re.compile(r"[.!?:;][\"'”’)\]]*$")
_HASH_LENGTHS = frozenset({32, 40, 64, 128})
_LAST_HEX = re.compile(r"(?<![\w])[0-9a-fA-F]{4,}$")
_FIRST_HEX = re.compile(r"[0-9a-fA-F]{4,}(?![\w])")
# The last word of a line that is a URL (hxxp and [://] defanged too); the first word of the next that goes on
# with a path, a query or a defanged dot.
_URLISH = re.compile(r"^\W*(?:(?:h..ps?|ftp)(?::|\[:\])//|\w+\[://\]|www(?:\.|\[\.\]))", re.I)
_URL_REST = re.compile(r"[/?=&#%]|\[\.\]|\w\.\w")
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


def _wrapped(line: str, following: str, width: int) -> bool:
    """Was ``line`` wrapped by the layout, so that ``following`` goes on with its paragraph?

    A line of several words was wrapped when it is long (a share :data:`_WRAPPED` of the page's longest
    line) or when the first word of the next line would not have fitted after it (the layout broke the
    line for that word: a hash or URL pushed to a line of its own), unless it ends a sentence and that
    word stands alone on its line (a list item). Any line goes on when it does not end a sentence and the
    next line starts in lower case and has several words. So a list of hashes or domains, one a line,
    stays a list.
    """
    first_word, _, rest = following.partition(" ")
    ended = bool(_SENTENCE_END.search(line))
    if " " in line:
        if len(line) >= _WRAPPED * width:
            return True
        if len(line) + 1 + len(first_word) > _FITS * width and (rest or not ended):
            return True
    return bool(rest) and following[:1].islower() and not ended


def _cut_token(current: str, line: str, width: int, previous: str) -> bool:
    """Does a full line end with a hash or URL that the layout cut, the rest starting ``line``?"""
    if len(previous) < _WRAPPED * width:
        return False
    head, tail = _LAST_HEX.search(current), _FIRST_HEX.match(line)
    if head and tail and _is_split_hash(head.group(0), tail.group(0), tail.end() == len(line)):
        return True
    last = current.rsplit(" ", 1)[-1]
    first = line.split(" ", 1)[0]
    return bool(_URLISH.search(last) and _URL_REST.search(first) and not _URLISH.match(first))


def _is_split_hash(head: str, tail: str, tail_is_line: bool) -> bool:
    """Are two hex runs the pieces of one hash (MD5, SHA-1, SHA-256 or SHA-512 length together)?

    Not when either is a hash alone (a list of hashes, one a line). A piece that fills its whole line is
    the middle of a longer hash when the two together are still shorter than a SHA-512.
    """
    whole = head + tail
    if len(head) in _HASH_LENGTHS or len(tail) in _HASH_LENGTHS or not any(c.isdigit() for c in whole):
        return False
    return len(whole) in _HASH_LENGTHS or (tail_is_line and len(whole) < max(_HASH_LENGTHS))


def reflow(page_text: str) -> str:
    """Join the visual lines of each paragraph (see :func:`_wrapped`); blank lines and short lines end one.

    A word hyphenated at the end of a line is joined without its hyphen, and so is a hash or a URL that
    the layout cut at the end of a full line (:func:`_cut_token`); other wrapped lines are joined by a space.
    """
    lines = [" ".join(line.split()) for line in page_text.splitlines()]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current = ""
    previous = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = previous = ""
            continue
        if current and _cut_token(current, line, width, previous):
            current += line
        elif current and _wrapped(previous, line, width):
            if current.endswith("-") and current[-2:-1].isalpha() and line[:1].islower():
                current = current[:-1] + line  # a hyphenated word
            else:
                current = f"{current} {line}"
        else:
            if current:
                paragraphs.append(current)
            current = line
        previous = line
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
                text = page.extract_text() or ""
                pages.append(text)
                total += len(text)
    except LimitReachedError as exc:
        raise TooLargeError(f"the PDF expands past the safety limits ({exc})") from None
    except IngestError:
        raise
    except Exception as exc:  # pypdf raises many kinds of error on damaged files; all mean "cannot read"
        raise DecodeError(f"cannot read this PDF ({type(exc).__name__}: {exc})") from None
    # One reflow over every page: a paragraph, a hash or a URL that goes on over a page break is joined too.
    text = reflow("\n".join(page.strip("\n") for page in pages if page.strip()))
    if len(text) > max_chars:
        text = text[:max_chars]
        meta.setdefault("truncated", f"cut at {max_chars} characters")
    return PdfText(title, text, meta)
