"""Argument candidates of a trigger scored by a logistic regression over the role scorer, the mention head and the
words at their edges.

The mention head tags one flat layer of spans, but CASIE's arguments nest and split: ``9.4 million customers`` holds
a ``Number-of-Victim`` (``9.4 million``) and a ``Victim`` (``customers``); ``home addresses, insurance policy
numbers and health history information`` is three ``Compromised-Data`` arguments; ``an update today`` is a
``Patch`` and a ``Time``. On dev, a third of the gold arguments of correctly found triggers overlap a decoded
mention without matching it. An :class:`ArgumentRanker` decides per *candidate*: every run of up to
:data:`MAX_ARGUMENT_WORDS` words inside a span the mention head decodes at one of :data:`MENTION_OFFSETS`
(:func:`argument_candidates`), paired with each trigger of the sentence and the role the pair scorer likes best
for it (``none`` aside). :func:`argument_features` describes a pair by the role scorer's probabilities, the mention
head's tag probabilities at and around the candidate's edges, where it lies from the trigger, which decoded spans
it came from, and its first, last and neighbouring words (indicator features, with the role). The weights are a
logistic regression (:class:`~threatevents.models.trigger_ranker.TriggerRanker`'s fit) on the training sentences'
gold triggers; decoding keeps, per trigger and best first, the candidates whose probability reaches a threshold
chosen on dev (``Decoding.arguments_rank``) and that overlap none kept before.

Scoring needs only numpy and the weights, saved as JSON with the event heads (``events/argument_ranker.json``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from ..labels import ARGUMENT_ROLES, EVENT_LABELS
from .trigger_lexicon import words
from .trigger_ranker import TriggerRanker

#: Offsets (added to the mention head's ``B``/``I`` log-probabilities) at which decoded spans give candidates.
MENTION_OFFSETS = (0.0, 1.5, 3.0)
#: The longest candidate cut from a decoded span, in words (a longer decoded span is a candidate whole).
MAX_ARGUMENT_WORDS = 8
ARGUMENT_RANKER_FILE = "argument_ranker.json"
NONE_ROLE = len(ARGUMENT_ROLES)

#: ``(part, start, end)``: a span of one of the window's sentences (``part``: previous, current, next).
Place = tuple[int, int, int]


class ArgumentRanker(TriggerRanker):
    """Logistic-regression weights over named features of a (trigger, candidate argument, role) triple."""

    FILE: ClassVar[str] = ARGUMENT_RANKER_FILE
    NAME: ClassVar[str] = "argument ranker"


def argument_candidates(
    decoded: Sequence[Sequence[tuple[int, int, int]]], texts: Sequence[str | None]
) -> dict[Place, set[str]]:
    """The candidates of a window and where each came from.

    ``decoded[k]`` holds the ``(part, start, end)`` word spans the mention head decoded at the ``k``-th offset of
    :data:`MENTION_OFFSETS`; ``texts[part]`` is that part's sentence. A decoded span is a candidate (source ``d<k>``)
    and so is every run of up to :data:`MAX_ARGUMENT_WORDS` of its words that neither starts nor ends with
    punctuation (source ``s<k>``).
    """
    out: dict[Place, set[str]] = {}
    pieces: dict[int, list[tuple[int, int]]] = {}
    for k, spans in enumerate(decoded):
        for part, start, end in spans:
            out.setdefault((part, start, end), set()).add(f"d{k}")
            text = texts[part]
            if text is None:
                continue
            if part not in pieces:
                pieces[part] = words(text)
            inside = [(a, b) for a, b in pieces[part] if a < end and b > start]
            usable = [text[a].isalnum() or text[a] in "$€£#" for a, _ in inside]
            for i in range(len(inside)):
                if not usable[i]:
                    continue
                for j in range(i, min(len(inside), i + MAX_ARGUMENT_WORDS)):
                    if usable[j] and (i, j) != (0, len(inside) - 1):
                        out.setdefault((part, inside[i][0], inside[j][1]), set()).add(f"s{k}")
    return out


def _word(text: str, at: int, step: int) -> str:
    """The word before (``step`` -1) or after (+1) character ``at`` of ``text``, lower-cased (``<s>``/``</s>`` at
    the ends)."""
    if step < 0:
        head = text[:at].rstrip()
        if not head:
            return "<s>"
        tail = words(head[-40:])
        return head[-40:][tail[-1][0] : tail[-1][1]].lower() if tail else "<s>"
    rest = text[at:].lstrip()
    if not rest:
        return "</s>"
    first = words(rest[:40])
    return rest[first[0][0] : first[0][1]].lower() if first else "</s>"


def _shape(token: str) -> str:
    """A coarse shape of a word: ``num``, ``Cap``, ``low``, ``UP`` or ``other``."""
    if any(c.isdigit() for c in token):
        return "num"
    if token[:1].isupper():
        return "UP" if token.isupper() and len(token) > 1 else "Cap"
    return "low" if token[:1].islower() else "other"


def argument_features(
    text: str,
    place: Place,
    sources: set[str],
    tokens: tuple[int, int],
    trigger: tuple[int, int, int],
    role_log_probs: np.ndarray,
    mention_probs: np.ndarray,
    parts: np.ndarray,
) -> tuple[int, dict[str, float]]:
    """The role a candidate is paired with and its features.

    ``text`` is the candidate's sentence, ``place`` its ``(part, start, end)``, ``tokens`` its first and end
    token in the window; ``trigger`` is ``(first token, end token, event label index)``; ``role_log_probs`` the
    pair's ``(roles + 1,)`` log-probabilities from the role scorer; ``mention_probs`` the window's ``(tokens, 3)``
    mention tag probabilities (``O``, ``B``, ``I``); ``parts`` the window's token parts."""
    part, start, end = place
    s, e = tokens
    t_start, t_end, kind = trigger
    roles = role_log_probs[:NONE_ROLE]
    role = int(roles.argmax())
    name = ARGUMENT_ROLES[role]
    label = EVENT_LABELS[kind]
    best = float(roles[role])
    second = float(np.partition(roles, -2)[-2]) if len(roles) > 1 else -30.0
    none = float(role_log_probs[NONE_ROLE])
    inside = 1.0 - mention_probs[s:e, 0]
    n = len(mention_probs)
    after = e < n and parts[e] == part
    before = s > 0 and parts[s - 1] == part
    if e <= t_start:
        gap, side = t_start - e, "before"
    elif s >= t_end:
        gap, side = s - t_end, "after"
    else:
        gap, side = 0, "overlap"
    distance = "0" if gap == 0 else "1-2" if gap <= 2 else "3-5" if gap <= 5 else "6-10" if gap <= 10 else "11+"
    span = text[start:end]
    pieces = words(span)
    first = span[pieces[0][0] : pieces[0][1]] if pieces else span
    last = span[pieces[-1][0] : pieces[-1][1]] if pieces else span
    out = {
        "p_role": math.exp(best),
        "log_p_role": max(best, -30.0),
        "p_none": math.exp(none),
        "role_vs_none": max(min(best - none, 30.0), -30.0),
        "role_margin": min(best - second, 30.0),
        "p_begin": float(mention_probs[s, 1]),
        "p_inside_first": float(mention_probs[s, 2]),
        "p_mention": float(inside.mean()),
        "p_mention_min": float(inside.min()),
        "p_continue_after": float(mention_probs[e, 2]) if after else 0.0,
        "p_o_after": float(mention_probs[e, 0]) if after else 1.0,
        "p_mention_before": float(1.0 - mention_probs[s - 1, 0]) if before else 0.0,
        "words": float(len(pieces)),
        f"role={name}": 1.0,
        f"role={name}|{label}": 1.0,
        f"role={name}|p": math.exp(best),
        f"role={name}|part={part}": 1.0,
        f"role={name}|{side}|{distance}": 1.0,
        f"role={name}|words={min(len(pieces), 6)}": 1.0,
        f"role={name}|first={first.lower()}": 1.0,
        f"role={name}|last={last.lower()}": 1.0,
        f"role={name}|left={_word(text, start, -1)}": 1.0,
        f"role={name}|right={_word(text, end, 1)}": 1.0,
        f"role={name}|shape={_shape(first)}-{_shape(last)}": 1.0,
        f"first={first.lower()}": 1.0,
        f"last={last.lower()}": 1.0,
    }
    for source in sources:
        out[f"source={source}"] = 1.0
    if not any(source.startswith("d") for source in sources):
        out["cut"] = 1.0
    return role, out


def select_arguments(scored: Sequence[tuple[float, Place, int]], threshold: float) -> list[tuple[float, Place, int]]:
    """The arguments of one trigger kept: best score first, at least ``threshold``, none overlapping (in the same
    sentence) one kept before; in window order."""
    kept: list[tuple[float, Place, int]] = []
    for score, place, role in sorted(scored, key=lambda c: (-c[0], c[1])):
        if score < threshold:
            break
        part, start, end = place
        if any(p == part and a < end and b > start for _, (p, a, b), _r in kept):
            continue
        kept.append((score, place, role))
    return sorted(kept, key=lambda c: c[1])
