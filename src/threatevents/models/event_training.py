"""The event extractor's training side: CASIE events as window targets, the torch heads and their loss.

Only the transformer's ``fit`` imports this module (it needs torch). The heads compute, in torch, what
:mod:`~threatevents.models.event_extractor` computes in numpy at inference: token logits and projected
states come out of the ONNX graph, realis and role scores are applied to pooled states by
:class:`~threatevents.models.event_extractor.EventHeadWeights`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..casie import char_map, locate_sentences
from ..corpus import Document
from ..events import Argument, CasieError, Event, ReadReport, Span, join_sentences, read_event_file
from ..labels import ARGUMENT_ROLES, EVENT_LABELS, REALIS
from .event_extractor import (
    CURRENT,
    MENTION_TAGS,
    NEXT,
    PREVIOUS,
    ROLE_CLASSES,
    SPECIAL,
    TRIGGER_TAGS,
    EventHeadWeights,
    Window,
    token_span,
)

IGNORE = -100


@dataclass
class SentenceEvents:
    """Gold events of one sentence: triggers in the sentence, arguments in it or a neighbour.

    ``triggers``: ``(start, end, type index, realis index)`` in the sentence; ``arguments[k]``: the
    arguments of trigger ``k`` as ``(part, start, end, role index)``, ``part`` one of ``PREVIOUS``,
    ``CURRENT``, ``NEXT`` and offsets in that sentence.
    """

    triggers: list[tuple[int, int, int, int]] = field(default_factory=list)
    arguments: list[list[tuple[int, int, int, int]]] = field(default_factory=list)


@dataclass
class EventAlignment:
    """Per sentence (flattened over documents) its gold events, or ``None`` when it has no supervision."""

    sentences: list[SentenceEvents | None] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    report: ReadReport = field(default_factory=ReadReport)

    def to_log(self) -> dict[str, Any]:
        supervised = sum(s is not None for s in self.sentences)
        return {
            "event_sentences": supervised,
            "event_sentences_share": round(supervised / max(len(self.sentences), 1), 4),
            **{f"event_{k}": v for k, v in sorted(self.counts.items())},
        }


def align_events(events_dir: str | Path, docs: Sequence[Document]) -> EventAlignment:
    """Gold events of every sentence of ``docs`` from ``events_dir/annotation/<doc id>.json``.

    A sentence is supervised when its document has a readable file and the sentence is found in the
    article (:func:`~threatevents.casie.locate_sentences`; spans are carried exactly into a sentence found
    only with whitespace collapsed by :func:`~threatevents.casie.char_map`). An argument outside its
    trigger's sentence and the two neighbours is left out and counted.
    """
    root = Path(events_dir)
    folder = root / "annotation" if (root / "annotation").is_dir() else root
    if not folder.is_dir():
        raise FileNotFoundError(f"no CASIE annotation folder at {root}")
    types, realis, roles = ({n: i for i, n in enumerate(names)} for names in (EVENT_LABELS, REALIS, ARGUMENT_ROLES))
    out = EventAlignment()
    for doc in docs:
        path = folder / f"{doc.id}.json"
        try:
            document = read_event_file(path, report=out.report) if path.is_file() else None
        except CasieError:
            document = None
        if document is None:
            out.counts["documents_without_annotation"] += 1
            out.sentences += [None] * len(doc.sentences)
            continue
        carry = _Carry(document.text, doc.texts)
        gold = [SentenceEvents() if found else None for found in carry.found]
        for event in document.events:
            trigger = carry.place(event.trigger.start, event.trigger.end)
            if trigger is None:
                out.counts["triggers_unplaced"] += 1
                continue
            i, t_start, t_end = trigger
            target = gold[i]
            assert target is not None  # placed spans lie in found sentences
            target.triggers.append((t_start, t_end, types[event.type], realis[event.realis]))
            args: list[tuple[int, int, int, int]] = []
            for argument in event.arguments:
                placed = carry.place(argument.start, argument.end)
                part = {i - 1: PREVIOUS, i: CURRENT, i + 1: NEXT}.get(placed[0]) if placed else None
                if placed is None or part is None:
                    out.counts["arguments_outside_window"] += 1
                    continue
                args.append((part, placed[1], placed[2], roles[argument.role]))
                out.counts[f"arguments_{['previous', 'current', 'next'][part]}"] += 1
            target.arguments.append(args)
            out.counts["triggers"] += 1
        out.sentences += gold
    return out


class _Carry:
    """Article spans carried into the corpus sentences found in the article."""

    def __init__(self, content: str, sentences: Sequence[str]) -> None:
        self.spans: list[tuple[int, int]] = []
        self.maps: list[list[int] | None] = []  # None: found verbatim (offsets shift)
        self.index: list[int] = []
        self.found = [False] * len(sentences)
        for i, (text, span) in enumerate(zip(sentences, locate_sentences(content, sentences), strict=True)):
            if span is None:
                continue
            piece = content[span[0] : span[1]]
            mapping = None if piece == text else char_map(piece, text)
            if piece != text and mapping is None:
                continue
            self.spans.append(span)
            self.maps.append(mapping)
            self.index.append(i)
            self.found[i] = True

    def place(self, start: int, end: int) -> tuple[int, int, int] | None:
        """``(sentence index, start, end)`` of an article span inside one found sentence, else ``None``."""
        for (begin, stop), mapping, i in zip(self.spans, self.maps, self.index, strict=True):
            if begin <= start and end <= stop:
                if mapping is None:
                    return i, start - begin, end - begin
                return i, mapping[start - begin], mapping[end - begin - 1] + 1
        return None


def joined_events(texts: Sequence[str], gold: Sequence[SentenceEvents | None]) -> list[Event]:
    """A document's gold sentence events as :class:`Event` objects in the frame of ``predict_events``
    (its sentences joined by :func:`~threatevents.events.join_sentences`)."""
    joined, starts = join_sentences(texts)
    out: list[Event] = []
    for i, sentence in enumerate(gold):
        if sentence is None:
            continue
        for (start, end, kind, real), arguments in zip(sentence.triggers, sentence.arguments, strict=True):
            at = starts[i]
            event = Event(EVENT_LABELS[kind], REALIS[real], Span(at + start, at + end, joined[at + start : at + end]))
            for part, a_start, a_end, role in arguments:
                a_at = starts[i + part - CURRENT]
                span = (a_at + a_start, a_at + a_end)
                event.arguments.append(Argument(ARGUMENT_ROLES[role], *span, joined[span[0] : span[1]]))
            out.append(event)
    return out


def sentence_targets(events: Sequence[Event]) -> SentenceEvents:
    """Gold events of one sentence given as :class:`Event` objects in the sentence's own frame (offsets from its
    start; an argument outside ``[0, len)`` of the sentence is not expected): the inverse of
    :func:`joined_events` for one sentence, arguments in the sentence itself (``CURRENT``)."""
    types, realis, roles = ({n: i for i, n in enumerate(names)} for names in (EVENT_LABELS, REALIS, ARGUMENT_ROLES))
    out = SentenceEvents()
    for event in events:
        out.triggers.append((event.trigger.start, event.trigger.end, types[event.type], realis[event.realis]))
        out.arguments.append([(CURRENT, a.start, a.end, roles[a.role]) for a in event.arguments])
    return out


@dataclass
class WindowTargets:
    """Training targets of one window in token terms (see :func:`window_targets`)."""

    trigger_tags: np.ndarray  # (tokens,) tag ids, IGNORE outside the sentence
    mention_tags: np.ndarray  # (tokens,) tag ids, IGNORE on special tokens
    triggers: list[tuple[int, int]]  # token spans of the gold triggers kept
    realis: list[int]
    mentions: list[tuple[int, int]]  # token spans of the distinct gold argument mentions kept
    pairs: list[tuple[int, int, int]]  # (trigger, mention, role class) for every trigger x mention


def window_targets(window: Window, gold: SentenceEvents) -> WindowTargets:
    """Token targets for ``window`` from its sentence's gold events.

    A token is in a span when its characters overlap it. Triggers or arguments cut off by truncation are
    left out; a mention overlapping one already tagged is left out (BIO cannot nest); every kept trigger is
    paired with every kept mention (role ``none`` unless the mention is one of its arguments).
    """
    n = len(window.ids)
    trigger_tags = np.where(window.part == CURRENT, 0, IGNORE).astype(np.int64)
    mention_tags = np.where(window.part == SPECIAL, IGNORE, 0).astype(np.int64)
    triggers: list[tuple[int, int]] = []
    realis: list[int] = []
    kept: list[int] = []
    for k, (start, end, kind, real) in enumerate(gold.triggers):
        span = token_span(window, CURRENT, start, end)
        if span is None or (trigger_tags[span[0] : span[1]] != 0).any():
            continue
        trigger_tags[span[0]] = 1 + 2 * kind
        trigger_tags[span[0] + 1 : span[1]] = 2 + 2 * kind
        triggers.append(span)
        realis.append(real)
        kept.append(k)
    mentions: list[tuple[int, int]] = []
    roles: dict[tuple[int, int], int] = {}  # (trigger, mention) -> role
    for t, k in enumerate(kept):
        for part, start, end, role in gold.arguments[k]:
            span = token_span(window, part, start, end)
            if span is None:
                continue
            if span not in mentions:
                if (mention_tags[span[0] : span[1]] != 0).any():
                    continue
                mention_tags[span[0]] = 1
                mention_tags[span[0] + 1 : span[1]] = 2
                mentions.append(span)
            roles.setdefault((t, mentions.index(span)), role)
    none = len(ROLE_CLASSES) - 1
    pairs = [(t, m, roles.get((t, m), none)) for t in range(len(triggers)) for m in range(len(mentions))]
    assert trigger_tags.shape == (n,)
    return WindowTargets(trigger_tags, mention_tags, triggers, realis, mentions, pairs)


class EventHeads(nn.Module):
    """Token heads (trigger BIO, mention BIO, two projections) and the pooled heads (realis, roles)."""

    def __init__(self, hidden: int, dim: int = 64) -> None:
        super().__init__()
        roles = len(ROLE_CLASSES)
        self.trigger = nn.Linear(hidden, len(TRIGGER_TAGS))
        self.mention = nn.Linear(hidden, len(MENTION_TAGS))
        self.trigger_proj = nn.Sequential(nn.Linear(hidden, dim), nn.GELU())
        self.argument_proj = nn.Sequential(nn.Linear(hidden, dim), nn.GELU())
        self.realis = nn.Linear(dim, len(REALIS))
        self.role_bilinear = nn.Parameter(torch.randn(roles, dim, dim) * (0.02 / dim**0.5))
        self.role = nn.Linear(2 * dim, roles)

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per token: trigger logits, mention logits, trigger states, argument states."""
        return self.trigger(hidden), self.mention(hidden), self.trigger_proj(hidden), self.argument_proj(hidden)

    def role_logits(self, trigger: torch.Tensor, argument: torch.Tensor) -> torch.Tensor:
        bilinear = torch.einsum("nd,rde,ne->nr", trigger, self.role_bilinear, argument)
        return bilinear + self.role(torch.cat([trigger, argument], dim=1))

    def numpy_weights(self) -> EventHeadWeights:
        with torch.no_grad():
            return EventHeadWeights(
                realis_weight=self.realis.weight.numpy().copy(),
                realis_bias=self.realis.bias.numpy().copy(),
                role_bilinear=self.role_bilinear.numpy().copy(),
                role_weight=self.role.weight.numpy().copy(),
                role_bias=self.role.bias.numpy().copy(),
            )


def event_loss(
    heads: EventHeads, hidden: torch.Tensor, targets: Sequence[WindowTargets | None], trigger_weight: float = 1.0
) -> torch.Tensor:
    """Sum of four mean cross-entropies over the rows that have targets: trigger tags (times ``trigger_weight``),
    mention tags, realis of gold triggers, role of every gold trigger x gold mention pair."""
    rows = [r for r, t in enumerate(targets) if t is not None]
    if not rows:
        return hidden.new_zeros(())
    hidden = hidden[rows]
    width = hidden.shape[1]
    trig_logits, ment_logits, trig_states, arg_states = heads(hidden)
    trig_tags = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    ment_tags = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    trig_vecs, realis, pair_t, pair_a, pair_role = [], [], [], [], []
    for i, r in enumerate(rows):
        target = targets[r]
        assert target is not None
        n = min(width, target.trigger_tags.shape[0])
        trig_tags[i, :n] = torch.from_numpy(target.trigger_tags[:n])
        ment_tags[i, :n] = torch.from_numpy(target.mention_tags[:n])
        pooled_t = [trig_states[i, s:e].mean(dim=0) for s, e in target.triggers]
        pooled_m = [arg_states[i, s:e].mean(dim=0) for s, e in target.mentions]
        trig_vecs += pooled_t
        realis += target.realis
        for t, m, role in target.pairs:
            pair_t.append(pooled_t[t])
            pair_a.append(pooled_m[m])
            pair_role.append(role)
    ce = nn.functional.cross_entropy
    loss = trigger_weight * ce(
        trig_logits.reshape(-1, trig_logits.shape[-1]), trig_tags.reshape(-1), ignore_index=IGNORE
    )
    loss = loss + ce(ment_logits.reshape(-1, ment_logits.shape[-1]), ment_tags.reshape(-1), ignore_index=IGNORE)
    if trig_vecs:
        loss = loss + ce(heads.realis(torch.stack(trig_vecs)), torch.tensor(realis))
    if pair_t:
        logits = heads.role_logits(torch.stack(pair_t), torch.stack(pair_a))
        loss = loss + ce(logits, torch.tensor(pair_role))
    return loss
