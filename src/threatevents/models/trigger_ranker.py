"""Trigger candidates scored by a logistic regression over the heads' tag probabilities, the trigger lexicon and
the words around them.

The token heads and the lexicon each know part of what makes a trigger: the heads read the context but draw
edges unlike the annotators and miss triggers; the lexicon knows which phrases the annotators mark, and how
often, but not whether this occurrence is one. A :class:`TriggerRanker` decides per *candidate* with both. The
candidates of a sentence (:func:`candidate_spans`) are the spans the trigger head decodes at two fixed offsets
(:data:`CANDIDATE_OFFSETS`, touching spans of one type joined), the same spans widened by a word or two
(:data:`EXTENSIONS`) or with their edges redrawn by the lexicon, and every phrase of the sentence the lexicon
holds, with each event type it is annotated with.
:func:`features` describes one by the heads' probabilities of its type's tags over its tokens and around it, the
sentence's probability of its type, the lexicon's counts and priors, the phrase itself, its last word and its
neighbouring words (as indicator features), and where it came from. The ranker's weights are a logistic
regression (scikit-learn, at training time only) fitted on the training sentences with the lexicon of the
*other* training documents (:data:`FOLDS`-fold cross-fitting, so a phrase's counts never include the sentence
being scored, as on new text). Decoding keeps, best first, the candidates whose probability reaches a threshold
chosen on dev (``Decoding.rank``) and that overlap none kept before.

Scoring needs only numpy and the weights, saved as JSON with the event heads (``events/trigger_ranker.json``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from ..labels import EVENT_LABELS
from .trigger_lexicon import LABEL_INDEX, MAX_WORDS, TriggerLexicon, covered, phrase, read_json, words, write_json

#: Offsets (added to the non-``O`` trigger tags' log-probabilities) at which the heads' spans become candidates.
CANDIDATE_OFFSETS = (0.0, 1.5)
#: Words added to a decoded span (left, right) to make more candidates (``accessed`` widened to ``had accessed``).
EXTENSIONS = ((1, 0), (2, 0), (0, 1), (1, 1))
#: Folds of training documents for the cross-fitted lexicons the ranker is fitted with.
FOLDS = 5
#: The logistic regression's inverse regularisation strength.
C = 1.0
#: The largest weight (or bias) a saved ranker may hold.
MAX_WEIGHT = 1e6
#: A feature is fitted only when at least this many training candidates have it.
MIN_FEATURE_COUNT = 2
RANKER_FILE = "trigger_ranker.json"

Candidate = tuple[int, int, int]  # (start, end, event label index) in the sentence


def candidate_spans(
    text: str,
    decoded: Mapping[str, Sequence[Candidate]],
    lexicon: TriggerLexicon,
    pieces: Sequence[tuple[int, int]] | None = None,
) -> dict[Candidate, set[str]]:
    """The sentence's candidates and where each came from.

    ``decoded`` maps a source name to the spans the heads decoded (``d0``, ``d1``, ... for the offsets of
    :data:`CANDIDATE_OFFSETS`). Each also comes back widened by the words of :data:`EXTENSIONS` (source
    ``<name>+<left><right>``, up to :data:`~threatevents.models.trigger_lexicon.MAX_WORDS` words) and redrawn by
    the lexicon (source ``<name>r``, margin 0); every phrase the lexicon holds is a candidate with each type it is
    annotated with (``lex``). ``pieces``: the sentence's :func:`~threatevents.models.trigger_lexicon.words` when
    already computed.
    """
    out: dict[Candidate, set[str]] = {}
    pieces = words(text) if pieces is None else pieces
    for source, spans in decoded.items():
        for start, end, kind in spans:
            out.setdefault((start, end, kind), set()).add(source)
            inside = covered(pieces, start, end)
            for left, right in EXTENSIONS:
                first, last = (inside[0] - left, inside[-1] + right) if inside else (-1, len(pieces))
                if first >= 0 and last < len(pieces) and last - first < MAX_WORDS:
                    out.setdefault((pieces[first][0], pieces[last][1], kind), set()).add(f"{source}+{left}{right}")
            redrawn = lexicon.redraw(text, start, end, 0.0, pieces)
            if redrawn != (start, end):
                out.setdefault((*redrawn, kind), set()).add(source + "r")
    for first, end, key in lexicon.phrases_in(text, pieces):
        for label in lexicon.triggers[key]:
            out.setdefault((pieces[first][0], pieces[end - 1][1], LABEL_INDEX[label]), set()).add("lex")
    return out


def features(
    text: str,
    candidate: Candidate,
    sources: set[str],
    tag_probs: np.ndarray,
    tokens: tuple[int, int],
    label_probs: Sequence[float] | np.ndarray,
    lexicon: TriggerLexicon,
    pieces: Sequence[tuple[int, int]] | None = None,
) -> dict[str, float]:
    """One candidate's features: ``tag_probs`` is the window's ``(tokens, trigger tags)`` probabilities,
    ``tokens`` the candidate's first and end token in it, ``label_probs`` the sentence's probability of each event
    label (the network's own, in :data:`~threatevents.labels.EVENT_LABELS` order); ``pieces``, the sentence's
    :func:`~threatevents.models.trigger_lexicon.words` when already computed."""
    start, end, kind = candidate
    s, e = tokens
    b_tag, i_tag = 1 + 2 * kind, 2 + 2 * kind
    typed = tag_probs[s:e, b_tag] + tag_probs[s:e, i_tag]
    pieces = words(text) if pieces is None else pieces
    inside = covered(pieces, start, end)
    key = phrase(text, [pieces[k] for k in inside]) if inside else text[start:end].lower()
    label = EVENT_LABELS[kind]
    left = phrase(text, [pieces[inside[0] - 1]]) if inside and inside[0] > 0 else "<s>"
    right = phrase(text, [pieces[inside[-1] + 1]]) if inside and inside[-1] + 1 < len(pieces) else "</s>"
    head = phrase(text, [pieces[inside[-1]]]) if inside else ""
    after = e < len(tag_probs)
    label_p = float(label_probs[kind])
    prior_type = lexicon.prior(key, label)
    out = {
        "p_begin": float(tag_probs[s, b_tag]),
        "p_inside": float(tag_probs[s + 1 : e, i_tag].mean()) if e > s + 1 else 0.0,
        "p_type": float(typed.mean()),
        "p_type_min": float(typed.min()),
        "p_any": float(1 - tag_probs[s:e, 0].mean()),
        "log_p_begin": math.log(max(float(tag_probs[s, b_tag]), 1e-12)),
        "p_o_after": float(tag_probs[e, 0]) if after else 1.0,
        "p_inside_after": float(tag_probs[e, i_tag]) if after else 0.0,
        "p_any_before": float(1 - tag_probs[s - 1, 0]) if s > 0 else 0.0,
        "label": label_p,
        "label_max": float(max(label_probs)),
        "log_label": math.log(label_p + 1e-4),
        "count": math.log1p(lexicon.count(key)),
        "count_type": math.log1p(lexicon.count(key, label)),
        "occurrences": math.log1p(lexicon.occurrences.get(key, 0)),
        "prior": lexicon.prior(key),
        "prior_type": prior_type,
        "prior_type_x_label": prior_type * label_p,
        "in_lexicon": float(key in lexicon.triggers),
        "words": float(len(inside)),
        "one_word": float(len(inside) == 1),
        f"type={label}": 1.0,
        f"phrase={key}": 1.0,
        f"phrase={key}|{label}": 1.0,
        f"head={head}|{label}": 1.0,
        f"left={left}": 1.0,
        f"left={left}|{label}": 1.0,
        f"right={right}": 1.0,
        f"right={right}|{label}": 1.0,
    }
    for source in sources:
        out[f"source={source}"] = 1.0
    return out


def select(scored: Sequence[tuple[float, Candidate]], threshold: float) -> list[tuple[float, Candidate]]:
    """The candidates kept: best score first, at least ``threshold``, none overlapping one kept before."""
    return keep_best(scored, threshold, lambda c: (0, c[1][0], c[1][1]))


Scored = TypeVar("Scored", bound=tuple[Any, ...])


def keep_best(
    scored: Sequence[Scored], threshold: float, place: Callable[[Scored], tuple[int, int, int]]
) -> list[Scored]:
    """Greedy selection of ``(score, key, ...)`` items, shared by the trigger and argument rankers: best score first
    (on a tie, the smaller key), at least ``threshold``, none whose ``place`` (sentence, start, end) overlaps one kept
    before in the same sentence; returned in key order."""
    kept: list[Scored] = []
    taken: list[tuple[int, int, int]] = []  # the places of ``kept``
    for item in sorted(scored, key=lambda c: (-c[0], c[1])):
        if item[0] < threshold:
            break
        part, start, end = where = place(item)
        if any(p == part and a < end and b > start for p, a, b in taken):
            continue
        kept.append(item)
        taken.append(where)
    return sorted(kept, key=lambda c: c[1])


@dataclass
class TriggerRanker:
    """Logistic-regression weights over named features (absent features are 0)."""

    weights: dict[str, float] = field(default_factory=dict)
    bias: float = 0.0

    FILE: ClassVar[str] = RANKER_FILE  # where it is saved in the event heads' folder
    NAME: ClassVar[str] = "trigger ranker"  # what errors call it
    MIN_COUNT: ClassVar[int] = MIN_FEATURE_COUNT  # a feature of fewer training candidates is left out

    @classmethod
    def fit(cls, examples: Sequence[Mapping[str, float]], labels: Sequence[bool], c: float = C) -> Self:
        """Fit on candidates' features and whether each is right (for the trigger ranker: a gold trigger, span and
        type); a feature of fewer than ``MIN_COUNT`` candidates is left out (it cannot generalise, and it would cost
        memory)."""
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        if len(set(labels)) < 2:
            raise ValueError(f"fitting the {cls.NAME} needs candidates that are right and ones that are not")
        seen = Counter(name for example in examples for name in example)
        kept = [{k: v for k, v in example.items() if seen[k] >= cls.MIN_COUNT} for example in examples]
        vectorizer = DictVectorizer()
        matrix = vectorizer.fit_transform(kept).tocsr()
        matrix.indices = matrix.indices.astype(np.int32)  # liblinear takes 32-bit indices only
        matrix.indptr = matrix.indptr.astype(np.int32)
        model = LogisticRegression(C=c, solver="liblinear", max_iter=3000).fit(matrix, np.asarray(labels, dtype=bool))
        coef = model.coef_[0]
        names = vectorizer.get_feature_names_out()
        return cls(
            {str(n): round(float(w), 6) for n, w in zip(names, coef, strict=True) if abs(w) >= 1e-6},
            round(float(model.intercept_[0]), 6),
        )

    def score(self, example: Mapping[str, float]) -> float:
        """The probability that a candidate is right (for the trigger ranker: a trigger)."""
        return self.probability(self.bias + self.total(example))

    def total(self, example: Mapping[str, float]) -> float:
        """The weighted sum of ``example``'s features (without the bias)."""
        return sum(self.weights.get(name, 0.0) * value for name, value in example.items())

    def probability(self, z: float) -> float:
        """The logistic function of a candidate's weighted sum ``z`` (bias included)."""
        if not math.isfinite(z):  # bounded weights and finite features cannot get here; never let NaN through
            raise ValueError(f"{self.NAME} score is not finite ({z})")
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    # -- persistence ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        return {"weights": self.weights, "bias": self.bias}

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Read what :meth:`to_dict` wrote; :class:`ValueError` on anything else."""
        if not isinstance(data, dict) or set(data) != {"weights", "bias"}:
            raise ValueError(f"a {cls.NAME} is an object with exactly 'weights' and 'bias'")
        weights, bias = data["weights"], data["bias"]

        def number(value: object) -> bool:  # a fitted weight is far below the bound; a huge one could sum to NaN
            return type(value) in (int, float) and -MAX_WEIGHT <= value <= MAX_WEIGHT  # type: ignore[operator]

        if not isinstance(weights, dict) or not all(isinstance(k, str) and number(v) for k, v in weights.items()):
            raise ValueError(f"{cls.NAME} 'weights' must map feature names to numbers within ±{MAX_WEIGHT:g}")
        if not number(bias):
            raise ValueError(f"{cls.NAME} 'bias' must be a number within ±{MAX_WEIGHT:g}")
        return cls({k: float(v) for k, v in weights.items()}, float(bias))

    def save(self, folder: Path) -> None:
        write_json(folder / self.FILE, self.to_dict())

    @classmethod
    def load(cls, folder: Path) -> Self | None:
        """The ranker saved in ``folder``; ``None`` when there is none (models saved before it existed)."""
        data = read_json(folder / cls.FILE)
        return None if data is None else cls.from_dict(data)
