"""The event extractor: windows, constrained BIO decoding, role pairing, targets, and the model contract.

Decoding and pairing are tested on hand-made sequences and weights (numpy only); the rest on the tiny
random BERT of ``conftest`` with a synthetic CASIE annotation written for the test sentences (the
second word of each single-event sentence is its trigger, the organisation named in it a ``Victim``,
the organisation named in the sentence before an ``Attacker``).
"""

from __future__ import annotations

import itertools
import json
import sys
from dataclasses import astuple, replace
from pathlib import Path

import numpy as np
import pytest

from conftest import make_documents, run_without_training_libraries
from threatevents.corpus import Document
from threatevents.events import Event, Span, join_sentences
from threatevents.labels import ARGUMENT_ROLES, EVENT_CASIE_TYPES, EVENT_LABELS
from threatevents.models.argument_ranker import ArgumentRanker
from threatevents.models.base import ModelLoadError, write_manifest
from threatevents.models.event_extractor import (
    CURRENT,
    EVENT_OUTPUTS,
    EVENT_WEIGHTS_DIR,
    NEXT,
    PREVIOUS,
    ROLE_CLASSES,
    SPECIAL,
    EventHeadWeights,
    Window,
    WindowOutputs,
    bio_spans,
    bio_transitions,
    encode_windows,
    plain_tokenizer,
    snap_to_words,
    viterbi_bio,
    window_events,
)
from threatevents.models.transformer import TransformerModel
from threatevents.models.transformer_config import TransformerConfig
from threatevents.models.trigger_ranker import TriggerRanker

ORGS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne"]


# -- constrained BIO decoding (numpy) --------------------------------------------------------------------
OUT, B0, I0, B1, I1 = 0, 1, 2, 3, 4


def test_bio_spans_reads_valid_and_invalid_sequences() -> None:
    assert bio_spans([OUT, B0, I0, OUT, B1]) == [(1, 3, 0), (4, 5, 1)]
    assert bio_spans([OUT, I0, I0, OUT]) == [(1, 3, 0)]  # I after O starts a span
    assert bio_spans([B0, I1, I1]) == [(0, 1, 0), (1, 3, 1)]  # I of another type starts a span of its type
    assert bio_spans([B0, B0, I0, B1]) == [(0, 1, 0), (1, 3, 0), (3, 4, 1)]  # adjacent spans stay apart
    assert bio_spans([I0]) == [(0, 1, 0)]
    assert bio_spans([]) == []


def test_transitions_allow_inside_only_after_its_own_begin_or_inside() -> None:
    allowed = bio_transitions(2)
    assert allowed[B0, I0] and allowed[I0, I0] and allowed[OUT, B1] and allowed[I0, B1]
    assert not allowed[OUT, I0] and not allowed[B1, I0] and not allowed[I1, I0] and not allowed[B0, I1]


def _brute_force(scores: np.ndarray, allowed: np.ndarray, usable: np.ndarray) -> list[int]:
    best, best_tags = -np.inf, []
    for tags in itertools.product(range(scores.shape[1]), repeat=scores.shape[0]):
        if tags[0] % 2 == 0 and tags[0] != 0:  # no I- first
            continue
        if any(not allowed[a, b] for a, b in itertools.pairwise(tags)):
            continue
        if any(t != 0 and not u for t, u in zip(tags, usable, strict=True)):
            continue
        total = sum(scores[i, t] for i, t in enumerate(tags))
        if total > best:
            best, best_tags = total, list(tags)
    return best_tags


def test_viterbi_finds_the_best_valid_sequence() -> None:
    rng = np.random.default_rng(0)
    allowed = bio_transitions(2)
    for _ in range(30):
        scores = rng.normal(size=(4, 5))
        usable = rng.random(4) > 0.2
        assert viterbi_bio(scores, allowed, usable).tolist() == _brute_force(scores, allowed, usable)


def test_viterbi_shortcut_returns_what_the_dynamic_programme_finds() -> None:
    """Where each token's best tag already makes an allowed sequence it is returned as is; elsewhere the full
    programme runs. Both branches are taken here, and every answer equals the programme's (and brute force's)."""
    from threatevents.models.event_extractor import _viterbi

    rng = np.random.default_rng(1)
    allowed = bio_transitions(2)
    start_ok = np.array([True, True, False, True, False])
    taken = 0
    for case in range(200):
        scores = rng.normal(size=(5, 5))
        scores[:, OUT] += 2.0 * (case % 3)  # from mostly-spans to mostly-O sentences
        usable = rng.random(5) > 0.2
        forced = scores.copy()
        forced[~usable, 1:] = -np.inf
        greedy = forced.argmax(axis=1)
        taken += bool(start_ok[greedy[0]] and allowed[greedy[:-1], greedy[1:]].all())
        expected = _viterbi(forced, allowed, start_ok).tolist()
        assert viterbi_bio(scores, allowed, usable).tolist() == expected
        if case < 40:
            assert expected == _brute_force(scores, allowed, usable)
    assert 20 < taken < 180


def test_viterbi_on_floats_for_the_mention_tags_is_the_numpy_programme() -> None:
    from threatevents.models.event_extractor import _viterbi, _viterbi_mentions

    rng = np.random.default_rng(2)
    allowed = bio_transitions(1)  # O, B, I
    start_ok = np.array([True, True, False])
    for case in range(300):
        scores = rng.normal(size=(1 + case % 7, 3))
        scores[rng.random(scores.shape) < 0.2] = -np.inf  # unusable tokens and ties among impossible paths
        scores[:, 0] = np.where(np.isinf(scores[:, 0]), 0.0, scores[:, 0])  # O stays possible
        if case % 5 == 0:
            scores = np.round(scores)  # exact ties between paths
        assert _viterbi_mentions(scores, start_ok).tolist() == _viterbi(scores, allowed, start_ok).tolist()
        if case < 60 and case % 5:  # brute force breaks exact ties its own way
            usable = np.ones(len(scores), dtype=bool)
            assert viterbi_bio(scores, allowed).tolist() == _brute_force(scores, allowed, usable)


def test_viterbi_never_emits_inside_after_outside() -> None:
    scores = np.log(np.array([[0.9, 0.05, 0.05, 0, 0], [0.1, 0.1, 0.8, 0, 0], [0.2, 0.1, 0.7, 0, 0]]) + 1e-9)
    assert scores.argmax(axis=1).tolist() == [OUT, I0, I0]  # what a greedy decoder would emit
    tags = viterbi_bio(scores, bio_transitions(2))
    # best valid: O B I (log .9 + log .1 + log .7 = -2.76) over B I I (-3.58) and O O O (-3.92)
    assert tags.tolist() == [OUT, B0, I0]
    assert viterbi_bio(scores, bio_transitions(2), np.array([True, False, True])).tolist() == [OUT, OUT, OUT]


def test_snap_to_words_widens_word_pieces() -> None:
    text = "Hackers exfiltrated files."
    assert snap_to_words(text, 10, 14) == (8, 19)  # "filt" -> "exfiltrated"
    assert snap_to_words(text, 8, 19) == (8, 19)
    assert snap_to_words(text, 20, 26) == (20, 26)  # "files." ends at punctuation


# -- role pairing on hand-made outputs -------------------------------------------------------------------
def _hand_window() -> tuple[Window, list[tuple[str, int] | None]]:
    """[CLS] Acme was hacked [SEP] Hooli [SEP] -- the current sentence and the previous one's last word."""
    current, previous = "Acme was hacked", "They blamed Hooli"
    part = np.array([SPECIAL, CURRENT, CURRENT, CURRENT, SPECIAL, PREVIOUS, SPECIAL], dtype=np.int8)
    start = np.array([0, 0, 5, 9, 0, 12, 0])
    end = np.array([0, 4, 8, 15, 0, 17, 0])
    window = Window([2, 10, 11, 12, 3, 13, 3], [0, 0, 0, 0, 0, 1, 1], part, start, end)
    return window, [(previous, 100), (current, 118), None]


def _hand_heads(dim: int = 2) -> EventHeadWeights:
    roles = len(ROLE_CLASSES)
    role_weight = np.zeros((roles, 2 * dim))
    role_bias = np.zeros(roles)
    role_bias[-1] = 1.0  # none, unless an argument dimension says otherwise
    role_weight[ARGUMENT_ROLES.index("Victim"), dim + 0] = 5.0
    role_weight[ARGUMENT_ROLES.index("Attacker"), dim + 1] = 5.0
    realis_weight = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])  # Generic when trigger state dim 0 is high
    return EventHeadWeights(realis_weight, np.zeros(3), np.zeros((roles, dim, dim)), role_weight, role_bias)


def _one_hot(tags: list[int], n: int) -> np.ndarray:
    out = np.full((len(tags), n), -5.0)
    out[np.arange(len(tags)), tags] = 5.0
    return out


def test_window_events_pairs_each_trigger_with_mentions_in_the_window() -> None:
    window, sentences = _hand_window()
    ransom = EVENT_LABELS.index("AttackRansom")
    trigger_tags = [0, 0, 0, 1 + 2 * ransom, 0, 0, 0]  # "hacked"
    mention_tags = [0, 1, 0, 0, 0, 1, 0]  # "Acme" (current), "Hooli" (previous)
    argument_states = np.zeros((7, 2))
    argument_states[1] = [1.0, 0.0]  # Acme -> Victim
    argument_states[5] = [0.0, 1.0]  # Hooli -> Attacker
    trigger_states = np.zeros((7, 2))
    trigger_states[3] = [3.0, 0.0]
    outputs = WindowOutputs(_one_hot(trigger_tags, 11), _one_hot(mention_tags, 3), trigger_states, argument_states)
    (event,) = window_events(window, outputs, _hand_heads(), sentences)
    assert (event.type, event.realis) == ("AttackRansom", "Generic")
    assert (event.trigger.start, event.trigger.end, event.trigger.text) == (127, 133, "hacked")
    args = {(a.role, a.start, a.end, a.text) for a in event.arguments}
    assert args == {("Victim", 118, 122, "Acme"), ("Attacker", 112, 117, "Hooli")}  # Hooli keeps its own offsets

    argument_states[5] = [0.0, 0.0]  # Hooli scores none: not an argument
    outputs = WindowOutputs(_one_hot(trigger_tags, 11), _one_hot(mention_tags, 3), trigger_states, argument_states)
    (event,) = window_events(window, outputs, _hand_heads(), sentences)
    assert [a.text for a in event.arguments] == ["Acme"]

    no_previous = [None, sentences[1], None]  # a mention in a sentence the caller did not give is dropped
    argument_states[5] = [0.0, 1.0]
    outputs = WindowOutputs(_one_hot(trigger_tags, 11), _one_hot(mention_tags, 3), trigger_states, argument_states)
    (event,) = window_events(window, outputs, _hand_heads(), no_previous)
    assert [a.text for a in event.arguments] == ["Acme"]


def test_given_triggers_replace_the_decoded_ones_and_get_their_arguments() -> None:
    window, sentences = _hand_window()
    ransom, breach = EVENT_LABELS.index("AttackRansom"), EVENT_LABELS.index("AttackDatabreach")
    mention_tags = [0, 1, 0, 0, 0, 1, 0]  # "Acme" (current), "Hooli" (previous)
    argument_states = np.zeros((7, 2))
    argument_states[1] = [1.0, 0.0]  # Acme -> Victim
    argument_states[5] = [0.0, 1.0]  # Hooli -> Attacker
    trigger_states = np.zeros((7, 2))
    trigger_states[2] = [3.0, 0.0]  # "was": Generic
    no_triggers = _one_hot([0] * 7, 11)  # the heads find no trigger at all
    outputs = WindowOutputs(no_triggers, _one_hot(mention_tags, 3), trigger_states, argument_states)
    assert window_events(window, outputs, _hand_heads(), sentences) == []
    given = [(9, 15, ransom), (5, 8, breach), (9, 15, ransom), (20, 25, breach)]  # a repeat; one past the window
    first, second = window_events(window, outputs, _hand_heads(), sentences, given=given)
    assert (first.type, first.trigger.text, first.trigger.start, first.score) == ("AttackRansom", "hacked", 127, 1.0)
    assert (second.type, second.trigger.text, second.realis) == ("AttackDatabreach", "was", "Generic")
    for event in (first, second):
        assert {(a.role, a.text) for a in event.arguments} == {("Victim", "Acme"), ("Attacker", "Hooli")}
    ranked = _one_hot([0, 0, 0, 1 + 2 * ransom, 0, 0, 0], 11)  # given triggers win over decoded ones too
    outputs = WindowOutputs(ranked, _one_hot(mention_tags, 3), trigger_states, argument_states)
    (only,) = window_events(window, outputs, _hand_heads(), sentences, given=[(0, 4, breach)])
    assert only.trigger.text == "Acme" and window_events(window, outputs, _hand_heads(), sentences, given=[]) == []


def test_a_trigger_decoded_on_part_of_a_word_reads_the_whole_word_as_a_given_one_does() -> None:
    """ "hacked" is two pieces and the heads tag only "hack": the event spans the word, its realis comes from the
    states of both pieces (as training and a trigger given by its characters read them), and its score from the
    piece decoded."""
    text = "Acme was hacked"
    part = np.array([SPECIAL, CURRENT, CURRENT, CURRENT, CURRENT, SPECIAL], dtype=np.int8)
    start, end = np.array([0, 0, 5, 9, 13, 0]), np.array([0, 4, 8, 13, 15, 0])
    window = Window([2, 10, 11, 12, 14, 3], [0] * 6, part, start, end)
    sentences: list[tuple[str, int] | None] = [None, (text, 0), None]
    ransom = EVENT_LABELS.index("AttackRansom")
    trigger_logits = np.full((6, 11), -5.0)
    trigger_logits[:, 0] = 5.0
    trigger_logits[3, 0], trigger_logits[3, 1 + 2 * ransom] = 0.0, 1.0  # "hack": B-AttackRansom, p = 0.73
    trigger_states = np.zeros((6, 2))
    trigger_states[4] = [6.0, 0.0]  # only "ed" says Generic; the word's mean does too (3.0)
    outputs = WindowOutputs(trigger_logits, _one_hot([0] * 6, 3), trigger_states, np.zeros((6, 2)))
    (decoded,) = window_events(window, outputs, _hand_heads(), sentences)
    (given,) = window_events(window, outputs, _hand_heads(), sentences, given=[(9, 15, ransom)])
    assert (decoded.trigger.text, decoded.type, decoded.realis) == ("hacked", "AttackRansom", "Generic")
    assert given.realis == decoded.realis and given.arguments == decoded.arguments
    probs = np.exp(trigger_logits[3]) / np.exp(trigger_logits[3]).sum()
    assert decoded.score == round(float(probs[1 + 2 * ransom]), 4)  # the "ed" piece, decoded O, does not count


def test_a_decoded_triggers_score_reads_only_the_tags_of_its_type() -> None:
    from threatevents.models.event_extractor import _decoded_score

    probs = np.full((3, 5), 0.05)  # O, B-0, I-0, B-1, I-1
    probs[0, 1], probs[1, 2], probs[2, 3] = 0.8, 0.6, 0.9  # B-0 I-0 (type 0), then B-1 (type 1)
    log_probs = np.log(probs)
    assert _decoded_score(log_probs, np.array([1, 2, 3]), 0) == pytest.approx(0.7)  # the B-1 token does not count
    assert _decoded_score(log_probs, np.array([1, 2, 3]), 1) == pytest.approx(0.9)
    assert _decoded_score(log_probs, np.array([0, 0, 0]), 1) == pytest.approx((0.05 + 0.05 + 0.9) / 3)  # none decoded


def test_given_triggers_are_placed_in_their_sentence_or_refused() -> None:
    from threatevents.models.base import given_per_sentence

    doc = ["Acme was hacked.", "", "It paid."]  # joined: sentences at 0, 17 and 18
    ransom = EVENT_LABELS.index("AttackRansom")

    def given(start: int, end: int, starts: list[list[int]] | None = None) -> list[list[list[tuple[int, int, int]]]]:
        text = "\n".join(doc)
        return given_per_sentence([doc], [[Event("AttackRansom", "Actual", Span(start, end, text[start:end]))]], starts)

    assert given(9, 16) == [[[(9, 16, ransom)], [], []]]  # ending exactly at its sentence's end
    assert given(21, 26) == [[[], [], [(3, 8, ransom)]]]
    assert given(109, 114, [[100, 150, 150]]) == [[[(9, 14, ransom)], [], []]]  # another frame
    for start, end in ((17, 18), (9, 17), (12, 12), (-3, 2), (26, 27)):  # the empty sentence, crossing, empty...
        with pytest.raises(ValueError, match=f"document 0: trigger {start}-{end} does not lie inside one sentence"):
            given(start, end)
    with pytest.raises(ValueError, match="in order"):
        given(9, 15, [[0, 30, 20]])
    with pytest.raises(ValueError, match="document 0: trigger 0-4"):  # a document without sentences
        given_per_sentence([[]], [[Event("AttackRansom", "Actual", Span(0, 4, "Acme"))]])


def test_decoding_offsets_trade_precision_for_recall_at_each_decision() -> None:
    """An offset turns a near-miss into a trigger, a mention, an argument: each decision separately."""
    from threatevents.models.event_extractor import Decoding

    window, sentences = _hand_window()
    ransom = EVENT_LABELS.index("AttackRansom")
    trigger_logits = _one_hot([0] * 7, 11)
    trigger_logits[3, 1 + 2 * ransom] = 4.5  # "hacked": B-AttackRansom just below O (5.0)
    mention_logits = _one_hot([0] * 7, 3)
    mention_logits[1, 1] = 4.5  # "Acme": B-ARG just below O
    argument_states = np.zeros((7, 2))
    argument_states[1] = [0.19, 0.0]  # Victim logit 0.95, just below none (1.0)
    outputs = WindowOutputs(trigger_logits, mention_logits, np.zeros((7, 2)), argument_states)
    assert window_events(window, outputs, _hand_heads(), sentences) == []
    (event,) = window_events(window, outputs, _hand_heads(), sentences, Decoding(trigger=1.0))
    assert event.trigger.text == "hacked" and event.arguments == []
    (event,) = window_events(window, outputs, _hand_heads(), sentences, Decoding(trigger=1.0, mention=1.0))
    assert event.arguments == []  # the mention is found, but its role is still none
    (event,) = window_events(window, outputs, _hand_heads(), sentences, Decoding(1.0, 1.0, 0.5))
    assert [(a.role, a.text) for a in event.arguments] == [("Victim", "Acme")]
    assert event.score is not None and event.score < 0.5  # offsets move decisions, not the reported scores


def test_decoding_search_takes_each_offset_in_turn_and_keeps_zero_on_ties() -> None:
    from threatevents.models.event_extractor import Decoding
    from threatevents.models.event_tuning import tune_decoding

    def score(d: Decoding) -> float:  # peaks at trigger 1, mention 2; argument changes nothing
        return -((d.trigger - 1.0) ** 2) - (d.mention - 2.0) ** 2

    choice = tune_decoding(score, {"trigger": (0, 1, 2), "mention": (0, 1, 2, 3), "argument": (0, 1)})
    assert choice.decoding == Decoding(1.0, 2.0, 0.0)
    start = "trigger=1,mention=2,argument=0,join_triggers=0,join_mentions=0,trigger_boundaries=0,"
    start += "boundary_margin=0,propose=0,rank=0,arguments_rank=0"
    assert choice.dev_scores[start] == 0.0
    assert len(choice.dev_scores) == 1 + 2 + 3 + 1  # the start, then each new point once


def test_decoding_search_turns_a_join_on_only_when_it_scores_higher() -> None:
    from threatevents.models.event_extractor import Decoding
    from threatevents.models.event_tuning import tune_decoding

    grid: dict[str, tuple[float | bool, ...]] = {"join_triggers": (False, True), "join_mentions": (False, True)}
    choice = tune_decoding(lambda d: float(d.join_triggers), grid)  # joining triggers helps; mentions: a tie
    assert choice.decoding == Decoding(join_triggers=True, join_mentions=False)
    assert isinstance(choice.decoding.join_triggers, bool)


def test_join_adjacent_makes_one_span_of_touching_spans_of_one_type() -> None:
    from threatevents.models.event_extractor import join_adjacent

    assert join_adjacent([(1, 2, 0), (2, 4, 0), (4, 5, 0)]) == [(1, 5, 0)]
    assert join_adjacent([(1, 2, 0), (3, 4, 0)]) == [(1, 2, 0), (3, 4, 0)]  # a token between: two spans
    assert join_adjacent([(1, 2, 0), (2, 3, 1)]) == [(1, 2, 0), (2, 3, 1)]  # another type: two spans
    assert join_adjacent([]) == []


def test_joined_decoding_reads_a_restarted_trigger_as_one_span() -> None:
    """``B B`` over "was hacked" is two triggers by default and one with ``join_triggers``; the same for mentions."""
    from threatevents.models.event_extractor import Decoding

    window, sentences = _hand_window()
    ransom = EVENT_LABELS.index("AttackRansom")
    trigger_tags = [0, 0, 1 + 2 * ransom, 1 + 2 * ransom, 0, 0, 0]  # "was" and "hacked" each start a trigger
    mention_tags = [0, 1, 0, 0, 0, 0, 0]
    outputs = WindowOutputs(_one_hot(trigger_tags, 11), _one_hot(mention_tags, 3), np.zeros((7, 2)), np.zeros((7, 2)))
    apart = window_events(window, outputs, _hand_heads(), sentences)
    assert [e.trigger.text for e in apart] == ["was", "hacked"]
    (joined,) = window_events(window, outputs, _hand_heads(), sentences, Decoding(join_triggers=True))
    assert (joined.trigger.start, joined.trigger.end, joined.trigger.text) == (123, 133, "was hacked")
    assert joined.score is not None and joined.score > 0.99  # the decoded tags' own probabilities

    mention_tags = [0, 1, 1, 0, 0, 0, 0]  # "Acme" and "was" each start a mention
    argument_states = np.zeros((7, 2))
    argument_states[1:3] = [1.0, 0.0]  # Victim
    outputs = WindowOutputs(_one_hot(trigger_tags, 11), _one_hot(mention_tags, 3), np.zeros((7, 2)), argument_states)
    both = Decoding(join_triggers=True, join_mentions=True)
    (event,) = window_events(window, outputs, _hand_heads(), sentences, both)
    assert [a.text for a in event.arguments] == ["Acme was"]


def test_triggers_are_only_decoded_in_the_sentence_itself() -> None:
    window, sentences = _hand_window()
    trigger_tags = [0, 0, 0, 0, 0, 1, 0]  # a trigger tag on "Hooli", a context token
    outputs = WindowOutputs(_one_hot(trigger_tags, 11), _one_hot([0] * 7, 3), np.zeros((7, 2)), np.zeros((7, 2)))
    assert window_events(window, outputs, _hand_heads(), sentences) == []


def test_head_weights_round_trip_and_refuse_wrong_shapes(tmp_path: Path) -> None:
    heads = _hand_heads()
    heads.save(tmp_path / "events")
    loaded = EventHeadWeights.load(tmp_path / "events")
    rng = np.random.default_rng(1)
    t, a = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    np.testing.assert_allclose(loaded.role_logits(t, a), heads.role_logits(t, a), rtol=1e-6)
    np.save(tmp_path / "events" / "role_bias.npy", np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="role_bias"):
        EventHeadWeights.load(tmp_path / "events")


# -- windows and targets on the tiny tokenizer -------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer_json(tiny_encoder_dir: Path) -> str:
    return (tiny_encoder_dir / "tokenizer.json").read_text(encoding="utf-8")


def test_windows_keep_the_sentence_whole_and_map_tokens_to_their_sentence(tokenizer_json: str) -> None:
    doc = [
        "Hackers stole the records of 20 customers.",
        "The Acme breach exposed names and card numbers of users.",
        "Officials declined to comment.",
    ]
    tokenizer = plain_tokenizer(tokenizer_json)
    lengths = [len(tokenizer.encode(t, add_special_tokens=False).ids) for t in doc]
    for max_length in (lengths[1] + 4, lengths[1] + 10, 256):
        windows = encode_windows(tokenizer, [doc, ["Solo sentence."]], max_length=max_length)
        assert len(windows) == 4
        middle = windows[1]
        assert len(middle.ids) <= max_length and len(middle.ids) == len(middle.types) == len(middle.part)
        current = np.flatnonzero(middle.part == CURRENT)
        assert current.tolist() == list(range(1, 1 + lengths[1]))  # segment A: the whole sentence after [CLS]
        assert all(middle.types[i] == 0 for i in current) and middle.part[0] == SPECIAL
        for i, (token, which) in enumerate(zip(middle.ids, middle.part, strict=True)):
            if which == SPECIAL:
                continue  # each other token's offsets read its own piece in its own sentence
            text = doc[[PREVIOUS, CURRENT, NEXT].index(which)]
            piece = tokenizer.id_to_token(token).removeprefix("##")
            assert text[middle.start[i] : middle.end[i]].lower() == piece
            assert middle.types[i] == (0 if which == CURRENT else 1)
        prev, nxt = np.flatnonzero(middle.part == PREVIOUS), np.flatnonzero(middle.part == NEXT)
        budget = max_length - 4 - lengths[1]
        assert prev.size + nxt.size == min(budget, lengths[0] + lengths[2])
        if prev.size:  # the previous sentence contributes its last tokens, the next its first
            assert middle.end[prev[-1]] == len(doc[0])
        if nxt.size:
            assert middle.start[nxt[0]] == 0
        assert PREVIOUS not in windows[3].part.tolist() and NEXT not in windows[3].part.tolist()
    long = encode_windows(tokenizer, [["word " * 100]], max_length=32)[0]
    assert len(long.ids) == 30 and (long.part == CURRENT).sum() == 28  # an over-long sentence is cut, alone


def write_annotation(docs: list[Document], folder: Path) -> None:
    """CASIE files for the synthetic documents (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc in docs:
        content, events, starts = "", [], []
        for sentence in doc.sentences:
            starts.append(len(content))
            content += sentence.text + " "
        for i, sentence in enumerate(doc.sentences):
            if len(sentence.labels) != 1 or sentence.labels[0] == "O":
                continue
            word = sentence.text.split()[1].strip(".,")
            at = starts[i] + sentence.text.index(word)
            kind, subtype = EVENT_CASIE_TYPES[sentence.labels[0]]
            arguments = []
            for k, role in ((i, "Victim"), (i - 1, "Attacker")):
                text = doc.sentences[k].text if k >= 0 else ""
                org = next((o for o in ORGS if o in text), None)
                if org is not None:
                    o = starts[k] + text.index(org)
                    span = {"startOffset": o, "endOffset": o + len(org), "text": org}
                    arguments.append(span | {"type": "Organization", "role": {"type": role}})
            nugget = {"startOffset": at, "endOffset": at + len(word), "text": word}
            realis = "Actual" if i % 3 else "Generic"
            events.append({"type": kind, "subtype": subtype, "realis": realis, "nugget": nugget, "argument": arguments})
        data = {"content": content, "cyberevent": {"hopper": [{"events": events}]}}
        (folder / f"{doc.id}.json").write_text(json.dumps(data), encoding="utf-8")


def test_align_events_places_triggers_and_neighbouring_arguments(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from threatevents.models.event_training import align_events

    docs = make_documents(6, seed=1)
    write_annotation(docs, tmp_path / "annotation")
    alignment = align_events(tmp_path, [*docs, Document("absent", docs[0].sentences[:2])])
    assert alignment.sentences[-2:] == [None, None]
    assert alignment.counts["documents_without_annotation"] == 1
    flat = [s for d in docs for s in d.sentences]
    for sentence, gold in zip(flat, alignment.sentences, strict=False):
        assert gold is not None
        single_event = len(sentence.labels) == 1 and sentence.labels[0] != "O"
        assert len(gold.triggers) == int(single_event)
        for (start, end, kind, _), args in zip(gold.triggers, gold.arguments, strict=True):
            assert sentence.text[start:end] == sentence.text.split()[1].strip(".,")
            assert EVENT_LABELS[kind] == sentence.labels[0]
            assert all(part in (CURRENT, PREVIOUS) for part, *_ in args)
    assert alignment.counts["arguments_previous"] > 0 and alignment.counts["arguments_current"] > 0


def test_joined_events_give_back_the_annotation_in_the_predict_events_frame(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from threatevents.events import read_event_file
    from threatevents.models.event_training import align_events, joined_events

    docs = make_documents(5, seed=3)
    write_annotation(docs, tmp_path / "annotation")  # articles joined by one space: the same offsets as "\n"
    alignment = align_events(tmp_path, docs)
    row = 0

    def key(event: Event) -> tuple[object, ...]:
        arguments = sorted((a.role, a.start, a.end, a.text) for a in event.arguments)
        return event.type, event.realis, astuple(event.trigger), arguments

    for doc in docs:
        gold = joined_events(doc.texts, alignment.sentences[row : row + len(doc.sentences)])
        row += len(doc.sentences)
        article = read_event_file(tmp_path / "annotation" / f"{doc.id}.json")
        assert sorted(map(key, gold)) == sorted(map(key, article.events)) and gold


HACKED = ["They blamed Hooli.", "Acme was hacked by the gang."]


def hacked_window(tokenizer_json: str) -> Window:
    """The window of the second sentence of ``HACKED`` (the first is its previous neighbour)."""
    return encode_windows(plain_tokenizer(tokenizer_json), [HACKED], max_length=64)[1]


def test_window_targets_tag_spans_and_pair_every_trigger_with_every_mention(tokenizer_json: str) -> None:
    pytest.importorskip("torch")
    from threatevents.models.event_training import IGNORE, SentenceEvents, window_targets

    window = hacked_window(tokenizer_json)
    victim, attacker = ARGUMENT_ROLES.index("Victim"), ARGUMENT_ROLES.index("Attacker")
    ransom = EVENT_LABELS.index("AttackRansom")
    gold = SentenceEvents(
        triggers=[(9, 15, ransom, 0), (0, 4, 0, 1)],  # "hacked" (Ransom), "Acme" as a second trigger (Databreach)
        arguments=[[(CURRENT, 0, 4, victim), (PREVIOUS, 12, 17, attacker)], []],
    )
    targets = window_targets(window, gold)
    assert (targets.trigger_tags[window.part != CURRENT] == IGNORE).all()
    assert (targets.mention_tags[window.part == SPECIAL] == IGNORE).all()
    (hacked_first, hacked_end), (acme_first, _) = targets.triggers
    assert targets.trigger_tags[hacked_first] == 1 + 2 * ransom
    assert (targets.trigger_tags[hacked_first + 1 : hacked_end] == 2 + 2 * ransom).all()
    assert targets.trigger_tags[acme_first] == 1
    assert targets.realis == [0, 1]
    mention_texts = [
        (HACKED[0] if window.part[s] == PREVIOUS else HACKED[1])[window.start[s] : window.end[e - 1]]
        for s, e in targets.mentions
    ]
    assert mention_texts == ["Acme", "Hooli"]
    none = len(ROLE_CLASSES) - 1
    assert sorted(targets.pairs) == [(0, 0, victim), (0, 1, attacker), (1, 0, none), (1, 1, none)]


def test_event_trigger_weight_scales_only_the_trigger_tag_loss(tokenizer_json: str) -> None:
    torch = pytest.importorskip("torch")
    from threatevents.models.event_training import IGNORE, EventHeads, SentenceEvents, event_loss, window_targets

    window = hacked_window(tokenizer_json)
    gold = SentenceEvents(
        triggers=[(9, 15, EVENT_LABELS.index("AttackRansom"), 0)],
        arguments=[[(CURRENT, 0, 4, ARGUMENT_ROLES.index("Victim"))]],
    )
    targets = window_targets(window, gold)
    torch.manual_seed(0)
    heads = EventHeads(hidden=8, dim=4)
    hidden = torch.randn(2, len(window.ids), 8)
    rows = [targets, None]  # the second row has no targets and adds nothing
    plain, tripled = (event_loss(heads, hidden, rows, w).item() for w in (1.0, 3.0))
    tags = torch.from_numpy(targets.trigger_tags)
    by_hand = torch.nn.functional.cross_entropy(heads.trigger(hidden[0]), tags, ignore_index=IGNORE).item()
    assert by_hand > 0
    assert tripled - plain == pytest.approx(2 * by_hand, rel=1e-5)
    with pytest.raises(ValueError, match="event_trigger_weight"):
        TransformerConfig(event_trigger_weight=0.0)
    with pytest.raises(ValueError, match="event_trigger_weight"):
        TransformerConfig(event_trigger_weight=True)


# -- the model contract on the tiny encoder ----------------------------------------------------------------
def events_config(base: Path, events_dir: Path | None, **overrides: object) -> TransformerConfig:
    values: dict[str, object] = {
        "base_model": str(base),
        "epochs": 8,
        "batch_size": 8,
        "max_length": 64,
        "learning_rate": 5e-3,
        "context": "neighbours",
        "pooling": "mean",
        "linear_weight": 0.0,
        "cascade_below": 0.0,
        "events": True,
        "events_dir": str(events_dir) if events_dir else None,
    }
    return TransformerConfig(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def events_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("casie")
    write_annotation(make_documents(16, seed=1), path / "annotation")
    return path


@pytest.fixture(scope="module")
def extractor(tiny_encoder_dir: Path, events_dir: Path) -> TransformerModel:
    return TransformerModel(events_config(tiny_encoder_dir, events_dir)).fit(make_documents(16, seed=1))


def _records(events: list[list]) -> list[list[dict[str, object]]]:  # type: ignore[type-arg]
    return [[e.to_record() for e in doc] for doc in events]


def test_config_requires_neighbour_windows_for_events() -> None:
    with pytest.raises(ValueError, match="context=neighbours"):
        TransformerConfig(events=True, context="none")
    with pytest.raises(ValueError, match="event_dim"):
        TransformerConfig(event_dim=0)
    with pytest.raises(ValueError, match="event_lr_scale"):
        TransformerConfig(event_lr_scale=0.0)
    with pytest.raises(ValueError, match="events must be"):
        TransformerConfig(events="yes")  # type: ignore[arg-type]


def test_fit_without_annotation_is_refused(tiny_encoder_dir: Path) -> None:
    config = events_config(tiny_encoder_dir, None)
    with pytest.raises(ValueError, match="events_dir"):
        TransformerModel(config).fit(make_documents(2, seed=1))


@pytest.mark.slow
def test_extractor_fits_predicts_saves_and_reloads_identical_events(
    extractor: TransformerModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = make_documents(4, seed=1)  # the training documents: the tiny model has learnt their triggers
    events = extractor.predict_events(docs)
    assert len(events) == len(docs) and sum(map(len, events)) > 0
    joined = ["\n".join(d.texts) for d in docs]
    for text, doc_events in zip(joined, events, strict=True):
        for event in doc_events:  # every span reads its own text in the joined frame
            assert text[event.trigger.start : event.trigger.end] == event.trigger.text
            assert event.type in EVENT_LABELS and 0 <= (event.score or 0) <= 1
            for argument in event.arguments:
                assert text[argument.start : argument.end] == argument.text
    saved = extractor.save(tmp_path / "model")
    manifest = json.loads((saved / "manifest.json").read_text(encoding="utf-8"))
    assert {f"{EVENT_WEIGHTS_DIR}/{n}.npy" for n in EventHeadWeights.FILES} <= set(manifest)
    assert f"{EVENT_WEIGHTS_DIR}/trigger_lexicon.json" in manifest  # counted from the training annotation
    reloaded = TransformerModel.load(saved)
    assert reloaded.has_events
    assert extractor.event_heads is not None and extractor.event_heads.lexicon is not None
    assert extractor.event_heads.lexicon.triggers and reloaded.event_heads is not None
    assert reloaded.event_heads.lexicon == extractor.event_heads.lexicon
    assert f"{EVENT_WEIGHTS_DIR}/trigger_ranker.json" in manifest  # fitted on the training sentences
    assert extractor.event_heads.ranker is not None and extractor.event_heads.ranker.weights
    assert reloaded.event_heads.ranker == extractor.event_heads.ranker
    assert _records(reloaded.predict_events(docs)) == _records(events)
    scored: list[float] = []
    score = TriggerRanker.score
    monkeypatch.setattr(TriggerRanker, "score", lambda self, example: scored.append(score(self, example)) or scored[-1])
    before = extractor.config.decode_rank
    extractor.config.decode_rank = reloaded.config.decode_rank = 0.0
    extractor.predict_events(docs)
    assert scored == []  # rank 0: the heads decide
    extractor.config.decode_rank = reloaded.config.decode_rank = 0.01  # the ranker decides the triggers
    try:
        ranked = extractor.predict_events(docs)
        assert sum(map(len, ranked)) > 0 and _records(reloaded.predict_events(docs)) == _records(ranked)
        kept = {round(x, 4) for x in scored if x >= 0.01}
        assert {e.score for doc in ranked for e in doc} <= kept  # every trigger is one the ranker kept
    finally:
        extractor.config.decode_rank = reloaded.config.decode_rank = before
    assert f"{EVENT_WEIGHTS_DIR}/argument_ranker.json" in manifest  # fitted on the training sentences' gold triggers
    assert extractor.event_heads.argument_ranker is not None and extractor.event_heads.argument_ranker.weights
    assert reloaded.event_heads.argument_ranker == extractor.event_heads.argument_ranker
    argument_scores: list[float] = []
    probability = ArgumentRanker.probability
    monkeypatch.setattr(
        ArgumentRanker,
        "probability",
        lambda self, z: argument_scores.append(probability(self, z)) or argument_scores[-1],
    )
    before = extractor.config.decode_arguments_rank
    extractor.config.decode_arguments_rank = reloaded.config.decode_arguments_rank = 0.01
    try:
        ranked = extractor.predict_events(docs)
        assert _records(reloaded.predict_events(docs)) == _records(ranked)
        found = [a.score for doc in ranked for e in doc for a in e.arguments]
        assert found and argument_scores and set(found) <= {round(x, 4) for x in argument_scores if x >= 0.01}
    finally:
        extractor.config.decode_arguments_rank = reloaded.config.decode_arguments_rank = before
    np.testing.assert_array_equal(reloaded.predict_proba(docs), extractor.predict_proba(docs))


@pytest.mark.slow
def test_predict_arguments_decodes_the_given_triggers_only(
    extractor: TransformerModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A decoded trigger's states are those of its whole words, as for a trigger given by its characters: until
    # 2026-12-04 they were only the word pieces decoded, and realis (and roles) of a trigger decoded on part of a
    # split word came out otherwise when given back (1 to 3 realis flips in about one CI run in five, on this tiny
    # encoder's small vocabulary). One window per batch keeps padding out of it: predict_arguments runs only the
    # sentences holding a trigger, so its batches differ from predict_events'. Both paths must agree exactly.
    assert extractor._runtime is not None
    monkeypatch.setattr(extractor._runtime, "batch_size", 1)
    docs = make_documents(4, seed=1)
    found = extractor.predict_events(docs)
    assert sum(map(len, found)) > 0
    given = extractor.predict_arguments(docs, found)  # its own triggers given back: the same events
    assert _records(given) == _records([[replace(e, score=1.0) for e in doc] for doc in found])
    joined = [join_sentences(d.texts) for d in docs]
    text, starts = joined[0]
    second = docs[0].texts[1]
    word = second.split()[0]
    mine = Event("PatchVulnerability", "Other", Span(starts[1], starts[1] + len(word), word))
    (event,) = extractor.predict_arguments(docs[:1], [[mine]])[0]
    assert (event.type, event.trigger, event.score) == ("PatchVulnerability", mine.trigger, 1.0)
    assert event.realis in ("Actual", "Generic", "Other")
    for argument in event.arguments:
        assert text[argument.start : argument.end] == argument.text
    assert extractor.predict_arguments(docs, [[] for _ in docs]) == [[] for _ in docs]
    # Another frame (sentence j at 500 + 3 x its joined offset): the same event, every span moved with its sentence.
    d, source = next((d, e) for d, doc in enumerate(found) for e in doc if e.arguments)
    joined_at = join_sentences(docs[d].texts)[1]
    frame = [500 + 3 * at for at in joined_at]

    def moved(start: int) -> int:
        j = max(k for k, at in enumerate(joined_at) if at <= start)
        return frame[j] + start - joined_at[j]

    trigger = source.trigger
    at_frame = replace(
        source, trigger=Span(moved(trigger.start), moved(trigger.start) + len(trigger.text), trigger.text)
    )
    (there,) = extractor.predict_arguments([docs[d]], [[at_frame]], [frame])[0]
    assert there.trigger == at_frame.trigger and there.realis == source.realis
    expected = [(a.role, moved(a.start), a.text) for a in source.arguments]
    assert [(a.role, a.start, a.text) for a in there.arguments] == expected
    a, b = starts[1] - 2, starts[1] + 2
    crossing = Event("AttackPhishing", "Actual", Span(a, b, text[a:b]))
    with pytest.raises(ValueError, match=rf"document 0: trigger {a}-{b} does not lie inside one sentence"):
        extractor.predict_arguments(docs[:1], [[crossing]])
    with pytest.raises(ValueError, match="unknown event type 'Heist'"):
        extractor.predict_arguments(docs[:1], [[replace(mine, type="Heist")]])
    with pytest.raises(ValueError, match="one list per document"):
        extractor.predict_arguments(docs, [[]])
    extractor.events_enabled = False
    try:
        assert extractor.predict_arguments(docs[:1], [[mine]]) == [[]]
    finally:
        extractor.events_enabled = True


@pytest.mark.slow
def test_event_stages_benchmark_scores_the_model_and_its_gold_triggers(
    extractor: TransformerModel, events_dir: Path
) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import event_stages
    from threatevents.event_evaluation import evaluate_events

    docs = make_documents(6, seed=1)  # the annotated articles (the training ones)
    rows = event_stages.stages(extractor, docs, events_dir)
    assert rows["end to end"].to_dict() == evaluate_events(extractor, docs, events_dir)[0].to_dict()
    gold = rows["gold triggers"]
    assert gold["trigger_cls"].precision == 1.0 == gold["trigger_cls"].recall  # every trigger is in a sentence
    assert gold["trigger_cls"].gold > 0 and gold.realis_matched == gold["trigger_cls"].gold
    assert "| argument_attached_cls F1 (P / R) |" in event_stages.table(
        {name: event_stages.summary(scores) for name, scores in rows.items()}
    )


@pytest.mark.slow
def test_requantising_fits_the_rankers_again_on_the_new_graph(
    extractor: TransformerModel, events_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = TransformerModel.load(extractor.save(tmp_path / "model"))
    train = make_documents(16, seed=1)
    served_before = model._runtime
    model.config.events_dir = None
    with pytest.raises(ValueError, match="events_dir"):  # refused before anything changes
        model.requantize(extractor.fp32_onnx, train)
    assert model._runtime is served_before
    fitted: list[tuple[str, object]] = []
    for name in ("fit_trigger_ranker", "fit_argument_ranker"):
        original = getattr(TransformerModel, name)
        monkeypatch.setattr(
            TransformerModel,
            name,
            lambda self, docs, _fit=original, _name=name: fitted.append((_name, self._runtime)) or _fit(self, docs),
        )
    model.config.events_dir, model.config.quantize = str(events_dir), "none"
    model.requantize(extractor.fp32_onnx, train)
    assert [name for name, _ in fitted] == ["fit_trigger_ranker", "fit_argument_ranker"]
    assert all(runtime is model._runtime for _, runtime in fitted) and model._runtime is not served_before
    assert extractor.event_heads is not None and model.event_heads is not None
    assert model.event_heads.ranker is not None and model.event_heads.argument_ranker is not None
    assert model.event_heads.ranker != extractor.event_heads.ranker  # fitted on the fp32 graph's outputs


@pytest.mark.slow
def test_sentence_events_use_the_given_offsets(extractor: TransformerModel) -> None:
    docs = make_documents(3, seed=1)
    starts = [[1000 + 7 * s for s in row] for row in [join_sentences(d.texts)[1] for d in docs]]
    per_sentence = extractor.predict_sentence_events(docs, starts)
    flat = extractor.predict_events(docs)
    for d, doc in enumerate(per_sentence):
        assert len(doc) == len(docs[d].sentences)
        assert [e.trigger.text for s in doc for e in s] == [e.trigger.text for e in flat[d]]
        for i, sentence_events in enumerate(doc):
            for event in sentence_events:  # the trigger sits in its own sentence, shifted by its start
                local = event.trigger.start - starts[d][i]
                assert docs[d].texts[i][local : local + len(event.trigger.text)] == event.trigger.text
    with pytest.raises(ValueError, match="one offset per sentence"):
        extractor.predict_sentence_events(docs, [[0]])


@pytest.mark.slow
def test_events_switch_off_without_changing_sentence_scores(extractor: TransformerModel) -> None:
    docs = make_documents(3, seed=1)
    probs = extractor.predict_proba(docs)
    extractor.events_enabled = False
    try:
        assert extractor.predict_events(docs) == [[], [], []]
        np.testing.assert_array_equal(extractor.predict_proba(docs), probs)
    finally:
        extractor.events_enabled = True


@pytest.mark.slow
def test_event_heads_onnx_match_torch(extractor: TransformerModel) -> None:
    """fp32 ONNX event outputs within 1e-4 of torch, and the events decoded from both are the same."""
    from threatevents.models.onnx_runtime import OnnxClassifier
    from threatevents.models.transformer_training import predict_torch_events

    assert extractor.torch_net is not None and extractor.event_heads is not None
    docs = [d.texts for d in make_documents(5, seed=7)]
    cfg = extractor.config
    fp32 = OnnxClassifier(
        extractor.fp32_onnx, extractor._tokenizer_json, max_length=cfg.max_length, context=cfg.context, windows=True
    )
    windows = encode_windows(plain_tokenizer(extractor._tokenizer_json), docs, cfg.max_length)
    onnx_out = fp32.run([w.pair for w in windows], EVENT_OUTPUTS)
    torch_out = predict_torch_events(extractor.torch_net, [w.pair for w in windows])
    starts = [join_sentences(doc)[1] for doc in docs]
    row = 0
    for d, doc in enumerate(docs):
        for i in range(len(doc)):
            for a, b in zip(onnx_out[row], torch_out[row], strict=True):
                assert a.shape == b.shape and np.abs(a - b).max() < 1e-4
            around = [(doc[j], starts[d][j]) if 0 <= j < len(doc) else None for j in (i - 1, i, i + 1)]
            from_onnx = window_events(windows[row], WindowOutputs(*onnx_out[row]), extractor.event_heads, around)
            from_torch = window_events(windows[row], WindowOutputs(*torch_out[row]), extractor.event_heads, around)
            assert [e.to_record() for e in from_onnx] == [e.to_record() for e in from_torch]
            row += 1


@pytest.mark.slow
def test_torch_checkpoint_keeps_the_event_heads(extractor: TransformerModel, tmp_path: Path) -> None:
    """The fp32 torch checkpoint (benchmarks' PyTorch baseline) reloads the event heads with their weights."""
    from threatevents.models.transformer_training import (
        load_torch_checkpoint,
        predict_torch_events,
        save_torch_checkpoint,
    )

    assert extractor.torch_net is not None
    cfg = extractor.config
    save_torch_checkpoint(extractor.torch_net, tmp_path / "ckpt", extractor._tokenizer_json, {"context": cfg.context})
    net, _, settings = load_torch_checkpoint(tmp_path / "ckpt")
    assert net.events is not None and settings["event_dim"] == cfg.event_dim
    windows = encode_windows(plain_tokenizer(extractor._tokenizer_json), [make_documents(2, seed=7)[0].texts], 64)
    pairs = [w.pair for w in windows]
    ours_all, theirs_all = predict_torch_events(net, pairs), predict_torch_events(extractor.torch_net, pairs)
    for ours, theirs in zip(ours_all, theirs_all, strict=True):
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.slow
def test_saved_extractor_predicts_events_without_torch(extractor: TransformerModel, tmp_path: Path) -> None:
    saved = extractor.save(tmp_path / "model")
    docs = [d.texts for d in make_documents(3, seed=1)]
    line = run_without_training_libraries(f"""
        import json
        from threatevents.models.transformer import TransformerModel
        model = TransformerModel.load({str(saved)!r})
        events = model.predict_events({docs!r})
        assert not [m for m in ("torch", "transformers", "sklearn") if m in sys.modules]
        print(json.dumps([[e.to_record() for e in doc] for doc in events]))
    """)
    assert json.loads(line) == _records(extractor.predict_events(docs))


@pytest.mark.slow
def test_missing_event_weights_are_refused(extractor: TransformerModel, tmp_path: Path) -> None:
    saved = extractor.save(tmp_path / "model")
    for name in EventHeadWeights.FILES:
        (saved / EVENT_WEIGHTS_DIR / f"{name}.npy").unlink()
    write_manifest(saved)
    with pytest.raises(ModelLoadError, match=EVENT_WEIGHTS_DIR):
        TransformerModel.load(saved)


def test_models_without_event_heads_return_no_events(tiny_encoder_dir: Path) -> None:
    """A sentence-only model (as the shipped default) has no event heads: no events, nothing extra run."""
    shipped = Path(__file__).resolve().parents[1] / "src" / "threatevents" / "shipped" / "default"
    if not (shipped / "manifest.json").is_file():
        pytest.skip("no shipped default model in this checkout")
    model = TransformerModel.load(shipped)
    assert not model.config.events and not model.has_events and model.event_heads is None
    assert model.predict_events([["Hackers stole data.", "A patch fixed it."], ["Nothing."]]) == [[], []]
    assert model._runtime is not None and not model._runtime.windows


# -- training from the command line ----------------------------------------------------------------------
@pytest.mark.slow
def test_cli_trains_event_heads_and_scores_events_on_dev_and_test(
    tiny_corpus_dir: Path, tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from threatevents.cli import app
    from threatevents.corpus import read_corpus

    corpus = read_corpus(tiny_corpus_dir)
    write_annotation(corpus.split("all"), tmp_path / "casie" / "annotation")
    out = tmp_path / "model"
    args = ["train", str(tiny_corpus_dir), "--kind", "transformer", "--out", str(out), "--events-dir"]
    args += [str(tmp_path / "casie"), "--event-heads", "--base-model", str(tiny_encoder_dir), "--epochs", "1"]
    args += ["--batch-size", "16", "--set", "linear_weight=0", "--set", "cascade_below=0", "--set", "pooling=mean"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))["config"]
    assert config["events"] is True and config["context"] == "neighbours"
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    for split in ("dev_events", "test_events"):
        assert 0 <= metrics[split]["trigger_cls_f1"] <= 1 and metrics[split]["trigger_cls"]["gold"] > 0
    assert metrics["training"]["event_sentences"] > 0
    assert len(metrics["training"]["dev_event_scores"]) == metrics["training"]["epochs_run"] == 1
    assert 0 <= metrics["training"]["dev_event_scores"][0] <= 1
    assert TransformerModel.load(out).has_event_extractor


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--kind", "linear", "--events-dir", "."], "--event-heads needs --kind transformer"),
        (["--kind", "transformer"], "give --events-dir"),
        (["--kind", "transformer", "--events-dir", ".", "--set", "context=none"], "context=neighbours"),
    ],
)
def test_cli_event_heads_mistakes_are_usage_errors(
    tiny_corpus_dir: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    from typer.testing import CliRunner

    from threatevents.cli import app

    args = ["train", str(tiny_corpus_dir), "--out", str(tmp_path / "m"), "--event-heads", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert not (tmp_path / "m" / "manifest.json").exists()


def test_align_events_carries_spans_into_sentences_found_with_whitespace_collapsed(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from threatevents.corpus import Sentence
    from threatevents.models.event_training import align_events

    content = "Hackers  stole\nthe data.   Acme   was hit by ransomware."
    stole, acme = content.index("stole"), content.index("Acme")
    nugget = {"startOffset": stole, "endOffset": stole + 5, "text": "stole"}
    argument = {"startOffset": acme, "endOffset": acme + 4, "text": "Acme", "type": "Organization"}
    event = {"type": "Attack", "subtype": "Databreach", "realis": "Actual", "nugget": nugget}
    event["argument"] = [argument | {"role": {"type": "Victim"}}]
    (tmp_path / "d1.json").write_text(json.dumps({"content": content, "cyberevent": {"hopper": [{"events": [event]}]}}))
    doc = Document(
        "d1", [Sentence("Hackers stole the data.", ("AttackDatabreach",)), Sentence("Acme was hit by ransomware.")]
    )
    first, second = align_events(tmp_path, [doc]).sentences
    assert first is not None and second is not None
    assert first.triggers == [(8, 13, EVENT_LABELS.index("AttackDatabreach"), 0)]
    assert first.arguments == [[(NEXT, 0, 4, ARGUMENT_ROLES.index("Victim"))]]


def test_pair_role_logits_score_every_pair_as_the_paired_formula() -> None:
    rng = np.random.default_rng(3)
    roles, dim = len(ROLE_CLASSES), 4
    heads = EventHeadWeights(
        rng.normal(size=(3, dim)),
        rng.normal(size=3),
        rng.normal(size=(roles, dim, dim)),
        rng.normal(size=(roles, 2 * dim)),
        rng.normal(size=roles),
    )
    triggers, arguments = rng.normal(size=(2, dim)), rng.normal(size=(3, dim))
    pairs = heads.pair_role_logits(triggers, arguments)
    assert pairs.shape == (2, 3, roles)
    for t in range(2):
        for a in range(3):
            expected = [
                triggers[t] @ heads.role_bilinear[r] @ arguments[a]
                + heads.role_weight[r] @ np.concatenate([triggers[t], arguments[a]])
                + heads.role_bias[r]
                for r in range(roles)
            ]
            np.testing.assert_allclose(pairs[t, a], expected, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(heads.role_logits(triggers[t : t + 1], arguments[a : a + 1])[0], expected)


@pytest.mark.slow
def test_one_pass_gives_the_sentence_scores_and_the_events(extractor: TransformerModel) -> None:
    docs = make_documents(3, seed=1)
    probs, events = extractor.predict_proba_and_events(docs)
    np.testing.assert_allclose(probs, extractor.predict_proba(docs), atol=1e-6)
    assert [[[e.to_record() for e in s] for s in d] for d in events] == [
        [[e.to_record() for e in s] for s in d] for d in extractor.predict_sentence_events(docs)
    ]
    assert sum(len(s) for d in events for s in d) > 0


def test_calibration_sample_is_seeded_sized_and_in_corpus_order() -> None:
    from threatevents.models.transformer import calibration_sample

    encoded = [([i], [0]) for i in range(1000)]
    sample = calibration_sample(encoded, 13, 160)
    assert len(sample) == 160 and sample == sorted(sample) and sample == calibration_sample(encoded, 13, 160)
    assert len(calibration_sample(encoded, 13)) == 640 and len(calibration_sample(encoded[:50], 13, 160)) == 50


@pytest.mark.slow
def test_event_model_card_names_its_smaller_calibration(extractor: TransformerModel) -> None:
    from threatevents.models.transformer_config import EVENT_CALIBRATION_WINDOWS

    assert extractor.config.quantize == "static"
    assert f"{EVENT_CALIBRATION_WINDOWS} training windows" in extractor.card_details()


@pytest.mark.slow
def test_one_pass_with_the_linear_companion_gives_predict_proba(extractor: TransformerModel, tmp_path: Path) -> None:
    """With a blended and cascading linear model, the one-pass probabilities are those of predict_proba
    (blend weight applied, easy sentences settled by the linear model alone) and decide the same labels."""
    from threatevents.models.linear import LinearConfig, LinearModel

    model = TransformerModel.load(extractor.save(tmp_path / "model"))
    docs = make_documents(6, seed=3)
    linear = LinearModel(LinearConfig(seed=1, min_df=1)).fit(make_documents(16, seed=1))
    highest = linear.predict_proba(docs).max(axis=1)
    cut = float(np.median(highest))  # some sentences are easy (linear alone), the others blended
    model.config.linear_weight, model.config.cascade_below = 0.5, cut
    model.attach_linear(linear, None)
    assert model.linear is linear and 0 < (highest < cut).sum() < len(highest)
    probs, events = model.predict_proba_and_events(docs)
    expected = model.predict_proba(docs)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    assert model.decide(probs) == model.decide(expected)
    transformer = model.transformer_proba(docs)
    assert np.abs(expected - transformer).max() > 1e-3  # the companion does change the probabilities
    assert [len(doc) for doc in events] == [len(d.sentences) for d in docs]


@pytest.mark.slow
def test_cli_tag_no_events_keeps_the_labels_and_drops_the_events(extractor: TransformerModel, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from threatevents.cli import app

    saved = extractor.save(tmp_path / "model")
    report = tmp_path / "report.txt"
    report.write_text("\n\n".join(" ".join(d.texts) for d in make_documents(4, seed=1)), encoding="utf-8")
    runs = {}
    for flags in ([], ["--no-events"]):
        result = CliRunner().invoke(app, ["tag", str(report), "--model", str(saved), *flags])
        assert result.exit_code == 0, result.output
        runs[bool(flags)] = [json.loads(line) for line in result.stdout.splitlines()]
    with_events, without = runs[False], runs[True]
    assert len(with_events) == len(without) > 10
    assert sum(len(r["events"]) for r in with_events) > 0
    assert all(r["events"] == [] for r in without)
    assert [(r["text"], r["labels"], r["scores"]) for r in with_events] == [
        (r["text"], r["labels"], r["scores"]) for r in without
    ]


@pytest.mark.slow
def test_bench_events_runs_every_contender_on_the_same_documents(
    extractor: TransformerModel, tiny_corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_bench_events import bench_events
    from threatevents.models.transformer_training import save_torch_checkpoint

    assert extractor.torch_net is not None
    saved = extractor.save(tmp_path / "model")
    cfg = extractor.config
    settings = {"context": cfg.context, "max_length": cfg.max_length, "pooling": cfg.pooling}
    save_torch_checkpoint(extractor.torch_net, tmp_path / "torch", extractor._tokenizer_json, settings)
    args = ["--model", str(saved), "--torch-checkpoint", str(tmp_path / "torch"), "--corpus", str(tiny_corpus_dir)]
    bench = bench_events()
    json_args = ["--json", str(tmp_path / "b.json")]
    assert bench.main([*args, "--rounds", "2", "--threads", "1", "--in-line", *json_args]) == 0
    result = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    out = capsys.readouterr().out
    assert "onnxruntime session 1 intra-op" in out and "torch 1" in out
    names = [bench.WITH_EVENTS, bench.NO_EVENTS, bench.TORCH, bench.GRAPH, bench.IN_LINE]
    assert sorted(result["sentences_per_s"]) == sorted(names) and result["documents"] == 12
    assert all(len(result["sentences_per_s_per_round"][name]) == 2 for name in names)
    found = result["events_found"]
    assert found[bench.WITH_EVENTS] > 0 and found[bench.TORCH] > 0 and found[bench.NO_EVENTS] == 0
    assert found[bench.IN_LINE] == found[bench.WITH_EVENTS] and found[bench.GRAPH] == 0
    assert all(v > 0 for v in result["ratios"].values())
    assert 50 < result["peak_rss_mb"]["events"] < 2000 and 50 < result["peak_rss_mb"]["no_events"] < 2000
    size = sum(f.stat().st_size for f in saved.rglob("*") if f.is_file()) / 1e6
    assert result["model_mb"] == round(size, 2) and result["bars_met"]["model_mb"] is True
    assert bench.main([*args, "--limit", "2", "--rounds", "1"]) == 0  # a subset of the split; e only when asked
    out = capsys.readouterr().out
    assert "2 documents" in out and bench.IN_LINE not in out and "a/e (graph ahead / in line)" in out


def test_trigger_labels_lift_sentence_scores_in_every_path(extractor: TransformerModel) -> None:
    """With ``trigger_labels`` a sentence's label probability is at least the weight x its best trigger of that type,
    the same through predict_proba and the one-pass path; switching events off gives the sentence head back."""
    from threatevents.models.trigger_labels import WEIGHTS, trigger_scores

    docs = make_documents(4, seed=3)
    head = extractor.predict_proba(docs)
    saved = extractor.config.trigger_labels
    try:
        extractor.config.trigger_labels = 1.0
        lifted = extractor.predict_proba(docs)
        triggers = trigger_scores(extractor.predict_sentence_events(docs))
        assert triggers.any()
        np.testing.assert_allclose(lifted, np.maximum(head, triggers), atol=1e-9)
        np.testing.assert_allclose(extractor.predict_proba_and_events(docs)[0], lifted, atol=1e-9)
        extractor.events_enabled = False
        np.testing.assert_allclose(extractor.predict_proba(docs), head, atol=1e-9)
        extractor.events_enabled = True
        chosen = extractor.tune_trigger_labels(make_documents(6, seed=5))
        assert chosen in WEIGHTS and extractor.config.trigger_labels == chosen
        assert set(extractor.metrics["trigger_labels"]["dev_weighted_f1"]) == {f"{w:g}" for w in WEIGHTS}
        assert "Sentence labels from events" in extractor.card_details()
    finally:
        extractor.config.trigger_labels, extractor.events_enabled = saved, True


@pytest.mark.slow
def test_decoding_offsets_are_chosen_on_dev_saved_and_used(extractor: TransformerModel, tmp_path: Path) -> None:

    dev = make_documents(16, seed=1)[:5]  # documents the fixture's annotation covers
    cfg = extractor.config
    from threatevents.models.event_extractor import Decoding

    names = [f"decode_{name}" for name in Decoding.__dataclass_fields__]
    saved = {name: getattr(cfg, name) for name in names}
    try:
        chosen = extractor.tune_event_decoding(dev)
        plain = ",".join(f"{name}=0" for name in Decoding.__dataclass_fields__)  # argmax decoding, tried first
        assert extractor.decoding == chosen and plain in extractor.metrics["decoding"]["dev_scores"]
        extractor.config.decode_trigger = 10.0  # every sentence token becomes a trigger
        extractor.config.decode_join_triggers = True  # ... and touching ones one trigger
        extractor.config.decode_rank = 0.0  # the heads decide the triggers, not the ranker
        flooded = extractor.predict_events(dev)
        assert sum(map(len, flooded)) > 0
        reloaded = TransformerModel.load(extractor.save(tmp_path / "model"))
        assert reloaded.decoding == extractor.decoding
        assert [[e.to_record() for e in d] for d in reloaded.predict_events(dev)] == [
            [e.to_record() for e in d] for d in flooded
        ]
        assert reloaded.decoding.join_triggers is True
        assert "trigger offset 10" in extractor.card_details()
        assert "touching trigger spans joined: yes" in extractor.card_details()
        assert "trigger ranker" not in extractor.card_details()
        kept = extractor.tune_event_decoding(dev, keep=["trigger"])  # a value the config gives is not searched
        tried = extractor.metrics["decoding"]["dev_scores"]
        assert kept.trigger == 10.0 and len(tried) > 1 and all(k.startswith("trigger=10,") for k in tried)
    finally:
        for name, value in saved.items():
            setattr(cfg, name, value)


# -- the events cascade ------------------------------------------------------------------------------------
def test_event_cascade_search_keeps_the_largest_cut_within_the_cost() -> None:
    from threatevents.models.event_tuning import MAX_EVENT_CASCADE_COST, tune_event_cascade

    linear = np.array([[0.01, 0.0], [0.04, 0.0], [0.08, 0.02], [0.5, 0.1]])
    lost = {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0}  # cost of skipping each sentence
    lost[1], lost[2] = MAX_EVENT_CASCADE_COST / 2, MAX_EVENT_CASCADE_COST

    def score(skip: np.ndarray) -> float:
        return 0.5 - sum(lost[i] for i in np.flatnonzero(skip))

    choice = tune_event_cascade(linear, score, [0.02, 0.05, 0.1, 0.6])
    assert choice.cut == 0.05 and choice.dev_skipped == 0.5  # 0.1 costs 1.5x the allowance; 0.6 is not tried
    assert set(choice.dev_scores) == {"0", "0.02", "0.05", "0.1"}
    assert tune_event_cascade(linear, lambda skip: 0.5 + skip.sum(), [0.02, 0.6]).cut == 0.6  # helping is fine


@pytest.mark.slow
def test_events_cascade_skips_easy_sentences_without_changing_labels(extractor: TransformerModel) -> None:
    """Sentences the linear companion finds easy find no events; the labels and every other sentence's events
    are those of the pass over every sentence."""
    import copy

    from threatevents.models.linear import LinearConfig, LinearModel

    docs = make_documents(6, seed=3)
    model = copy.copy(extractor)
    model.config, model.metrics = copy.deepcopy(extractor.config), copy.deepcopy(extractor.metrics)
    model.config.decode_trigger = 10.0  # a trigger in every sentence, so skipping shows
    model.config.linear_weight, model.config.cascade_below = 0.3, 0.5
    model.attach_linear(LinearModel(LinearConfig(seed=1)).fit(make_documents(16, seed=1)), None)
    easy = model.linear.predict_proba(docs).max(axis=1) < 0.5  # type: ignore[union-attr]
    assert 0 < easy.sum() < len(easy)
    model.config.event_cascade_below = 0.0
    probs_all, events_all = model.predict_proba_and_events(docs)
    model.config.event_cascade_below = 0.9  # above the labels' cut: held at it
    probs, events = model.predict_proba_and_events(docs)
    np.testing.assert_allclose(probs, probs_all)
    flat, flat_all = [s for d in events for s in d], [s for d in events_all for s in d]
    assert all(flat_all[i] for i in range(len(flat_all)))
    assert [bool(s) for s in flat] == [not e for e in easy]
    assert [_records([s]) for s, e in zip(flat, easy, strict=True) if not e] == [
        _records([s]) for s, e in zip(flat_all, easy, strict=True) if not e
    ]
    assert model.predict_sentence_events(docs) == events  # the events-only path skips the same sentences
    assert "Events cascade: sentences whose highest linear probability is below 0.5" in model.card_details()

    chosen = model.tune_event_cascade(make_documents(16, seed=1)[:5])
    assert chosen in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3) and chosen <= 0.5
    assert model.metrics["event_cascade"]["cut"] == chosen == model.config.event_cascade_below

    # while found triggers lift the labels, skipping a sentence would change its labels: no events cascade
    model.config.trigger_labels, model.config.event_cascade_below = 1.0, 0.0
    lifted_all, _ = model.predict_proba_and_events(docs)
    model.config.event_cascade_below = 0.5
    lifted, lifted_events = model.predict_proba_and_events(docs)
    np.testing.assert_allclose(lifted, lifted_all)
    assert all(s for d in lifted_events for s in d)
    assert not np.allclose(lifted_all, probs_all)  # the lift is on: the check above is not vacuous
    assert model.tune_event_cascade(docs) == 0.0
