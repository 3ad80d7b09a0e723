"""CASIE event annotation: trigger spans aligned to the sentences of a labelled corpus.

CASIE (Satyapanich, Finin and Ferraro, AAAI 2020) marks each event's trigger (``nugget``) as a
character span of the article text. The sentence corpus is a relabelling of the same articles, so
each corpus sentence can be found in the article and given the triggers that fall inside it. The
transformer uses them as token-level supervision next to the sentence labels (see
``TransformerConfig.events_dir``); tagging never needs them.

Sentences are matched in order, first exactly and then with whitespace collapsed; a sentence that
cannot be found gets no triggers and is left out of the token-level loss (:class:`Alignment`
counts both).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .corpus import Document

#: CASIE ``type/subtype`` to our event label.
CASIE_TYPES = {
    ("Attack", "Databreach"): "AttackDatabreach",
    ("Attack", "Phishing"): "AttackPhishing",
    ("Attack", "Ransom"): "AttackRansom",
    ("Vulnerability-related", "Discover"): "DiscoverVulnerability",
    ("Vulnerability-related", "Patch"): "PatchVulnerability",
}
_SPACE = re.compile(r"\s+")

Trigger = tuple[int, int, str]  # start, end (character offsets in the sentence), event label


@dataclass
class Alignment:
    """Triggers per sentence (flattened over documents, in corpus order) and how matching went."""

    triggers: list[list[Trigger]] = field(default_factory=list)
    found: list[bool] = field(default_factory=list)
    missing_documents: int = 0

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


def read_annotation(path: Path) -> tuple[str, list[tuple[int, int, str]]]:
    """An annotation file's article text and its triggers as ``(start, end, label)`` in that text."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    spans = []
    for hopper in (data.get("cyberevent") or {}).get("hopper") or []:
        for event in hopper.get("events") or []:
            label = CASIE_TYPES.get((event.get("type"), event.get("subtype")))
            nugget = event.get("nugget") or {}
            if label and isinstance(nugget.get("startOffset"), int) and isinstance(nugget.get("endOffset"), int):
                spans.append((nugget["startOffset"], nugget["endOffset"], label))
    return str(data.get("content", "")), spans


def _collapsed(text: str) -> tuple[str, list[int]]:
    """``text`` with whitespace runs as one space, and each output character's offset in ``text``."""
    chars: list[str] = []
    offsets: list[int] = []
    for match in re.finditer(r"\s+|\S", text):
        chars.append(" " if match.group().isspace() else match.group())
        offsets.append(match.start())
    return "".join(chars), offsets


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


def align_triggers(events_dir: str | Path, docs: Sequence[Document]) -> Alignment:
    """Triggers of each sentence of ``docs`` from ``events_dir/annotation/<doc id>.json``.

    ``events_dir`` may also be the ``annotation`` folder itself. Documents without a file get no
    triggers (counted in ``missing_documents``).
    """
    root = Path(events_dir)
    folder = root / "annotation" if (root / "annotation").is_dir() else root
    if not folder.is_dir():
        raise FileNotFoundError(f"no CASIE annotation folder at {root}")
    result = Alignment()
    for doc in docs:
        path = folder / f"{doc.id}.json"
        if not path.is_file():
            result.missing_documents += 1
            result.triggers += [[] for _ in doc.sentences]
            result.found += [False] * len(doc.sentences)
            continue
        content, triggers = read_annotation(path)
        collapsed = _collapsed(content)
        cursor = 0
        for sentence in doc.sentences:
            span = _locate(sentence.text, content, collapsed, cursor)
            result.found.append(span is not None)
            if span is None:
                result.triggers.append([])
                continue
            cursor = span[0]
            result.triggers.append(_project(sentence.text, content, span, triggers))
    return result
