"""CASIE event annotation: trigger spans aligned to the sentences of a labelled corpus.

CASIE (Satyapanich, Finin and Ferraro, AAAI 2020) marks each event's trigger (``nugget``) as a
character span of the article text. The sentence corpus is a relabelling of the same articles, so
each corpus sentence can be found in the article and given the triggers that fall inside it. The
transformer uses them as token-level supervision next to the sentence labels (see
``TransformerConfig.events_dir``); tagging never needs them.

Sentences are matched in order, first exactly and then with whitespace collapsed; a sentence that
cannot be found gets no triggers and is left out of the token-level loss (:class:`Alignment`
counts both). Annotation files are read by :mod:`threatevents.events`, which checks every span
against the article text and corrects the files whose offsets are shifted; its
:class:`~threatevents.events.ReadReport` is kept in :attr:`Alignment.report`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .corpus import Document
from .events import CasieError, ReadReport, read_event_file
from .labels import CASIE_EVENT_TYPES

#: CASIE ``(type, subtype)`` to our event label (the schema's map, see :mod:`threatevents.labels`).
CASIE_TYPES = CASIE_EVENT_TYPES
_SPACE = re.compile(r"\s+")

Trigger = tuple[int, int, str]  # start, end (character offsets in the sentence), event label


@dataclass
class Alignment:
    """Triggers per sentence (flattened over documents, in corpus order) and how matching went."""

    triggers: list[list[Trigger]] = field(default_factory=list)
    found: list[bool] = field(default_factory=list)
    missing_documents: int = 0
    report: ReadReport = field(default_factory=ReadReport)

    @property
    def coverage(self) -> float:
        """Share of sentences found in their article."""
        return sum(self.found) / len(self.found) if self.found else 0.0

    def agreeing(self, docs: Sequence[Document]) -> list[bool]:
        """Per sentence: found, and its triggers' labels are exactly its event labels.

        Some articles are only partly annotated in CASIE; where triggers and labels disagree the
        triggers are not trusted as token-level supervision.
        """
        labels = [set(s.labels) - {"O"} for doc in docs for s in doc.sentences]
        if len(labels) != len(self.triggers):
            raise ValueError("docs are not the documents this alignment was made for")
        return [
            found and {label for *_, label in triggers} == wanted
            for found, triggers, wanted in zip(self.found, self.triggers, labels, strict=True)
        ]


def read_annotation(
    path: Path, *, strict: bool = False, report: ReadReport | None = None
) -> tuple[str, list[tuple[int, int, str]]]:
    """An annotation file's article text and its triggers as ``(start, end, label)`` in that text.

    Offsets are checked and corrected as :func:`threatevents.events.read_event_file` does; what cannot be
    corrected is skipped and counted in ``report`` (or, with ``strict``, raises :class:`CasieError`).
    """
    document = read_event_file(path, strict=strict, report=report)
    return document.text, [(e.trigger.start, e.trigger.end, e.type) for e in document.events]


def _collapsed(text: str) -> tuple[str, list[int]]:
    """``text`` with whitespace runs as one space, and each output character's offset in ``text``."""
    chars: list[str] = []
    offsets: list[int] = []
    for match in re.finditer(r"\s+|\S", text):
        chars.append(" " if match.group().isspace() else match.group())
        offsets.append(match.start())
    return "".join(chars), offsets


def char_map(a: str, b: str) -> list[int] | None:
    """For two texts equal but for the length of their whitespace runs (and whitespace at either end), the
    offset in ``b`` of each offset ``0..len(a)`` of ``a``; ``None`` when they differ otherwise.

    A whitespace run of ``a`` maps to where the matching run of ``b`` starts; this carries spans between a
    corpus sentence and the article text it was found in with whitespace collapsed.
    """
    out = [0] * (len(a) + 1)
    i = j = 0
    while i < len(a):
        if a[i].isspace():
            while i < len(a) and a[i].isspace():
                out[i] = j
                i += 1
            while j < len(b) and b[j].isspace():
                j += 1
            continue
        while j < len(b) and b[j].isspace():
            j += 1
        if j >= len(b) or b[j] != a[i]:
            return None
        out[i] = j
        i += 1
        j += 1
    out[len(a)] = j
    return out


def _locate(sentence: str, content: str, collapsed: tuple[str, list[int]], start: int) -> tuple[int, int] | None:
    """Span of ``sentence`` in ``content`` at or after ``start`` (else anywhere), or ``None``."""
    for begin in (start, 0):
        at = content.find(sentence, begin)
        if at >= 0:
            return at, at + len(sentence)
    squeezed = _SPACE.sub(" ", sentence).strip()
    text, offsets = collapsed
    if not squeezed:
        return None
    at = text.find(squeezed)
    if at < 0:
        return None
    end = at + len(squeezed) - 1
    return offsets[at], offsets[end] + 1


def _project(sentence: str, content: str, span: tuple[int, int], triggers: list[Trigger]) -> list[Trigger]:
    """Triggers inside ``span`` of ``content`` as offsets into ``sentence``.

    When the sentence was found only after collapsing whitespace, each trigger's text is looked up
    in the sentence instead of shifting offsets.
    """
    begin, end = span
    inside = [(s, e, label) for s, e, label in triggers if s >= begin and e <= end]
    if content[begin:end] == sentence:
        return [(s - begin, e - begin, label) for s, e, label in inside]
    out = []
    for s, e, label in inside:
        at = sentence.find(content[s:e])
        if at >= 0:
            out.append((at, at + e - s, label))
    return out


def align_triggers(events_dir: str | Path, docs: Sequence[Document], *, strict: bool = False) -> Alignment:
    """Triggers of each sentence of ``docs`` from ``events_dir/annotation/<doc id>.json``.

    ``events_dir`` may also be the ``annotation`` folder itself. Documents without a file get no
    triggers (counted in ``missing_documents``), and so do documents whose file cannot be read
    (counted in ``report.skipped_files``; ``strict`` raises :class:`CasieError` instead).
    """
    root = Path(events_dir)
    folder = root / "annotation" if (root / "annotation").is_dir() else root
    if not folder.is_dir():
        raise FileNotFoundError(f"no CASIE annotation folder at {root}")
    result = Alignment()
    for doc in docs:
        path = folder / f"{doc.id}.json"
        content = None
        if path.is_file():
            try:
                content, triggers = read_annotation(path, strict=strict, report=result.report)
            except CasieError as exc:
                if strict:
                    raise
                result.report.skipped_files[path.name] = str(exc)
                result.report.problems.append(str(exc))
        else:
            result.missing_documents += 1
        if content is None:
            result.triggers += [[] for _ in doc.sentences]
            result.found += [False] * len(doc.sentences)
            continue
        for sentence, span in zip(doc.sentences, locate_sentences(content, doc.texts), strict=True):
            result.found.append(span is not None)
            result.triggers.append([] if span is None else _project(sentence.text, content, span, triggers))
    return result


def locate_sentences(content: str, sentences: Sequence[str]) -> list[tuple[int, int] | None]:
    """Each sentence's span in the article ``content``, matched in order (``None`` where not found).

    A sentence is looked for exactly from where the previous one started (else anywhere), then with
    whitespace collapsed on both sides.
    """
    collapsed = _collapsed(content)
    cursor = 0
    spans: list[tuple[int, int] | None] = []
    for sentence in sentences:
        span = _locate(sentence, content, collapsed, cursor)
        if span is not None:
            cursor = span[0]
        spans.append(span)
    return spans
