"""The event extractor's inference side, in numpy: sentence windows, constrained BIO decoding, role pairing.

Each sentence is read in a *window*: ``[CLS] sentence [SEP] previous-sentence-tail [SEP] next-sentence-head
[SEP]`` (segment A is the sentence, segment B its neighbours; the sentence is kept whole up to
``max_length`` and the neighbours share what is left). One encoder pass gives the sentence-label
probabilities and, per token, trigger BIO logits (``O``, ``B-type``, ``I-type`` for the five event
types), argument-mention BIO logits (``O``, ``B``, ``I``) and two projected token states. Triggers are
decoded over the sentence's own tokens, mentions over the whole window (so an argument may sit in a
neighbouring sentence), both with a Viterbi decoder that forbids ``I-X`` after anything but ``B-X``/``I-X``.
Each trigger is paired with each mention: the mean trigger state and mean mention state go through a
small bilinear role scorer (26 roles + none) and the trigger state through a realis classifier. Those
weights are the :class:`EventHeadWeights` saved as ``.npy`` files; the training side
(:mod:`~threatevents.models.event_training`) computes the same functions in torch.

Nothing here imports torch: a saved model extracts events with onnxruntime, tokenizers and numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..events import Argument, Event, Span
from ..labels import ARGUMENT_ROLES, EVENT_LABELS, REALIS
from .argument_ranker import (
    MENTION_OFFSETS,
    NONE_ROLE,
    ArgumentRanker,
    MentionProbs,
    Place,
    View,
    argument_candidates,
    describe,
    select_arguments,
)
from .trigger_lexicon import TriggerLexicon, words
from .trigger_ranker import CANDIDATE_OFFSETS, TriggerRanker, candidate_spans, features, select

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer

#: Trigger tags: ``O`` then ``B-type``, ``I-type`` for each event label in order.
TRIGGER_TAGS: tuple[str, ...] = ("O", *(f"{p}-{label}" for label in EVENT_LABELS for p in ("B", "I")))
#: Argument-mention tags (untyped: the role comes from pairing with a trigger).
MENTION_TAGS: tuple[str, ...] = ("O", "B-ARG", "I-ARG")
#: Role classes of the pair scorer: the 26 CASIE roles, then ``none`` (not an argument of this trigger).
ROLE_CLASSES: tuple[str, ...] = (*ARGUMENT_ROLES, "none")
EVENT_OUTPUTS = ("trigger_logits", "mention_logits", "trigger_states", "argument_states")
EVENT_WEIGHTS_DIR = "events"
PREVIOUS, CURRENT, NEXT, SPECIAL = 0, 1, 2, -1  # which sentence of the window a token comes from


@dataclass
class Window:
    """One sentence's encoder input and, per token, where its characters come from."""

    ids: list[int]
    types: list[int]
    part: np.ndarray  # (tokens,) PREVIOUS / CURRENT / NEXT, SPECIAL for [CLS]/[SEP]
    start: np.ndarray  # (tokens,) character offsets in that sentence (0 for specials)
    end: np.ndarray

    @property
    def pair(self) -> tuple[list[int], list[int]]:
        return self.ids, self.types


def plain_tokenizer(tokenizer_json: str) -> Tokenizer:
    """A tokenizer without truncation or padding (windows are cut by :func:`encode_windows`)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def _special_ids(tokenizer: Tokenizer) -> tuple[int, int]:
    """``[CLS]`` and ``[SEP]`` ids, as the tokenizer's own pair template places them."""
    enc = tokenizer.encode("a", "b")
    specials = [i for i, m in zip(enc.ids, enc.special_tokens_mask, strict=True) if m]
    if len(specials) < 2:
        raise ValueError("the tokenizer adds no [CLS]/[SEP] tokens to a pair; cannot build sentence windows")
    return specials[0], specials[-1]


def encode_windows(tokenizer: Tokenizer, docs: Sequence[Sequence[str]], max_length: int) -> list[Window]:
    """One :class:`Window` per sentence of ``docs``, in order (``tokenizer`` from :func:`plain_tokenizer`).

    The sentence keeps up to ``max_length - 4`` tokens; the previous sentence's last tokens and the next
    sentence's first tokens share the rest evenly (one side's unused share goes to the other).
    """
    cls_id, sep_id = _special_ids(tokenizer)
    texts = [text for doc in docs for text in doc]
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False) if texts else []
    windows: list[Window] = []
    row = 0
    for doc in docs:
        n = len(doc)
        for i in range(n):
            cur = encodings[row + i]
            prev = encodings[row + i - 1] if i > 0 else None
            nxt = encodings[row + i + 1] if i + 1 < n else None
            windows.append(_window(cur, prev, nxt, max_length, cls_id, sep_id))
        row += n
    return windows


def _window(
    cur: Encoding, prev: Encoding | None, nxt: Encoding | None, max_length: int, cls_id: int, sep_id: int
) -> Window:
    budget = max_length - 4
    n_cur = min(len(cur.ids), budget)
    rest = budget - n_cur
    len_prev = len(prev.ids) if prev is not None else 0
    len_next = len(nxt.ids) if nxt is not None else 0
    n_prev = min(len_prev, rest // 2)
    n_next = min(len_next, rest - n_prev)
    n_prev = min(len_prev, rest - n_next)
    ids, types, part, offsets = [cls_id], [0], [SPECIAL], [(0, 0)]
    ids += cur.ids[:n_cur]
    types += [0] * n_cur
    part += [CURRENT] * n_cur
    offsets += cur.offsets[:n_cur]
    ids.append(sep_id)
    types.append(0)
    part.append(SPECIAL)
    offsets.append((0, 0))
    for enc, count, which, head in ((prev, n_prev, PREVIOUS, False), (nxt, n_next, NEXT, True)):
        if enc is None or count == 0:
            continue
        sl = slice(0, count) if head else slice(len(enc.ids) - count, len(enc.ids))
        ids += enc.ids[sl]
        types += [1] * count
        part += [which] * count
        offsets += enc.offsets[sl]
        ids.append(sep_id)
        types.append(1)
        part.append(SPECIAL)
        offsets.append((0, 0))
    spans = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    return Window(ids, types, np.asarray(part, dtype=np.int8), spans[:, 0].copy(), spans[:, 1].copy())


# -- constrained BIO decoding ----------------------------------------------------------------------------
def bio_transitions(n_types: int) -> np.ndarray:
    """``(tags, tags)`` allowed moves for tags ``O, B-1, I-1, ..., B-k, I-k``: ``I-t`` only after ``B-t``/``I-t``."""
    n = 1 + 2 * n_types
    allowed = np.ones((n, n), dtype=bool)
    for t in range(n_types):
        inside = 2 + 2 * t
        allowed[:, inside] = False
        allowed[1 + 2 * t, inside] = allowed[inside, inside] = True
    return allowed


def viterbi_bio(scores: np.ndarray, allowed: np.ndarray, usable: np.ndarray | None = None) -> np.ndarray:
    """Best tag sequence under ``allowed`` transitions for per-token log-scores ``(tokens, tags)``.

    A sequence may not start with an ``I-`` tag; tokens where ``usable`` is false are forced to ``O``
    (tag 0), which also ends any span there.

    When each token's own best tag already makes an allowed sequence (most sentences: all ``O``), no
    sequence can score higher, and that one is returned without the dynamic programme (:func:`_viterbi`);
    the two agree except where two sequences tie exactly.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n_tok, n_tag = scores.shape
    if n_tok == 0:
        return np.zeros(0, dtype=np.int64)
    scores = scores.copy()
    if usable is not None:
        scores[~np.asarray(usable, dtype=bool), 1:] = -np.inf
    start_ok = np.array([tag == 0 or (tag - 1) % 2 == 0 for tag in range(n_tag)])
    greedy = scores.argmax(axis=1)
    if start_ok[greedy[0]] and allowed[greedy[:-1], greedy[1:]].all():
        return greedy.astype(np.int64)
    if n_tag == 3 and allowed.tolist() == _MENTION_ALLOWED_LIST:
        return _viterbi_mentions(scores, start_ok)
    return _viterbi(scores, allowed, start_ok)


def _viterbi_mentions(scores: np.ndarray, start_ok: np.ndarray) -> np.ndarray:
    """:func:`_viterbi` for the mention tags (``O``, ``B``, ``I``; ``I`` only after ``B`` or ``I``) over Python
    floats: the same programme and the same ties (the first best tag wins, tag 0 where every path is impossible),
    about 12 times faster than numpy's per-token calls on three tags (63 against 763 µs for 100 tokens)."""
    rows = scores.tolist()
    ok = start_ok.tolist()
    inf = -math.inf
    best = [value if allowed_first else inf for value, allowed_first in zip(rows[0], ok, strict=True)]
    back: list[tuple[int, int]] = [(0, 0)]
    for s_out, s_begin, s_inside in rows[1:]:
        p_out, p_begin, p_inside = best
        if p_out >= p_begin and p_out >= p_inside:
            any_from, any_value = 0, p_out
        elif p_begin >= p_inside:
            any_from, any_value = 1, p_begin
        else:
            any_from, any_value = 2, p_inside
        inside_from, inside_value = (1, p_begin) if p_begin >= p_inside else (2, p_inside)
        if inside_value == inf:
            inside_from = 0
        back.append((any_from, inside_from))
        best = [any_value + s_out, any_value + s_begin, inside_value + s_inside]
    tags = [0] * len(rows)
    tags[-1] = max(range(3), key=lambda k: (best[k], -k))
    for t in range(len(rows) - 1, 0, -1):
        tags[t - 1] = back[t][1] if tags[t] == 2 else back[t][0]
    return np.asarray(tags, dtype=np.int64)


def _viterbi(scores: np.ndarray, allowed: np.ndarray, start_ok: np.ndarray) -> np.ndarray:
    """The dynamic programme of :func:`viterbi_bio` over log-scores where unusable tokens are already forced."""
    n_tok, n_tag = scores.shape
    penalty = np.where(allowed, 0.0, -np.inf)
    best = np.where(start_ok, scores[0], -np.inf)
    back = np.zeros((n_tok, n_tag), dtype=np.int64)
    for t in range(1, n_tok):
        total = best[:, None] + penalty  # (from, to)
        back[t] = total.argmax(axis=0)
        best = total.max(axis=0) + scores[t]
    tags = np.zeros(n_tok, dtype=np.int64)
    tags[-1] = int(best.argmax())
    for t in range(n_tok - 1, 0, -1):
        tags[t - 1] = back[t, tags[t]]
    return tags


def bio_spans(tags: Sequence[int] | np.ndarray) -> list[tuple[int, int, int]]:
    """``(first token, last token + 1, type index)`` of each span in a tag sequence (``O, B-0, I-0, B-1...``).

    Lenient on sequences no constrained decoder produces: an ``I-t`` after ``O`` or after another type
    starts a new span of type ``t``; a ``B`` right after a span starts the next (adjacent) span.
    """
    spans: list[tuple[int, int, int]] = []
    for i, tag in enumerate(int(t) for t in tags):
        if tag == 0:
            continue
        kind, inside = (tag - 1) // 2, (tag - 1) % 2 == 1
        if inside and spans and spans[-1][2] == kind and spans[-1][1] == i:
            spans[-1] = (spans[-1][0], i + 1, kind)
        else:
            spans.append((i, i + 1, kind))
    return spans


def join_adjacent(spans: Sequence[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Spans from :func:`bio_spans` with each run of touching spans of one type made one span.

    ``B-t B-t I-t`` decodes to two spans that touch; joined, it is one span over the three tokens. Spans with a
    token between them, or of different types, stay apart.
    """
    out: list[tuple[int, int, int]] = []
    for start, end, kind in spans:
        if out and out[-1][1] == start and out[-1][2] == kind:
            out[-1] = (out[-1][0], end, kind)
        else:
            out.append((start, end, kind))
    return out


def snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` so that it neither starts nor ends inside a word (a span decoded from word pieces)."""
    while 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while 0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    return start, end


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


# -- the numpy heads ---------------------------------------------------------------------------------
@dataclass
class EventHeadWeights:
    """The small heads applied in numpy to pooled projected states (the same arithmetic as in torch)."""

    realis_weight: np.ndarray  # (3, dim)
    realis_bias: np.ndarray  # (3,)
    role_bilinear: np.ndarray  # (roles + 1, dim, dim)
    role_weight: np.ndarray  # (roles + 1, 2 * dim)
    role_bias: np.ndarray  # (roles + 1,)
    lexicon: TriggerLexicon | None = None  # trigger phrases of the training annotation (see trigger_lexicon)
    ranker: TriggerRanker | None = None  # scores trigger candidates (see trigger_ranker)
    argument_ranker: ArgumentRanker | None = None  # scores argument candidates (see argument_ranker)

    FILES = ("realis_weight", "realis_bias", "role_bilinear", "role_weight", "role_bias")

    def realis_logits(self, trigger: np.ndarray) -> np.ndarray:
        """``(n, 3)`` realis logits for pooled trigger states ``(n, dim)``."""
        return trigger @ self.realis_weight.T + self.realis_bias

    def role_logits(self, trigger: np.ndarray, argument: np.ndarray) -> np.ndarray:
        """``(n, roles + 1)`` role logits for paired pooled states ``(n, dim)`` and ``(n, dim)``."""
        bilinear = (self._bilinear_left(trigger) * argument[:, None, :]).sum(axis=2)
        return bilinear + np.concatenate([trigger, argument], axis=1) @ self.role_weight.T + self.role_bias

    def pair_role_logits(self, triggers: np.ndarray, arguments: np.ndarray) -> np.ndarray:
        """``(triggers, arguments, roles + 1)`` role logits of every trigger x argument pair, by matrix products."""
        dim = triggers.shape[1]
        left = self._bilinear_left(triggers)  # (t, roles, dim)
        bilinear = (left.reshape(-1, dim) @ arguments.T).reshape(len(triggers), -1, len(arguments))
        linear_t = triggers @ self.role_weight[:, :dim].T  # (t, roles)
        linear_a = arguments @ self.role_weight[:, dim:].T  # (a, roles)
        return bilinear.transpose(0, 2, 1) + linear_t[:, None, :] + linear_a[None, :, :] + self.role_bias

    @cached_property
    def _bilinear_flat(self) -> np.ndarray:
        """The bilinear weights as one ``(dim, roles * dim)`` matrix."""
        roles, dim, _ = self.role_bilinear.shape
        return np.ascontiguousarray(self.role_bilinear.transpose(1, 0, 2).reshape(dim, roles * dim))

    def _bilinear_left(self, trigger: np.ndarray) -> np.ndarray:
        """``trigger @ W_r`` for every role ``r``: ``(n, roles, dim)``."""
        roles, dim, _ = self.role_bilinear.shape
        return (trigger @ self._bilinear_flat).reshape(len(trigger), roles, dim)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name in self.FILES:
            np.save(folder / f"{name}.npy", np.ascontiguousarray(getattr(self, name), dtype=np.float32))
        if self.lexicon is not None:
            self.lexicon.save(folder)
        if self.ranker is not None:
            self.ranker.save(folder)
        if self.argument_ranker is not None:
            self.argument_ranker.save(folder)

    @classmethod
    def load(cls, folder: Path) -> EventHeadWeights:
        arrays = {name: np.load(folder / f"{name}.npy", allow_pickle=False) for name in cls.FILES}
        weights = cls(
            **arrays,
            lexicon=TriggerLexicon.load(folder),
            ranker=TriggerRanker.load(folder),
            argument_ranker=ArgumentRanker.load(folder),
        )
        dim = weights.realis_weight.shape[1]
        roles = len(ROLE_CLASSES)
        shapes = {
            "realis_weight": (len(REALIS), dim),
            "realis_bias": (len(REALIS),),
            "role_bilinear": (roles, dim, dim),
            "role_weight": (roles, 2 * dim),
            "role_bias": (roles,),
        }
        for name, shape in shapes.items():
            if arrays[name].shape != shape:
                raise ValueError(f"{folder}/{name}.npy has shape {arrays[name].shape}, expected {shape}")
        return weights


@dataclass
class WindowOutputs:
    """The event outputs of one window, unpadded: ``(tokens, ...)`` arrays."""

    trigger_logits: np.ndarray
    mention_logits: np.ndarray
    trigger_states: np.ndarray
    argument_states: np.ndarray


@dataclass(frozen=True)
class Decoding:
    """Decoding choices made on dev (the defaults are plain argmax decoding).

    ``trigger``, ``mention`` and ``argument`` are offsets: added to the log-probability of every non-``O``
    trigger tag, every non-``O`` mention tag, and subtracted from the ``none`` role of each pair. Positive
    values trade precision for recall (the tags are ~98% ``O`` in training). ``join_triggers`` and
    ``join_mentions`` make one span of spans of the same type that touch (``B B I`` read as ``B I I``): the
    token heads often start a multi-word trigger twice (``had`` | ``been accessed``), see :func:`join_adjacent`.
    ``trigger_boundaries`` redraws each trigger's edges toward the phrases the training annotation marks as
    triggers, where their prior beats the decoded span's by more than ``boundary_margin``
    (:meth:`~threatevents.models.trigger_lexicon.TriggerLexicon.redraw`; no effect without a lexicon).
    ``propose`` > 0 adds the triggers the lexicon proposes at that threshold where the heads found none
    (:meth:`~threatevents.models.trigger_lexicon.TriggerLexicon.propose`; needs the sentence's label
    probabilities; 0: off). ``rank`` > 0 replaces all of these for triggers: the trigger ranker scores the
    candidates (the heads' spans at fixed offsets, widened and redrawn, and the lexicon's phrases) and the best
    ones at least ``rank`` are kept (:mod:`~threatevents.models.trigger_ranker`; needs the ranker, the lexicon and
    the network's own label probabilities; 0: off). ``arguments_rank`` > 0 replaces the mention offset, the mention
    join and the argument offset: the argument ranker scores each trigger's candidates (the runs of words inside the
    mentions decoded at fixed offsets) and keeps the best ones at least ``arguments_rank``
    (:mod:`~threatevents.models.argument_ranker`; needs the argument ranker; 0: off).
    """

    trigger: float = 0.0
    mention: float = 0.0
    argument: float = 0.0
    join_triggers: bool = False
    join_mentions: bool = False
    trigger_boundaries: bool = False
    boundary_margin: float = 0.0
    propose: float = 0.0
    rank: float = 0.0
    arguments_rank: float = 0.0


_TRIGGER_ALLOWED = bio_transitions(len(EVENT_LABELS))
_MENTION_ALLOWED = bio_transitions(1)
_MENTION_ALLOWED_LIST = _MENTION_ALLOWED.tolist()


def _word_spans(
    window: Window, spans: Sequence[tuple[int, int, int]], sentences: Sequence[tuple[str, int] | None]
) -> list[tuple[int, int, int, int, int, int]]:
    """Decoded token spans widened to whole words: ``(part, char start, char end, first token, end token, type)``.

    The token range is that of the whole words (every piece of them, as :func:`token_span` gives it for the
    characters, and as training saw its spans), not only the pieces decoded: so a trigger or mention gives the same
    states, hence realis and roles, whether it was decoded or given by its characters. Spans whose part has no
    sentence are dropped; spans that widen to the same characters (two pieces of one word) become one, with the
    first one's type.
    """
    out: dict[tuple[int, int, int], tuple[int, int, int, int, int, int]] = {}
    for s, e, kind in spans:
        part = int(window.part[s])
        where = sentences[part] if part != SPECIAL else None
        if where is None:
            continue
        c_start, c_end = snap_to_words(where[0], int(window.start[s]), int(window.end[e - 1]))
        if (part, c_start, c_end) not in out:
            first, end = token_span(window, part, c_start, c_end) or (s, e)
            out[(part, c_start, c_end)] = (part, c_start, c_end, first, end, kind)
    return list(out.values())


def _redrawn(
    window: Window,
    triggers: Sequence[tuple[int, int, int, int, int, int]],
    sentences: Sequence[tuple[str, int] | None],
    lexicon: TriggerLexicon,
    margin: float,
) -> list[tuple[int, int, int, int, int, int]]:
    """Word spans from :func:`_word_spans` with their characters redrawn by ``lexicon`` (and their tokens those of the
    redrawn words); of two triggers of one type redrawn to the same characters the first is kept."""
    out: dict[tuple[int, int, int, int], tuple[int, int, int, int, int, int]] = {}
    for part, c_start, c_end, s, e, kind in triggers:
        text = sentences[part][0]  # type: ignore[index]  # _word_spans keeps spans of present sentences
        start, end = lexicon.redraw(text, c_start, c_end, margin)
        first, last = token_span(window, part, start, end) or (s, e)
        out.setdefault((part, start, end, kind), (part, start, end, first, last, kind))
    return list(out.values())


def token_span(window: Window, part: int, start: int, end: int) -> tuple[int, int] | None:
    """First and end token of the window's tokens from sentence ``part`` whose characters overlap ``[start, end)``
    (``None`` when none do, e.g. cut off by the window)."""
    inside = (window.part == part) & (window.start < end) & (window.end > start) & (window.end > window.start)
    hits = np.flatnonzero(inside)
    return (int(hits[0]), int(hits[-1]) + 1) if hits.size else None


def _proposed(
    window: Window,
    triggers: Sequence[tuple[int, int, int, int, int, int]],
    text: str,
    lexicon: TriggerLexicon,
    labels: np.ndarray,
    threshold: float,
) -> dict[tuple[int, int, int, int, int, int], float]:
    """The triggers the lexicon proposes in the window's sentence, as :func:`_word_spans` gives them, with their
    scores: clear of the decoded ones and of the sentence's characters cut off by the window."""
    taken = [(c_start, c_end) for part, c_start, c_end, *_ in triggers if part == CURRENT]
    inside = window.part == CURRENT
    limit = int(window.end[inside].max()) if inside.any() else 0
    out: dict[tuple[int, int, int, int, int, int], float] = {}
    for start, end, kind, score in lexicon.propose(text, labels, threshold, taken):
        tokens = token_span(window, CURRENT, start, end) if end <= limit else None
        if tokens is not None:
            out[(CURRENT, start, end, *tokens, kind)] = score
    return out


def _decoded_triggers(
    window: Window,
    trigger_log_probs: np.ndarray,
    offset: float,
    join: bool,
    sentences: Sequence[tuple[str, int] | None],
) -> tuple[np.ndarray, list[tuple[int, int, int, int, int, int]]]:
    """The trigger tags Viterbi decodes on the window's sentence at ``offset``, and their spans as
    :func:`_word_spans` gives them (touching spans of one type joined when ``join``)."""
    tags = viterbi_bio(_lifted(trigger_log_probs, offset), _TRIGGER_ALLOWED, window.part == CURRENT)
    spans = bio_spans(tags)
    return tags, _word_spans(window, join_adjacent(spans) if join else spans, sentences)


def _decoded_mentions(
    window: Window,
    mention_log_probs: np.ndarray,
    offset: float,
    join: bool,
    sentences: Sequence[tuple[str, int] | None],
) -> list[tuple[int, int, int, int, int, int]]:
    """The mention spans Viterbi decodes over the whole window at ``offset``, as :func:`_word_spans` gives them
    (touching spans joined when ``join``)."""
    spans = bio_spans(viterbi_bio(_lifted(mention_log_probs, offset), _MENTION_ALLOWED, window.part != SPECIAL))
    return _word_spans(window, join_adjacent(spans) if join else spans, sentences)


def ranker_candidates(
    window: Window, trigger_log_probs: np.ndarray, text: str, label_probs: np.ndarray, lexicon: TriggerLexicon
) -> list[tuple[tuple[int, int, int], tuple[int, int], dict[str, float]]]:
    """The trigger ranker's candidates in the window's sentence (``text``): ``((start, end, type), (first token,
    end token), features)``, for scoring (:class:`~threatevents.models.trigger_ranker.TriggerRanker`) or, with the
    gold triggers, for fitting it. ``label_probs`` are the network's own probabilities of the sentence labels."""
    here: list[tuple[str, int] | None] = [None, (text, 0), None]
    pieces = words(text)
    decoded: dict[str, list[tuple[int, int, int]]] = {}
    for i, offset in enumerate(CANDIDATE_OFFSETS):
        spans = _decoded_triggers(window, trigger_log_probs, offset, True, here)[1]
        decoded[f"d{i}"] = [(start, end, kind) for _part, start, end, _s, _e, kind in spans]
    tag_probs = np.exp(trigger_log_probs)
    out = []
    for candidate, sources in candidate_spans(text, decoded, lexicon, pieces).items():
        tokens = token_span(window, CURRENT, candidate[0], candidate[1])
        if tokens is not None:
            example = features(text, candidate, sources, tag_probs, tokens, label_probs, lexicon, pieces)
            out.append((candidate, tokens, example))
    return out


def _ranked(
    window: Window,
    trigger_log_probs: np.ndarray,
    text: str,
    heads: EventHeadWeights,
    label_probs: np.ndarray,
    threshold: float,
) -> dict[tuple[int, int, int, int, int, int], float]:
    """The triggers the ranker keeps in the window's sentence, as :func:`_word_spans` gives them, with their
    scores."""
    assert heads.ranker is not None and heads.lexicon is not None
    found = ranker_candidates(window, trigger_log_probs, text, label_probs, heads.lexicon)
    tokens = {candidate: span for candidate, span, _ in found}
    scored = [(heads.ranker.score(example), candidate) for candidate, _, example in found]
    return {(CURRENT, a, b, *tokens[(a, b, k)], k): score for score, (a, b, k) in select(scored, threshold)}


def argument_views(
    window: Window,
    outputs: WindowOutputs,
    heads: EventHeadWeights,
    sentences: Sequence[tuple[str, int] | None],
    triggers: Sequence[tuple[int, int, int]],
) -> tuple[list[View], np.ndarray]:
    """The argument ranker's candidates in the window, described
    (:func:`~threatevents.models.argument_ranker.describe`), and the role scorer's ``(triggers, candidates,
    roles + 1)`` log-probabilities of each of ``triggers`` (``(first token, end token, event label index)`` in the
    window) with each candidate."""
    nothing = np.zeros((len(triggers), 0, len(ROLE_CLASSES)))
    if not triggers:
        return [], nothing
    mention_lp = log_softmax(outputs.mention_logits)
    decoded = [
        [(part, a, b) for part, a, b, *_ in _decoded_mentions(window, mention_lp, offset, True, sentences)]
        for offset in MENTION_OFFSETS
    ]
    texts = [where[0] if where is not None else None for where in sentences]
    found = argument_candidates(decoded, texts)
    pieces = {part: words(text) for part, text in enumerate(texts) if text is not None}
    spans = _TokenSpans(window)
    mention = MentionProbs(np.exp(mention_lp), window.part)
    views = []
    for candidate in found.values():
        tokens = spans.find(*candidate.place)
        text = texts[candidate.place[0]]
        if tokens is not None and text is not None:  # argument_candidates cuts runs from present sentences only
            views.append(describe(text, pieces[candidate.place[0]], candidate, tokens, mention))
    if not views:
        return [], nothing
    trig_vecs = np.stack([outputs.trigger_states[s:e].mean(axis=0) for s, e, _ in triggers])
    running = np.concatenate([np.zeros((1, outputs.argument_states.shape[1])), np.cumsum(outputs.argument_states, 0)])
    first, end = np.array([v.tokens for v in views]).T
    arg_vecs = (running[end] - running[first]) / (end - first)[:, None]  # each candidate's mean state
    return views, log_softmax(heads.pair_role_logits(trig_vecs, arg_vecs))


class _TokenSpans:
    """:func:`token_span` by binary search, for many spans of one window (each part's tokens run in text order)."""

    def __init__(self, window: Window) -> None:
        self.index: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for part in (PREVIOUS, CURRENT, NEXT):
            rows = np.flatnonzero((window.part == part) & (window.end > window.start))
            self.index[part] = (rows, window.start[rows], window.end[rows])

    def find(self, part: int, start: int, end: int) -> tuple[int, int] | None:
        rows, starts, ends = self.index[part]
        first = int(np.searchsorted(ends, start, side="right"))  # the first token ending after start
        last = int(np.searchsorted(starts, end, side="left")) - 1  # the last token starting before end
        return (int(rows[first]), int(rows[last]) + 1) if first <= last else None


def _lifted(log_probs: np.ndarray, offset: float) -> np.ndarray:
    """Log-probabilities with ``offset`` added to every tag but ``O`` (column 0)."""
    if not offset:
        return log_probs
    lifted = log_probs.copy()
    lifted[:, 1:] += offset
    return lifted


def _ranked_arguments(
    window: Window,
    outputs: WindowOutputs,
    heads: EventHeadWeights,
    sentences: Sequence[tuple[str, int] | None],
    triggers: Sequence[tuple[int, int, int, int, int, int]],
    threshold: float,
) -> list[list[tuple[float, Place, int]]]:
    """Per trigger (as :func:`_word_spans` gives them), the arguments the argument ranker keeps: ``(score, place,
    role)``."""
    ranker = heads.argument_ranker
    assert ranker is not None
    token_triggers = []
    for part, c_start, c_end, s, e, kind in triggers:  # the tokens under its characters, as in fitting
        tokens = token_span(window, part, c_start, c_end)
        token_triggers.append((*(tokens or (s, e)), kind))
    views, role_lp = argument_views(window, outputs, heads, sentences, token_triggers)
    return [select_arguments(scored, threshold) for scored in ranker.score_window(views, token_triggers, role_lp)]


def _paired_arguments(
    window: Window,
    outputs: WindowOutputs,
    heads: EventHeadWeights,
    sentences: Sequence[tuple[str, int] | None],
    trigger_states: np.ndarray,
    decoding: Decoding,
) -> list[list[tuple[float, Place, int]]]:
    """Per trigger (its pooled state a row of ``trigger_states``), its arguments among the mentions decoded at
    ``decoding.mention``: each with the role the pair scorer gives it after ``decoding.argument`` is taken from
    ``none``, unless that is ``none``; ``(score, place, role)`` with the role's probability as score."""
    mention_lp = log_softmax(outputs.mention_logits)
    mentions = _decoded_mentions(window, mention_lp, decoding.mention, decoding.join_mentions, sentences)
    if not mentions:
        return [[] for _ in trigger_states]
    arg_vecs = np.stack([outputs.argument_states[s:e].mean(axis=0) for *_, s, e, _ in mentions])
    role_lp = log_softmax(heads.pair_role_logits(trigger_states, arg_vecs))  # (triggers, mentions, roles + 1)
    shifted = role_lp.copy()
    shifted[..., NONE_ROLE] -= decoding.argument
    roles = shifted.argmax(axis=-1)
    scores = np.exp(np.take_along_axis(role_lp, roles[..., None], axis=-1)[..., 0])
    places = [(part, start, end) for part, start, end, *_ in mentions]
    return [
        [
            (float(score), place, int(role))
            for score, place, role in zip(row_scores, places, row, strict=True)
            if role != NONE_ROLE
        ]
        for row_scores, row in zip(scores, roles, strict=True)
    ]


def _given(window: Window, given: Sequence[tuple[int, int, int]]) -> dict[tuple[int, int, int, int, int, int], float]:
    """Given triggers of the window's sentence as :func:`_word_spans` gives them, each with score 1.0 (none cut off
    by the window; the first of two alike)."""
    out: dict[tuple[int, int, int, int, int, int], float] = {}
    for start, end, kind in given:
        tokens = token_span(window, CURRENT, start, end)
        if tokens is not None:
            out.setdefault((CURRENT, start, end, *tokens, kind), 1.0)
    return out


def _decoded_score(log_probs: np.ndarray, tags: np.ndarray, kind: int) -> float:
    """A decoded trigger's score from its tokens' tag log-probabilities and decoded tags: the mean probability of
    the tags decoded with its type (``B-`` or ``I-`` of event label ``kind``); where none is (a span the lexicon
    redrew onto other words), the mean over its tokens of the likelier of those two tags."""
    own = (tags > 0) & ((tags - 1) // 2 == kind)
    if own.any():
        return float(np.exp(log_probs[own, tags[own]]).mean())
    return float(np.exp(log_probs[:, [1 + 2 * kind, 2 + 2 * kind]].max(axis=1)).mean())


def window_events(
    window: Window,
    outputs: WindowOutputs,
    heads: EventHeadWeights,
    sentences: Sequence[tuple[str, int] | None],
    decoding: Decoding | None = None,
    labels: np.ndarray | None = None,
    network_labels: np.ndarray | None = None,
    given: Sequence[tuple[int, int, int]] | None = None,
) -> list[Event]:
    """The events whose trigger lies in the window's sentence.

    ``sentences`` gives, for the previous, current and next sentence, its text and where it starts in
    the output frame (``None`` where the window has no such sentence). Arguments keep the offsets of
    the sentence they are found in. A trigger's score is the mean probability of its decoded tags; an
    argument's, the probability of its role. ``decoding`` shifts the decisions (not the scores). ``labels``, the
    sentence's probabilities of the event labels, lets the trigger lexicon propose triggers (``decoding.propose``);
    a proposed trigger's score is its proposal score. ``network_labels``, the network's own probabilities of them
    (without the linear companion), let the trigger ranker choose the triggers (``decoding.rank``); a ranked
    trigger's score is the ranker's probability. ``given`` triggers (``(start, end, event label index)`` in the
    sentence's characters) are used instead of finding any: realis and arguments are decoded for each, its score is
    1.0, and one the window cut off is left out.
    """
    decoding = decoding or Decoding()
    trig_lp = log_softmax(outputs.trigger_logits)
    trig_tags = np.zeros(0, dtype=int)  # the decoded tags (not decoded when the ranker chooses)
    proposed: dict[tuple[int, int, int, int, int, int], float] = {}
    here = sentences[CURRENT]
    ranking = decoding.rank > 0 and heads.ranker is not None and heads.lexicon is not None
    if given is not None:
        proposed = _given(window, given)
        triggers = list(proposed)
    elif ranking and network_labels is not None and here is not None:
        proposed = _ranked(window, trig_lp, here[0], heads, network_labels, decoding.rank)
        triggers = list(proposed)
    else:
        trig_tags, triggers = _decoded_triggers(window, trig_lp, decoding.trigger, decoding.join_triggers, sentences)
        if decoding.trigger_boundaries and heads.lexicon is not None:
            triggers = _redrawn(window, triggers, sentences, heads.lexicon, decoding.boundary_margin)
        if decoding.propose > 0 and heads.lexicon is not None and labels is not None and here is not None:
            proposed = _proposed(window, triggers, here[0], heads.lexicon, labels, decoding.propose)
            triggers = [*triggers, *proposed]
    if not triggers:
        return []
    trig_vecs = np.stack([outputs.trigger_states[s:e].mean(axis=0) for *_, s, e, _ in triggers])
    realis = heads.realis_logits(trig_vecs).argmax(axis=1)
    if decoding.arguments_rank > 0 and heads.argument_ranker is not None:
        arguments = _ranked_arguments(window, outputs, heads, sentences, triggers, decoding.arguments_rank)
    else:
        arguments = _paired_arguments(window, outputs, heads, sentences, trig_vecs, decoding)
    events: list[Event] = []
    for t, (part, c_start, c_end, s, e, kind) in enumerate(triggers):
        text, offset = sentences[part]  # type: ignore[misc]  # _word_spans keeps spans of present sentences
        score = proposed.get((part, c_start, c_end, s, e, kind))
        if score is None:  # decoded: the mean probability of the tags of its type decoded inside its words
            score = _decoded_score(trig_lp[s:e], trig_tags[s:e], kind)
        event = Event(
            type=EVENT_LABELS[kind],
            realis=REALIS[int(realis[t])],
            trigger=Span(offset + c_start, offset + c_end, text[c_start:c_end]),
            score=round(score, 4),
        )
        for a_score, (m_part, a_start, a_end), role in arguments[t]:
            a_text, a_offset = sentences[m_part]  # type: ignore[misc]  # candidates are spans of present sentences
            event.arguments.append(
                Argument(
                    role=ROLE_CLASSES[role],
                    start=a_offset + a_start,
                    end=a_offset + a_end,
                    text=a_text[a_start:a_end],
                    score=round(a_score, 4),
                )
            )
        events.append(event)
    return events
