"""How the review page draws a sentence's events: its text cut into pieces at every span boundary.

Trigger and argument spans (document offsets) may overlap, within an event and across events, so they cannot
be nested elements. The sentence text is cut at every boundary of every live span instead; each piece knows
which triggers and arguments cover it and which span labels end right after it. The template renders a piece
as one element whose ``data-start`` is its document offset, and the labels as elements the page script skips
when it maps a browser selection back to document offsets. ``static/review.js`` draws the same pieces after
an edit (``renderSentence``); the two must agree.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Tag:
    """A label drawn after the end of a span: ``text`` is a trigger's realis (drawn with its type) or an
    argument's role."""

    kind: str  # "trigger" or "argument"
    event_id: int
    event_type: str
    text: str
    argument_id: int | None = None


@dataclass(frozen=True)
class Piece:
    """``text`` = the document's ``[start, end)``; ``triggers``/``arguments`` are the events / ``(event, argument)``
    ids whose live spans cover it; ``tags`` are the span labels that end with it."""

    start: int
    end: int
    text: str
    event_type: str | None = None
    triggers: tuple[int, ...] = ()
    arguments: tuple[tuple[int, int], ...] = ()
    roles: tuple[str, ...] = ()
    tags: tuple[Tag, ...] = field(default_factory=tuple)

    @property
    def marked(self) -> bool:
        return bool(self.triggers or self.arguments)

    @property
    def event_ids(self) -> str:
        """The ids of the events with a span over this piece, space-separated (``data-events``)."""
        ids = dict.fromkeys([*self.triggers, *(event for event, _ in self.arguments)])
        return " ".join(str(i) for i in ids)


def as_dict(event: Any) -> dict[str, Any]:
    """An event as the contract's JSON object (a pydantic view or a mapping)."""
    if hasattr(event, "model_dump"):
        dumped: dict[str, Any] = event.model_dump(mode="json")
        return dumped
    return dict(event)


def live(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The events or arguments not deleted."""
    return [item for item in items if item.get("state") != "deleted"]


def pieces(text: str, start: int, events: Sequence[Mapping[str, Any]]) -> list[Piece]:
    """``text`` (the document's text from offset ``start``) cut at every boundary of the live trigger and
    argument spans of ``events`` that fall inside it (spans are clipped to the sentence)."""
    end = start + len(text)
    spans: list[tuple[int, int, Tag]] = []
    for event in live(events):
        trigger = event["trigger"]
        event_id, event_type = int(event["id"]), str(event["type"])
        spans.append((trigger["start"], trigger["end"], Tag("trigger", event_id, event_type, str(event["realis"]))))
        for argument in live(event.get("arguments", [])):
            tag = Tag("argument", event_id, event_type, str(argument["role"]), int(argument["id"]))
            spans.append((argument["start"], argument["end"], tag))
    # Clipped to the sentence; a span's label goes where the span really ends (maybe in a later sentence).
    labelled = {id(tag) for _, b, tag in spans if b <= end}
    spans = [(max(a, start), min(b, end), tag) for a, b, tag in spans if a < end and b > start and a < b]
    cuts = sorted({start, end, *(a for a, _, _ in spans), *(b for _, b, _ in spans)})
    out = []
    for a, b in itertools.pairwise(cuts):
        covering = [tag for s, e, tag in spans if s <= a and b <= e]
        triggers = tuple(tag.event_id for tag in covering if tag.kind == "trigger")
        arguments = tuple((tag.event_id, tag.argument_id or 0) for tag in covering if tag.kind == "argument")
        roles = tuple(tag.text for tag in covering if tag.kind == "argument")
        first = next((tag for tag in covering if tag.kind == "trigger"), covering[0] if covering else None)
        tags = tuple(tag for _, e, tag in spans if e == b and id(tag) in labelled and tag in covering)
        kind = first.event_type if first else None
        out.append(Piece(a, b, text[a - start : b - start], kind, triggers, arguments, roles, tags))
    return out


def by_sentence(events: Iterable[Any]) -> dict[int, list[dict[str, Any]]]:
    """Events (as dicts) grouped by the index of the sentence holding their trigger, in trigger order."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for event in sorted((as_dict(e) for e in events), key=lambda e: (e["trigger"]["start"], e["id"])):
        grouped.setdefault(int(event["sentence"]), []).append(event)
    return grouped


def sentence_pieces(
    text: str, bounds: Sequence[tuple[int, int]], events: Sequence[Mapping[str, Any]]
) -> list[list[Piece]]:
    """The pieces of each sentence (``bounds`` = the sentences' ``(start, end)`` in ``text``, in order): every
    event is drawn in each sentence one of its live spans reaches (an argument may lie in a neighbour)."""
    starts = [a for a, _ in bounds]
    touching: list[list[Mapping[str, Any]]] = [[] for _ in bounds]
    for event in live(events):
        spans = [event["trigger"], *live(event.get("arguments", []))]
        hit = set()
        for span in spans:
            first = max(bisect_right(starts, span["start"]) - 1, 0)
            for i in range(first, len(bounds)):
                if bounds[i][0] >= span["end"]:
                    break
                if bounds[i][1] > span["start"]:
                    hit.add(i)
        for i in sorted(hit):
            touching[i].append(event)
    return [pieces(text[a:b], a, touching[i]) for i, (a, b) in enumerate(bounds)]
