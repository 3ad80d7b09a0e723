"""Argument candidates of a trigger scored by a logistic regression over the role scorer, the mention head and the
words at their edges.

The mention head tags one flat layer of spans, but CASIE's arguments nest and split (made-up examples in the
annotation's style): ``2.7 million subscribers`` holds a ``Number-of-Victim`` (``2.7 million``) and a ``Victim``
(``subscribers``); ``names, phone numbers and billing addresses`` is three ``Compromised-Data`` arguments; ``a fix
on Tuesday`` is a ``Patch`` and a ``Time``. On dev, over a quarter of the gold arguments of correctly found
triggers overlap a decoded mention without matching it. An :class:`ArgumentRanker` decides per *candidate*: every
run of up to :data:`MAX_ARGUMENT_WORDS` words inside a span the mention head decodes at one of :data:`MENTION_OFFSETS`
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
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import numpy as np

from ..labels import ARGUMENT_ROLES, EVENT_LABELS
from .trigger_lexicon import covered, words
from .trigger_ranker import TriggerRanker, keep_best

#: Offsets (added to the mention head's ``B``/``I`` log-probabilities) at which decoded spans give candidates.
MENTION_OFFSETS = (0.0, 1.5, 3.0)
#: The longest candidate cut from a decoded span, in words (a longer decoded span is a candidate whole).
MAX_ARGUMENT_WORDS = 8
#: A feature is fitted only when at least this many training candidates have it.
MIN_FEATURE_COUNT = 10
ARGUMENT_RANKER_FILE = "argument_ranker.json"
NONE_ROLE = len(ARGUMENT_ROLES)

#: ``(part, start, end)``: a span of one of the window's sentences (``part``: previous, current, next).
Place = tuple[int, int, int]


@dataclass
class Candidate:
    """A candidate argument: its place, its first and last word (indices into its sentence's
    :func:`~threatevents.models.trigger_lexicon.words`) and where it came from."""

    place: Place
    first: int
    last: int
    sources: set[str] = field(default_factory=set)


@dataclass
class View:
    """What a candidate's features need that no trigger changes, computed once per window (:func:`describe`):
    its numeric features, its indicator features and the ones named with the paired role (``role=<role><suffix>``)."""

    candidate: Candidate
    tokens: tuple[int, int]
    numeric: dict[str, float]
    names: list[str]
    role_suffixes: list[str]

    def role_names(self, role: str) -> list[str]:
        return [f"role={role}", *(f"role={role}{suffix}" for suffix in self.role_suffixes), *self.names]


class ArgumentRanker(TriggerRanker):
    """Logistic-regression weights over named features of a (trigger, candidate argument, role) triple."""

    FILE: ClassVar[str] = ARGUMENT_RANKER_FILE
    NAME: ClassVar[str] = "argument ranker"
    MIN_COUNT: ClassVar[int] = MIN_FEATURE_COUNT  # fewer weights than 2, the same dev score (docs/event-extractor.md)

    def score_window(
        self, views: Sequence[View], triggers: Sequence[tuple[int, int, int]], role_log_probs: np.ndarray
    ) -> list[list[tuple[float, Place, int]]]:
        """``(score, place, role)`` of every candidate (``views``) for each trigger (``(first token, end token,
        event label index)``), as :meth:`score` of :func:`argument_features` gives it, computed for all pairs at
        once: the trigger-dependent features (:func:`pair_parts`) as arrays, the others once per candidate and role.
        ``role_log_probs``: ``(triggers, candidates, roles + 1)``."""
        if not views or not triggers:
            return [[] for _ in triggers]
        lp = np.asarray(role_log_probs, dtype=np.float64)
        ranked = np.sort(lp[..., :NONE_ROLE], axis=-1)
        roles = lp[..., :NONE_ROLE].argmax(axis=-1)  # (triggers, candidates)
        best, second, none = ranked[..., -1], ranked[..., -2], lp[..., NONE_ROLE]
        w = self._tables
        z = (
            self.bias
            + w["p_role"] * np.exp(best)
            + w["log_p_role"] * np.maximum(best, -30.0)
            + w["p_none"] * np.exp(none)
            + w["role_vs_none"] * np.clip(best - none, -30.0, 30.0)
            + w["role_margin"] * np.minimum(best - second, 30.0)
            + w["role_p"][roles] * np.exp(best)
        )
        kinds = np.array([kind for _, _, kind in triggers])
        z += w["role_type"][roles, kinds[:, None]]
        starts = np.array([v.tokens[0] for v in views])[None, :]
        ends = np.array([v.tokens[1] for v in views])[None, :]
        t_starts = np.array([s for s, _, _ in triggers])[:, None]
        t_ends = np.array([e for _, e, _ in triggers])[:, None]
        before, after = ends <= t_starts, starts >= t_ends
        gap = np.where(before, t_starts - ends, np.where(after, starts - t_ends, 0))
        side = np.where(before, 0, np.where(after, 1, 2))
        z += w["role_side"][roles, side, np.searchsorted(_DISTANCE_EDGES, gap)]
        get = self.weights.get
        plain = [self.total(view.numeric) + sum(get(name, 0.0) for name in view.names) for view in views]
        fixed: dict[tuple[int, int], float] = {}
        out = []
        for t, row in enumerate(roles.tolist()):
            scored = []
            for c, (view, role) in enumerate(zip(views, row, strict=True)):
                total = fixed.get((c, role))
                if total is None:
                    named = f"role={ARGUMENT_ROLES[role]}"
                    total = fixed[(c, role)] = (
                        plain[c] + get(named, 0.0) + sum(get(named + suffix, 0.0) for suffix in view.role_suffixes)
                    )
                scored.append((self.probability(float(z[t, c]) + total), view.candidate.place, role))
            out.append(scored)
        return out

    @cached_property
    def _tables(self) -> dict[str, np.ndarray]:
        """The weights of :func:`pair_parts`'s features as arrays: numeric ones by name, ``role_p`` by role,
        ``role_type`` by role and event label, ``role_side`` by role, side (before, after, overlap) and distance."""
        get = self.weights.get
        names = ARGUMENT_ROLES
        sides = ("before", "after", "overlap")
        return {
            **{k: np.array(get(k, 0.0)) for k in ("p_role", "log_p_role", "p_none", "role_vs_none", "role_margin")},
            "role_p": np.array([get(f"role={r}|p", 0.0) for r in names]),
            "role_type": np.array([[get(f"role={r}|{label}", 0.0) for label in EVENT_LABELS] for r in names]),
            "role_side": np.array(
                [[[get(f"role={r}|{side}|{d}", 0.0) for d in DISTANCES] for side in sides] for r in names]
            ),
        }


#: Token distances between a candidate and its trigger, as feature names, and the largest gap of each.
DISTANCES = ("0", "1-2", "3-5", "6-10", "11+")
_DISTANCE_EDGES = np.array([0, 2, 5, 10])


def argument_candidates(
    decoded: Sequence[Sequence[tuple[int, int, int]]], texts: Sequence[str | None]
) -> dict[Place, Candidate]:
    """The candidates of a window, by place.

    ``decoded[k]`` holds the ``(part, start, end)`` word spans the mention head decoded at the ``k``-th offset of
    :data:`MENTION_OFFSETS`; ``texts[part]`` is that part's sentence (``None``: no candidates there). A decoded span is
    a candidate (source ``d<k>``) and so is every shorter run of up to :data:`MAX_ARGUMENT_WORDS` of its words that
    neither starts nor ends with punctuation (a word starting with a letter, a digit or one of ``$€£#``; source
    ``s<k>``).
    """
    out: dict[Place, Candidate] = {}
    pieces: dict[int, list[tuple[int, int]]] = {}
    for k, spans in enumerate(decoded):
        for part, start, end in spans:
            text = texts[part]
            if text is None:
                continue
            if part not in pieces:
                pieces[part] = words(text)
            inside = covered(pieces[part], start, end)
            if not inside:
                continue
            out.setdefault((part, start, end), Candidate((part, start, end), inside[0], inside[-1])).sources.add(
                f"d{k}"
            )
            usable = [text[pieces[part][i][0]].isalnum() or text[pieces[part][i][0]] in "$€£#" for i in inside]
            for i in range(len(inside)):
                if not usable[i]:
                    continue
                for j in range(i, min(len(inside), i + MAX_ARGUMENT_WORDS)):
                    if usable[j] and (i, j) != (0, len(inside) - 1):
                        place = (part, pieces[part][inside[i]][0], pieces[part][inside[j]][1])
                        out.setdefault(place, Candidate(place, inside[i], inside[j])).sources.add(f"s{k}")
    return out


def _shape(token: str) -> str:
    """A coarse shape of a word: ``num``, ``Cap``, ``low``, ``UP`` or ``other``."""
    if any(c.isdigit() for c in token):
        return "num"
    if token[:1].isupper():
        return "UP" if token.isupper() and len(token) > 1 else "Cap"
    return "low" if token[:1].islower() else "other"


class MentionProbs:
    """A window's mention tag probabilities as Python lists (``O``, ``B``, ``I`` per token), with the running sum of
    ``1 - O`` and the tokens' parts, for describing many candidates."""

    def __init__(self, probs: np.ndarray, parts: np.ndarray) -> None:
        probs = np.asarray(probs, dtype=np.float64)
        self.o, self.b, self.i = (probs[:, k].tolist() for k in range(3))
        self.running = np.concatenate([[0.0], np.cumsum(1.0 - probs[:, 0])]).tolist()
        self.parts = np.asarray(parts).tolist()


def describe(
    text: str, pieces: Sequence[tuple[int, int]], candidate: Candidate, tokens: tuple[int, int], mention: MentionProbs
) -> View:
    """The trigger-free part of a candidate's features: ``text`` is its sentence and ``pieces`` that sentence's
    :func:`~threatevents.models.trigger_lexicon.words`, ``tokens`` its first and end token in the window and
    ``mention`` the window's mention tag probabilities."""
    part = candidate.place[0]
    s, e = tokens
    o = mention.o
    after = e < len(o) and mention.parts[e] == part
    before = s > 0 and mention.parts[s - 1] == part

    def word(k: int) -> str:
        return text[pieces[k][0] : pieces[k][1]]

    first, last = word(candidate.first), word(candidate.last)
    first_key, last_key = first.lower(), last.lower()
    left = word(candidate.first - 1).lower() if candidate.first > 0 else "<s>"
    right = word(candidate.last + 1).lower() if candidate.last + 1 < len(pieces) else "</s>"
    n_words = candidate.last - candidate.first + 1
    numeric = {
        "p_begin": mention.b[s],
        "p_inside_first": mention.i[s],
        "p_mention": (mention.running[e] - mention.running[s]) / (e - s),
        "p_mention_min": 1.0 - max(o[s:e]),
        "p_continue_after": mention.i[e] if after else 0.0,
        "p_o_after": o[e] if after else 1.0,
        "p_mention_before": 1.0 - o[s - 1] if before else 0.0,
        "words": float(n_words),
    }
    names = [f"first={first_key}", f"last={last_key}", *(f"source={x}" for x in sorted(candidate.sources))]
    if not any(source.startswith("d") for source in candidate.sources):
        names.append("cut")
    suffixes = [
        f"|part={part}",
        f"|words={min(n_words, 6)}",
        f"|first={first_key}",
        f"|last={last_key}",
        f"|left={left}",
        f"|right={right}",
        f"|shape={_shape(first)}-{_shape(last)}",
    ]
    return View(candidate, tokens, numeric, names, suffixes)


def pair_parts(
    view: View, trigger: tuple[int, int, int], role_log_probs: np.ndarray
) -> tuple[int, dict[str, float], list[str]]:
    """The role a candidate is paired with for ``trigger`` (``(first token, end token, event label index)``) and
    the features that depend on the trigger: numeric ones from the pair's ``(roles + 1,)`` role log-probabilities,
    and indicator ones (the role with the event type, with the side and distance from the trigger)."""
    s, e = view.tokens
    t_start, t_end, kind = trigger
    roles = role_log_probs[:NONE_ROLE]
    role = int(roles.argmax())
    name = ARGUMENT_ROLES[role]
    best = float(roles[role])
    second = float(np.partition(roles, -2)[-2]) if len(roles) > 1 else -30.0
    none = float(role_log_probs[NONE_ROLE])
    if e <= t_start:
        gap, side = t_start - e, "before"
    elif s >= t_end:
        gap, side = s - t_end, "after"
    else:
        gap, side = 0, "overlap"
    distance = DISTANCES[int(np.searchsorted(_DISTANCE_EDGES, gap))]
    numeric = {
        "p_role": math.exp(best),
        "log_p_role": max(best, -30.0),
        "p_none": math.exp(none),
        "role_vs_none": max(min(best - none, 30.0), -30.0),
        "role_margin": min(best - second, 30.0),
        f"role={name}|p": math.exp(best),
    }
    return role, numeric, [f"role={name}|{EVENT_LABELS[kind]}", f"role={name}|{side}|{distance}"]


def argument_features(
    view: View, trigger: tuple[int, int, int], role_log_probs: np.ndarray
) -> tuple[int, dict[str, float]]:
    """The role a candidate is paired with for ``trigger`` and all its features (:func:`describe` and
    :func:`pair_parts` together): what the ranker is fitted on."""
    role, numeric, names = pair_parts(view, trigger, role_log_probs)
    out = {**view.numeric, **numeric}
    for name in (*view.role_names(ARGUMENT_ROLES[role]), *names):
        out[name] = 1.0
    return role, out


def select_arguments(scored: Sequence[tuple[float, Place, int]], threshold: float) -> list[tuple[float, Place, int]]:
    """The arguments of one trigger kept: best score first, at least ``threshold``, none overlapping (in the same
    sentence) one kept before; in window order."""
    return keep_best(scored, threshold, lambda c: c[1])
