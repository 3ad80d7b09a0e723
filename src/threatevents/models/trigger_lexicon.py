"""Trigger boundaries redrawn toward the strings the training annotation marks as triggers.

The token heads find roughly where a trigger is but often draw its edges unlike the annotators: ``was`` for
``was compromised``, ``attack`` for ``the attack``, ``ransom`` for ``pay the ransom``. CASIE's triggers are
short, frequent phrases, so the training annotation itself says which edges are likely: a
:class:`TriggerLexicon` counts, for each phrase (lower-cased words), how often it is annotated as a trigger and
how often it occurs in the training sentences at all. Its *prior* is the share of a phrase's occurrences that are
triggers. :meth:`TriggerLexicon.redraw` looks at the spans that overlap a decoded trigger, up to
:data:`REACH` words wider on either side, and moves to the one whose prior beats the decoded span's (and every
better one found before it) by more than a margin. Whether to redraw, and the margin, are decoding choices made
on dev (``Decoding.trigger_boundaries``, ``Decoding.boundary_margin``).

The lexicon also *proposes* triggers the heads missed (:meth:`TriggerLexicon.propose`): a phrase the annotation
often marks with one event type, in a sentence the sentence labels give that type, when the phrase's typed prior
times the label's probability reaches a threshold chosen on dev (``Decoding.propose``).

The lexicon is saved as JSON with the event heads (``events/trigger_lexicon.json``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..labels import EVENT_LABELS

#: Words as the lexicon counts them: runs of word characters (with inner apostrophes), or one other character.
WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
#: The longest phrase counted, in words.
MAX_WORDS = 6
#: How many words a redrawn span may reach beyond the decoded one on either side.
REACH = 2
#: A span is a candidate only when the annotation marks its phrase at least this often.
MIN_COUNT = 2
#: Added to a phrase's occurrences in the prior (a phrase seen once as a trigger is not a sure thing).
SMOOTHING = 1.0
#: The largest count a saved lexicon may hold (far above any corpus; a huge one would overflow the ranker's logs).
MAX_COUNT = 10**12
LEXICON_FILE = "trigger_lexicon.json"
LABEL_INDEX = {label: i for i, label in enumerate(EVENT_LABELS)}


def words(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text`` (:data:`WORD`)."""
    return [(m.start(), m.end()) for m in WORD.finditer(text)]


def covered(spans: Sequence[tuple[int, int]], start: int, end: int) -> list[int]:
    """Indices of the word ``spans`` (from :func:`words`) that overlap ``[start, end)``."""
    return [k for k, (a, b) in enumerate(spans) if a < end and b > start]


def phrase(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The lexicon key of a run of words: lower-cased, joined by single spaces."""
    return " ".join(text[a:b].lower() for a, b in spans)


@dataclass
class TriggerLexicon:
    """Per phrase: times annotated as a trigger of each event type (``triggers``), times it occurs in the sentences
    (``occurrences``)."""

    triggers: dict[str, dict[str, int]] = field(default_factory=dict)
    occurrences: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, sentences: Iterable[tuple[str, Sequence[tuple[int, int, str]]]]) -> TriggerLexicon:
        """Count from ``(sentence text, triggers in it)`` pairs, a trigger ``(start, end, event label)`` (character
        offsets, end exclusive). Only phrases annotated at least :data:`MIN_COUNT` times are kept: the others can
        never be drawn to or proposed, and a decoded span on one counts as a phrase of prior 0."""
        texts: list[str] = []
        triggers: dict[str, Counter[str]] = {}
        for text, spans in sentences:
            texts.append(text)
            for start, end, label in spans:
                inside = [(a, b) for a, b in words(text) if a < end and b > start]
                if 0 < len(inside) <= MAX_WORDS:
                    triggers.setdefault(phrase(text, inside), Counter())[label] += 1
        triggers = {k: v for k, v in triggers.items() if sum(v.values()) >= MIN_COUNT}  # the phrases redraw can use
        occurrences: Counter[str] = Counter()
        for text in texts:
            pieces = words(text)
            for n in range(1, MAX_WORDS + 1):
                for i in range(len(pieces) - n + 1):
                    key = phrase(text, pieces[i : i + n])
                    if key in triggers:
                        occurrences[key] += 1
        return cls(
            {k: dict(sorted(triggers[k].items())) for k in sorted(triggers)},
            {k: occurrences[k] for k in sorted(triggers)},
        )

    @cached_property
    def _prefixes(self) -> frozenset[str]:
        """Every phrase's leading words (the phrase itself included): a run of words not among them cannot grow
        into a phrase."""
        out: set[str] = set()
        for key in self.triggers:
            parts = key.split(" ")
            out.update(" ".join(parts[:n]) for n in range(1, len(parts) + 1))
        return frozenset(out)

    def phrases_in(self, text: str, spans: Sequence[tuple[int, int]] | None = None) -> list[tuple[int, int, str]]:
        """The lexicon's phrases found in ``text`` (whose :func:`words` are ``spans``, computed when not given):
        ``(first word, end word, phrase)``, by first word, shortest first."""
        spans = words(text) if spans is None else spans
        lowered = [text[a:b].lower() for a, b in spans]
        found: list[tuple[int, int, str]] = []
        for i in range(len(lowered)):
            key = lowered[i]
            for j in range(i + 1, min(len(lowered), i + MAX_WORDS) + 1):
                if j > i + 1:
                    key = f"{key} {lowered[j - 1]}"
                if key not in self._prefixes:
                    break
                if key in self.triggers:
                    found.append((i, j, key))
        return found

    def count(self, key: str, label: str | None = None) -> int:
        """Times ``key`` is annotated as a trigger (of ``label``, or of any type)."""
        by_type = self.triggers.get(key, {})
        return by_type.get(label, 0) if label is not None else sum(by_type.values())

    def prior(self, key: str, label: str | None = None) -> float:
        """The share of ``key``'s occurrences annotated as a trigger (of ``label``, or of any type), smoothed; 0 for
        an unknown phrase."""
        count = self.count(key, label)
        return count / (self.occurrences.get(key, 0) + SMOOTHING) if count else 0.0

    def redraw(
        self, text: str, start: int, end: int, margin: float, spans: Sequence[tuple[int, int]] | None = None
    ) -> tuple[int, int]:
        """The span of ``text`` to report for a trigger decoded at ``[start, end)``.

        Candidates overlap the decoded words and reach at most :data:`REACH` words beyond them on either side,
        and the annotation marks their phrase at least :data:`MIN_COUNT` times; one wins when its prior beats the
        best so far (the decoded span's to begin with) by more than ``margin``. Without a winner the span stays.
        ``spans``: the :func:`words` of ``text`` when already computed.
        """
        spans = words(text) if spans is None else spans
        inside = covered(spans, start, end)
        if not inside:
            return start, end
        first, last = inside[0], inside[-1] + 1
        best, best_prior = (first, last), self.prior(phrase(text, spans[first:last]))
        for a in range(max(0, first - REACH), last):
            for b in range(max(a + 1, first + 1), min(len(spans), last + REACH) + 1):
                if b - a > MAX_WORDS or (a, b) == (first, last):
                    continue
                key = phrase(text, spans[a:b])
                if self.count(key) < MIN_COUNT:
                    continue
                value = self.prior(key)
                if value > best_prior + margin:
                    best, best_prior = (a, b), value
        if best == (first, last):
            return start, end
        return spans[best[0]][0], spans[best[1] - 1][1]

    def propose(
        self,
        text: str,
        label_probs: Sequence[float] | np.ndarray,
        threshold: float,
        taken: Sequence[tuple[int, int]] = (),
    ) -> list[tuple[int, int, int, float]]:
        """Triggers to add to ``text``: ``(start, end, event label index, score)``.

        A phrase of the sentence is proposed with an event type when the annotation marks it with that type at
        least :data:`MIN_COUNT` times and its typed prior times the sentence's probability of that label
        (``label_probs``, in :data:`~threatevents.labels.EVENT_LABELS` order) reaches ``threshold`` (the score).
        The best scores are taken first; a phrase overlapping a ``taken`` span or one taken before is skipped.
        """
        if threshold <= 0 or max(label_probs, default=0.0) < threshold:  # a prior is below 1: nothing can reach it
            return []
        spans = words(text)
        found: list[tuple[float, int, int, int]] = []
        for n in range(1, MAX_WORDS + 1):
            for i in range(len(spans) - n + 1):
                key = phrase(text, spans[i : i + n])
                for label in self.triggers.get(key, {}):
                    kind = LABEL_INDEX[label]
                    if self.count(key, label) < MIN_COUNT:
                        continue
                    score = self.prior(key, label) * float(label_probs[kind])
                    if score >= threshold:
                        found.append((score, spans[i][0], spans[i + n - 1][1], kind))
        out: list[tuple[int, int, int, float]] = []
        busy = list(taken)
        for score, start, end, kind in sorted(found, key=lambda f: (-f[0], f[1], f[2], f[3])):
            if any(a < end and b > start for a, b in busy):
                continue
            busy.append((start, end))
            out.append((start, end, kind, score))
        return sorted(out)

    # -- persistence ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, dict[str, int]] | dict[str, int]]:
        return {"triggers": self.triggers, "occurrences": self.occurrences}

    @classmethod
    def from_dict(cls, data: object) -> TriggerLexicon:
        """Read what :meth:`to_dict` wrote; :class:`ValueError` on anything else."""
        if not isinstance(data, dict) or set(data) != {"triggers", "occurrences"}:
            raise ValueError("a trigger lexicon is an object with exactly 'triggers' and 'occurrences'")
        triggers, occurrences = data["triggers"], data["occurrences"]

        def counts(table: object) -> bool:
            return isinstance(table, dict) and all(
                isinstance(k, str) and type(v) is int and 0 <= v <= MAX_COUNT for k, v in table.items()
            )

        if not isinstance(triggers, dict) or not all(
            isinstance(k, str) and counts(v) and set(v) <= set(EVENT_LABELS) for k, v in triggers.items()
        ):
            raise ValueError(f"trigger lexicon 'triggers' must map phrases to per-label counts in [0, {MAX_COUNT}]")
        if not counts(occurrences):
            raise ValueError(f"trigger lexicon 'occurrences' must map phrases to integers in [0, {MAX_COUNT}]")
        if any(occurrences.get(k, 0) < sum(v.values()) for k, v in triggers.items()):
            raise ValueError("trigger lexicon: a phrase is annotated more often than it occurs")
        return cls(triggers, occurrences)

    def save(self, folder: Path) -> None:
        write_json(folder / LEXICON_FILE, self.to_dict())

    @classmethod
    def load(cls, folder: Path) -> TriggerLexicon | None:
        """The lexicon saved in ``folder``; ``None`` when there is none (models saved before it existed)."""
        data = read_json(folder / LEXICON_FILE)
        return None if data is None else cls.from_dict(data)


def write_json(path: Path, data: object) -> None:
    """Write ``data`` as compact, key-sorted JSON (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")), encoding="utf-8")


def read_json(path: Path) -> object:
    """What :func:`write_json` wrote at ``path``; ``None`` when there is no such file (models saved before it
    existed); :class:`ValueError` naming the file when it is not JSON (or nested past the parser's limit)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc!r}") from None
