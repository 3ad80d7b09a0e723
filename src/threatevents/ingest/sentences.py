"""Whitespace normalisation and sentence splitting with character offsets.

Sentences come from `nupunkt <https://pypi.org/project/nupunkt/>`_ (Punkt with a bundled English
model; pure Python, no data download), chosen by ``benchmarks/bench_splitters.py``: with its abbreviation
list pruned it has the best boundary F1 on the corpus's dev split (0.979; blingfire 0.978, syntok 0.975,
pysbd 0.941) at some 50,000-70,000 sentences a second on one core. Every line break is
a boundary (headlines, list items and paragraphs are lines once text is extracted), and a line longer
than :data:`MAX_CHUNK_CHARS` is cut into chunks first (at a sentence end or a space when there is one)
so that a megabyte-long line cannot make the splitter slow or a sentence huge.

Indicators and dotted tokens are never cut: Punkt reads ``10.20.30[.]40`` as a number ending in a
period and would end a sentence inside it, so a boundary that falls inside a protected token
(:data:`_PROTECTED`: a run without spaces holding a defanged separator such as ``[.]``, ``(.)``, ``{.}``,
``[dot]``, ``[@]``, ``[:]``, ``[://]``, a ``hxxp`` scheme, or a dot between two letters or digits:
versions, file names, domains, IPs) joins the two pieces again.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from functools import cache

from .document import Span

MAX_CHUNK_CHARS = 10_000
# Undotted abbreviations kept from the model: nupunkt's general English list, less words that often end a
# sentence (common words such as "in", "no", "sat"; job titles such as "CEO"; time zones and states).
# fmt: off
ABBREVIATIONS = frozenset({
    "apr", "apt", "approx", "assoc", "aug", "ave", "bldg", "blvd", "co", "corp", "dec", "dept", "dr", "etc", "feb",
    "fig", "fri", "govt", "hon", "hwy", "inc", "jan", "jr", "jul", "jun", "ltd", "mon", "mr", "mrs", "ms", "nov",
    "oct", "pkwy", "prof", "rd", "rev", "sep", "sept", "sr", "st", "ste", "thu", "thur", "thurs", "tue", "tues", "vs",
})
# fmt: on

_LINE = re.compile(r"[^\n]+")
_NEWLINES = re.compile(r"\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f\u00ad\u200b-\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r" ?\n[ \n]*")
# A sentence that starts with a closing quote or bracket standing alone: the mark ends the previous one.
_LEADING_CLOSER = re.compile(r"[”’\"')\]]+(?=\s|$)")
# Punkt only ends a sentence at . ! ? (or an ellipsis) followed by a space; a line without one is one sentence.
_INNER_END = re.compile(r"[.!?\u2026]\S*\s+\S")
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s")
# A defanged separator: [.] (.) {.} [dot] (dot) [@] [at] [:] [://] [/] and the like.
_DEFANG = r"[\[({](?:\.|dot|@|at|:|://|/)[\])}]"
# A token no sentence boundary may fall inside: a run without spaces that holds a defanged separator, a hxxp
# scheme or a dot between two word characters (10.20.30.40, 1.2.3, invoice.docx.exe, evil.com, U.S).
_PROTECTED = re.compile(rf"{_DEFANG}|hxxps?\b|\w\.\w", re.I)
_RUN = re.compile(r"\S+")
_ENDS_DEFANGED = re.compile(rf"{_DEFANG}$", re.I)
_BRACKETED_DOT = re.compile(r"[\[({]\.[\])}]")
# What may end a protected run without belonging to it: sentence punctuation and closing quotes/brackets.
_TRAILING = ".,;:!?\"'”’)]}"


def normalize_text(text: str) -> str:
    """Text with one space for any run of spaces/tabs, ``\\n`` line ends, at most one blank line in a row.

    Carriage returns, form feeds and Unicode line/paragraph separators become line breaks; zero-width
    characters, soft hyphens and control characters are removed; lines and the whole are stripped.
    """
    text = _NEWLINES.sub("\n", text)
    text = _INVISIBLE.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub(lambda m: "\n\n" if m.group(0).count("\n") > 1 else "\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


@cache
def _punkt() -> Callable[[str], list[tuple[int, int]]]:
    """nupunkt's bundled model with its abbreviation list pruned (loaded once, on first use).

    The model was trained on legal and OCR text and treats thousands of plain words as abbreviations
    ("hacked.", "cancer."), so a period after them never ends a sentence. We keep only the ones that
    cannot be words: dotted (``u.s``, ``e.g``), single letters, and :data:`ABBREVIATIONS`.
    """
    import nupunkt

    tokenizer = nupunkt.load_default_model()
    for abbreviation in tokenizer.abbreviations:
        if not ("." in abbreviation or len(abbreviation) == 1 or abbreviation in ABBREVIATIONS):
            tokenizer.remove_abbreviation(abbreviation)
    return tokenizer.spans


def _chunks(line: str, limit: int) -> list[tuple[int, int]]:
    """Cut a long line into pieces of at most ``limit`` chars, preferring sentence ends, then spaces."""
    pieces, start = [], 0
    while len(line) - start > limit:
        window = line[start : start + limit]
        cut = 0
        for match in _SENTENCE_END.finditer(window, limit // 2):
            cut = match.end()
        if not cut:
            cut = window.rfind(" ", limit // 2) + 1 or limit
        pieces.append((start, start + cut))
        start += cut
    pieces.append((start, len(line)))
    return pieces


def _mask_dot(match: re.Match[str]) -> str:
    return match.group(0).replace(".", "_")


def protected_tokens(line: str) -> list[tuple[int, int]]:
    """(start, end) of each token of ``line`` that no sentence boundary may fall inside.

    Trailing sentence punctuation and closing quotes or brackets are left out of the token (the period
    of "... from evil[.]com." still ends the sentence) unless they close a defanged separator.
    """
    tokens = []
    for run in _RUN.finditer(line):  # runs, then a search inside each: linear in the line however long
        start, end = run.span()
        if not _PROTECTED.search(line, start, end):
            continue
        while end > start and line[end - 1] in _TRAILING and not _ENDS_DEFANGED.search(line, max(start, end - 5), end):
            end -= 1
        tokens.append((start, end))
    return tokens


def _join_inside_tokens(line: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge neighbouring spans whose boundary falls inside a :func:`protected_tokens` token."""
    if len(spans) < 2:
        return spans
    tokens = protected_tokens(line)
    if not tokens:
        return spans
    starts = [t_start for t_start, _ in tokens]
    merged = [spans[0]]
    for start, end in spans[1:]:
        # Tokens do not overlap: the only one that can hold the boundary is the last to start before it.
        i = bisect.bisect_left(starts, merged[-1][1]) - 1
        if i >= 0 and tokens[i][1] > start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _split_line(line: str) -> list[tuple[int, int]]:
    """Sentence spans of one line, stripped of surrounding spaces, with stray closing quotes reattached."""
    spans: list[tuple[int, int]] = []
    split = _punkt()
    # Punkt never sees the period of a bracketed defanged dot (same length: the offsets hold); the rest of
    # the protection is the merge below.
    masked = _BRACKETED_DOT.sub(_mask_dot, line)
    for c_start, c_end in _chunks(line, MAX_CHUNK_CHARS):
        for a, b in split(masked[c_start:c_end]):
            start, end = c_start + a, c_start + b
            while start < end and line[start].isspace():
                start += 1
            while end > start and line[end - 1].isspace():
                end -= 1
            if start == end:
                continue
            closer = _LEADING_CLOSER.match(line, start, end)
            if closer and spans:
                spans[-1] = (spans[-1][0], closer.end())
                start = closer.end()
                while start < end and line[start].isspace():
                    start += 1
                if start == end:
                    continue
            spans.append((start, end))
    return _join_inside_tokens(line, spans)


def split_sentences(text: str, *, limit: int | None = None) -> list[Span]:
    """Split ``text`` into sentences; every line break is a boundary and ``text[s.start:s.end] == s.text``.

    With ``limit``, stop after that many sentences (the caller can tell by the length of the result).
    """
    out: list[Span] = []
    for match in _LINE.finditer(text):
        line = match.group(0)
        if len(line) <= MAX_CHUNK_CHARS and not _INNER_END.search(line):
            spans = [(len(line) - len(line.lstrip()), len(line.rstrip()))] if line.strip() else []
        else:
            spans = _split_line(line)
        offset = match.start()
        out.extend(Span(offset + start, offset + end, line[start:end]) for start, end in spans)
        if limit is not None and len(out) >= limit:
            return out[:limit]
    return out
