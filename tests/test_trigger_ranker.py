"""The trigger ranker: candidates, features computed by hand, selection, fitting, decoding with it, saving and
refusing bad files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from threatevents.labels import EVENT_LABELS
from threatevents.models.event_extractor import (
    ROLE_CLASSES,
    Decoding,
    EventHeadWeights,
    WindowOutputs,
    ranker_candidates,
    window_events,
)
from threatevents.models.trigger_lexicon import TriggerLexicon
from threatevents.models.trigger_ranker import RANKER_FILE, TriggerRanker, candidate_spans, features, select
from word_windows import span_of, word_window

BREACH = EVENT_LABELS.index("AttackDatabreach")
RANSOM = EVENT_LABELS.index("AttackRansom")


def _lexicon() -> TriggerLexicon:
    def one(text: str, piece: str, label: str = "AttackDatabreach") -> tuple[str, list[tuple[int, int, str]]]:
        return text, [(*span_of(text, piece), label)]

    return TriggerLexicon.build(
        [
            one("Acme was hacked.", "was hacked"),
            one("Hooli was hacked.", "was hacked"),
            one("The ransom was paid.", "ransom", "AttackRansom"),
            one("A ransom came.", "ransom", "AttackRansom"),
            ("Nobody mentioned a ransom.", []),
        ]
    )


def _probs(**given: float) -> np.ndarray:
    return np.array([given.get(label, 0.0) for label in EVENT_LABELS])


def test_candidates_are_decoded_spans_their_redrawn_edges_and_lexicon_phrases() -> None:
    text = "Acme was hacked and paid a ransom"
    was = span_of(text, "was")
    found = candidate_spans(text, {"d0": [(*was, BREACH)], "d1": []}, _lexicon())
    assert found == {
        (*was, BREACH): {"d0"},
        (*span_of(text, "Acme was"), BREACH): {"d0+10"},  # one word more on the left
        (*span_of(text, "Acme was hacked"), BREACH): {"d0+11"},  # ... and on the right
        (*span_of(text, "was hacked"), BREACH): {"d0+01", "d0r", "lex"},  # widened, redrawn, and a lexicon phrase
        (*span_of(text, "ransom"), RANSOM): {"lex"},
    }  # two words more on the left would start before the sentence
    assert candidate_spans("Nothing here", {"d0": []}, _lexicon()) == {}


def test_features_by_hand() -> None:
    text = "Acme was hacked today"
    lexicon = _lexicon()
    tag_probs = np.full((6, 11), 0.0)
    tag_probs[:, 0] = 1.0
    b, i = 1 + 2 * BREACH, 2 + 2 * BREACH
    tag_probs[2] = 0.0  # "was": B 0.6, O 0.4
    tag_probs[2, b], tag_probs[2, 0] = 0.6, 0.4
    tag_probs[3] = 0.0  # "hacked": I 0.8, O 0.2
    tag_probs[3, i], tag_probs[3, 0] = 0.8, 0.2
    example = features(
        text, (*span_of(text, "was hacked"), BREACH), {"lex"}, tag_probs, (2, 4), _probs(AttackDatabreach=0.5), lexicon
    )
    assert example["p_begin"] == pytest.approx(0.6)
    assert example["p_inside"] == pytest.approx(0.8)
    assert example["p_type"] == pytest.approx(0.7)
    assert example["p_type_min"] == pytest.approx(0.6)
    assert example["p_any"] == pytest.approx(0.7)
    assert example["p_o_after"] == 1.0 and example["p_inside_after"] == 0.0 and example["p_any_before"] == 0.0
    assert example["label"] == 0.5 and example["label_max"] == 0.5
    assert example["count"] == pytest.approx(math.log1p(2)) and example["count_type"] == pytest.approx(math.log1p(2))
    assert example["occurrences"] == pytest.approx(math.log1p(2))
    assert example["prior"] == pytest.approx(2 / 3) and example["prior_type_x_label"] == pytest.approx(1 / 3)
    assert example["words"] == 2 and example["one_word"] == 0 and example["in_lexicon"] == 1
    for name in ("phrase=was hacked|AttackDatabreach", "head=hacked|AttackDatabreach", "left=acme", "right=today"):
        assert example[name] == 1.0
    assert example["source=lex"] == 1.0 and "source=d0" not in example
    at_start = features(text, (*span_of(text, "Acme"), BREACH), set(), tag_probs, (1, 2), _probs(), lexicon)
    assert at_start["left=<s>"] == 1.0 and at_start["prior"] == 0.0 and at_start["in_lexicon"] == 0.0


def test_select_keeps_the_best_non_overlapping_candidates_above_the_threshold() -> None:
    scored = [(0.9, (4, 14, BREACH)), (0.8, (4, 7, RANSOM)), (0.5, (20, 26, RANSOM)), (0.2, (30, 35, BREACH))]
    assert select(scored, 0.4) == [(0.9, (4, 14, BREACH)), (0.5, (20, 26, RANSOM))]
    assert select(scored, 0.95) == []


def test_fit_learns_which_candidates_are_triggers_and_refuses_one_class() -> None:
    examples = [{"p_type": p, f"phrase=x{k % 3}": 1.0} for k, p in enumerate(np.linspace(0, 1, 40))]
    labels = [e["p_type"] > 0.5 for e in examples]
    examples[0]["once"] = 1.0  # a feature of one candidate only: left out
    ranker = TriggerRanker.fit(examples, labels, c=10.0)
    assert ranker.weights["p_type"] > 0 and "once" not in ranker.weights
    assert ranker.score({"p_type": 0.95}) > 0.5 > ranker.score({"p_type": 0.05})
    assert ranker.score({"unseen": 1.0}) == pytest.approx(1 / (1 + math.exp(-ranker.bias)))
    with pytest.raises(ValueError, match="right and ones that are not"):
        TriggerRanker.fit(examples, [True] * len(examples))


def _heads(lexicon: TriggerLexicon | None, ranker: TriggerRanker | None) -> EventHeadWeights:
    roles, dim = len(ROLE_CLASSES), 2
    bias = np.zeros(roles)
    bias[-1] = 1.0
    return EventHeadWeights(
        np.zeros((3, dim)),
        np.zeros(3),
        np.zeros((roles, dim, dim)),
        np.zeros((roles, 2 * dim)),
        bias,
        lexicon,
        ranker,
    )


def test_window_events_take_the_ranked_triggers_when_the_decoding_says_so(tmp_path: Path) -> None:
    text = "Acme was hacked today"
    window = word_window(text)
    logits = np.full((6, 11), -5.0)
    logits[:, 0] = 5.0
    logits[2] = -5.0
    logits[2, 1 + 2 * BREACH] = 5.0  # the heads: "was"
    outputs = WindowOutputs(logits, np.tile([5.0, -5.0, -5.0], (6, 1)), np.zeros((6, 2)), np.zeros((6, 2)))
    ranker = TriggerRanker({"phrase=was hacked|AttackDatabreach": 4.0}, bias=-2.0)  # prefers the annotated phrase
    heads = _heads(_lexicon(), ranker)
    sentences = [None, (text, 100), None]
    likely = _probs(AttackDatabreach=0.9)
    (plain,) = window_events(window, outputs, heads, sentences, Decoding(), None, likely)
    assert plain.trigger.text == "was"  # rank 0: off
    on = Decoding(rank=0.5)
    (ranked,) = window_events(window, outputs, heads, sentences, on, None, likely)
    assert (ranked.trigger.start, ranked.trigger.text) == (100 + text.index("was"), "was hacked")
    assert ranked.score == pytest.approx(round(1 / (1 + math.exp(-2.0)), 4))
    (fallback,) = window_events(window, outputs, heads, sentences, on)  # no network probabilities: the heads decide
    assert fallback.trigger.text == "was"
    assert window_events(window, outputs, heads, sentences, Decoding(rank=0.9), None, likely) == []  # 0.88 < 0.9
    (no_ranker,) = window_events(window, outputs, _heads(_lexicon(), None), sentences, on, None, likely)
    assert no_ranker.trigger.text == "was"
    candidates = {
        c
        for c, _, _ in ranker_candidates(
            window, np.log(np.exp(logits) / np.exp(logits).sum(1, keepdims=True)), text, likely, _lexicon()
        )
    }
    widened = ("Acme was", "Acme was hacked")
    assert candidates == {(*span_of(text, c), BREACH) for c in ("was", "was hacked", *widened)}
    heads.save(tmp_path / "events")
    assert EventHeadWeights.load(tmp_path / "events").ranker == ranker


@pytest.mark.parametrize(
    "bad",
    [
        "[]",
        json.dumps({"weights": {}}),
        json.dumps({"weights": {"a": "1"}, "bias": 0.0}),
        json.dumps({"weights": {"a": True}, "bias": 0.0}),
        json.dumps({"weights": {}, "bias": None}),
        '{"weights": {"a": NaN}, "bias": 0.0}',
        json.dumps({"weights": {}, "bias": 0.0, "extra": 1}),
        "{not json",
        '{"weights": {"a": Infinity}, "bias": 0.0}',
        '{"weights": {"a": 1%s}, "bias": 0.0}' % ("0" * 400),  # an integer too large for a float
        json.dumps({"weights": {"a": 1e308, "b": -1e308}, "bias": 0.0}),  # finite, but would sum to NaN
        "[" * 100_000 + "]" * 100_000,  # nested past the parser's recursion limit
    ],
)
def test_load_refuses_broken_ranker_files(tmp_path: Path, bad: str) -> None:
    (tmp_path / RANKER_FILE).write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError):
        TriggerRanker.load(tmp_path)


def test_score_refuses_to_return_nan() -> None:
    ranker = TriggerRanker({"a": 1.0}, 0.0)
    with pytest.raises(ValueError, match="not finite"):
        ranker.score({"a": float("nan")})


def test_load_without_a_ranker_file_is_none(tmp_path: Path) -> None:
    assert TriggerRanker.load(tmp_path) is None
    TriggerRanker({"a": 1.5}, -0.25).save(tmp_path)
    assert TriggerRanker.load(tmp_path) == TriggerRanker({"a": 1.5}, -0.25)
