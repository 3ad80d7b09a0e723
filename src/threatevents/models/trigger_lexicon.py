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

The lexicon is saved as JSON with the event heads (``events/trigger_lexicon.json``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
LEXICON_FILE = "trigger_lexicon.json"


def words(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text`` (:data:`WORD`)."""
    return [(m.start(), m.end()) for m in WORD.finditer(text)]


def phrase(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """The lexicon key of a run of words: lower-cased, joined by single spaces."""
    return " ".join(text[a:b].lower() for a, b in spans)


@dataclass
class TriggerLexicon:
    """Per phrase: times annotated as a trigger (``triggers``), times it occurs in the sentences (``occurrences``)."""

    triggers: dict[str, int] = field(default_factory=dict)
    occurrences: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, sentences: Iterable[tuple[str, Sequence[tuple[int, int]]]]) -> TriggerLexicon:
        """Count from ``(sentence text, trigger spans in it)`` pairs (character offsets, end exclusive)."""
        texts: list[str] = []
        triggers: Counter[str] = Counter()
        for text, spans in sentences:
            texts.append(text)
            for start, end in spans:
                inside = [(a, b) for a, b in words(text) if a < end and b > start]
                if 0 < len(inside) <= MAX_WORDS:
                    triggers[phrase(text, inside)] += 1
        occurrences: Counter[str] = Counter()
        for text in texts:
            spans = words(text)
            for n in range(1, MAX_WORDS + 1):
                for i in range(len(spans) - n + 1):
                    key = phrase(text, spans[i : i + n])
                    if key in triggers:
                        occurrences[key] += 1
        return cls(dict(sorted(triggers.items())), {k: occurrences[k] for k in sorted(triggers)})

    def prior(self, key: str) -> float:
        """The share of ``key``'s occurrences annotated as a trigger (smoothed; 0 for an unknown phrase)."""
        count = self.triggers.get(key, 0)
        return count / (self.occurrences.get(key, 0) + SMOOTHING) if count else 0.0

    def redraw(self, text: str, start: int, end: int, margin: float) -> tuple[int, int]:
        """The span of ``text`` to report for a trigger decoded at ``[start, end)``.

        Candidates overlap the decoded words and reach at most :data:`REACH` words beyond them on either side,
        and the annotation marks their phrase at least :data:`MIN_COUNT` times; one wins when its prior beats the
        best so far (the decoded span's to begin with) by more than ``margin``. Without a winner the span stays.
        """
        spans = words(text)
        inside = [k for k, (a, b) in enumerate(spans) if a < end and b > start]
        if not inside:
            return start, end
        first, last = inside[0], inside[-1] + 1
        best, best_prior = (first, last), self.prior(phrase(text, spans[first:last]))
        for a in range(max(0, first - REACH), last):
            for b in range(max(a + 1, first + 1), min(len(spans), last + REACH) + 1):
                if b - a > MAX_WORDS or (a, b) == (first, last):
                    continue
                key = phrase(text, spans[a:b])
                if self.triggers.get(key, 0) < MIN_COUNT:
                    continue
                value = self.prior(key)
                if value > best_prior + margin:
                    best, best_prior = (a, b), value
        if best == (first, last):
            return start, end
        return spans[best[0]][0], spans[best[1] - 1][1]

    # -- persistence ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, int]]:
        return {"triggers": self.triggers, "occurrences": self.occurrences}

    @classmethod
    def from_dict(cls, data: object) -> TriggerLexicon:
        """Read what :meth:`to_dict` wrote; :class:`ValueError` on anything else."""
        if not isinstance(data, dict) or set(data) != {"triggers", "occurrences"}:
            raise ValueError("a trigger lexicon is an object with exactly 'triggers' and 'occurrences'")
        tables: list[dict[str, int]] = []
        for name in ("triggers", "occurrences"):
            table = data[name]
            if not isinstance(table, dict) or not all(
                isinstance(k, str) and type(v) is int and v >= 0 for k, v in table.items()
            ):
                raise ValueError(f"trigger lexicon '{name}' must map phrases to non-negative integers")
            tables.append(table)
        return cls(*tables)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        (folder / LEXICON_FILE).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> TriggerLexicon | None:
        """The lexicon saved in ``folder``; ``None`` when there is none (models saved before it existed)."""
        path = folder / LEXICON_FILE
        if not path.is_file():
            return None
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
