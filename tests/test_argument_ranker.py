"""The argument ranker: candidates cut from decoded mentions, features computed by hand, selection, decoding with
it, saving and refusing bad files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from threatevents.labels import ARGUMENT_ROLES, EVENT_LABELS
from threatevents.models.argument_ranker import (
    ARGUMENT_RANKER_FILE,
    MAX_ARGUMENT_WORDS,
    MIN_FEATURE_COUNT,
    ArgumentRanker,
    Candidate,
    MentionProbs,
    argument_candidates,
    argument_features,
    describe,
    select_arguments,
)
from threatevents.models.event_extractor import (
    CURRENT,
    NEXT,
    PREVIOUS,
    ROLE_CLASSES,
    SPECIAL,
    Decoding,
    EventHeadWeights,
    WindowOutputs,
    argument_views,
    token_span,
    window_events,
)
from threatevents.models.trigger_lexicon import words
from word_windows import span_of, word_window

BREACH = EVENT_LABELS.index("AttackDatabreach")
VICTIM = ARGUMENT_ROLES.index("Victim")
NUMBER = ARGUMENT_ROLES.index("Number-of-Victim")
NONE = len(ARGUMENT_ROLES)


def test_candidates_are_decoded_mentions_and_the_runs_of_words_inside_them() -> None:
    text = "Acme lost 2.7 million subscribers, sadly"
    whole = (CURRENT, *span_of(text, "2.7 million subscribers"))
    found = {place: c.sources for place, c in argument_candidates([[whole], [whole], []], [None, text, None]).items()}
    pieces = ["2", ".", "7", "million", "subscribers"]  # words() splits the number at its point
    assert len(words(text[whole[1] : whole[2]])) == len(pieces)
    assert found[whole] == {"d0", "d1"}  # decoded at two offsets
    assert found[(CURRENT, *span_of(text, "subscribers"))] == {"s0", "s1"}  # cut from it
    assert found[(CURRENT, *span_of(text, "2.7 million"))] == {"s0", "s1"}
    subscribers = argument_candidates([[whole]], [None, text, None])[(CURRENT, *span_of(text, "subscribers"))]
    assert (subscribers.first, subscribers.last) == (6, 6)  # Acme lost 2 . 7 million subscribers
    assert (CURRENT, *span_of(text, "2.")) not in found  # a run may not end with punctuation ...
    assert (CURRENT, *span_of(text, ".7")) not in found  # ... nor start with it
    assert len(found) == 10  # the whole and the 9 other runs from and to its words 2, 7, million, subscribers
    assert argument_candidates([[(PREVIOUS, 0, 4)]], [None, text, None]) == {}  # no sentence there


def test_candidates_cut_no_run_longer_than_the_limit() -> None:
    text = " ".join(f"w{k}" for k in range(MAX_ARGUMENT_WORDS + 2))
    found = argument_candidates([[(NEXT, 0, len(text))]], [None, None, text])
    longest = max(len(words(text[a:b])) for (_, a, b), c in found.items() if c.sources == {"s0"})
    assert longest == MAX_ARGUMENT_WORDS and (NEXT, 0, len(text)) in found


def test_features_by_hand() -> None:
    text = "Acme lost 2.7 million subscribers today"
    pieces = words(text)  # Acme lost 2 . 7 million subscribers today
    role_lp = np.full(len(ROLE_CLASSES), math.log(0.01))
    role_lp[VICTIM], role_lp[NUMBER], role_lp[NONE] = math.log(0.5), math.log(0.2), math.log(0.1)
    mention = np.tile([1.0, 0.0, 0.0], (10, 1))  # tokens: [CLS] Acme lost 2 . 7 million subscribers today [SEP]
    mention[7] = [0.2, 0.1, 0.7]  # "subscribers": I 0.7
    mention[8] = [0.6, 0.0, 0.4]  # "today": I 0.4
    parts = np.array([SPECIAL, *[CURRENT] * 8, SPECIAL])
    subscribers = Candidate((CURRENT, *span_of(text, "subscribers")), 6, 6, {"s1"})
    view = describe(text, pieces, subscribers, (7, 8), MentionProbs(mention, parts))
    role, example = argument_features(view, (2, 3, BREACH), role_lp)
    assert role == VICTIM  # the best role but none
    assert example["p_role"] == pytest.approx(0.5) and example["p_none"] == pytest.approx(0.1)
    assert example["role_vs_none"] == pytest.approx(math.log(5))
    assert example["role_margin"] == pytest.approx(math.log(2.5))
    assert example["role=Victim|p"] == pytest.approx(0.5)
    assert example["p_begin"] == pytest.approx(0.1) and example["p_inside_first"] == pytest.approx(0.7)
    assert example["p_mention"] == pytest.approx(0.8) and example["p_mention_min"] == pytest.approx(0.8)
    assert example["p_continue_after"] == pytest.approx(0.4) and example["p_o_after"] == pytest.approx(0.6)
    assert example["p_mention_before"] == pytest.approx(0.0)  # "million" is O
    assert example["words"] == 1 and example["cut"] == 1.0 and example["source=s1"] == 1.0
    for name in (
        "role=Victim",
        "role=Victim|AttackDatabreach",
        "role=Victim|part=1",
        "role=Victim|after|3-5",  # four tokens after the trigger "lost"
        "role=Victim|first=subscribers",
        "role=Victim|left=million",
        "role=Victim|right=today",
        "role=Victim|shape=low-low",
        "first=subscribers",
        "last=subscribers",
    ):
        assert example[name] == 1.0, name
    assert len(example) == 8 + 6 + 12 + 2  # numeric: the candidate, the pair; indicators: the candidate, the pair
    number = Candidate((CURRENT, *span_of(text, "2.7 million")), 2, 5, {"d0"})
    view = describe(text, pieces, number, (3, 7), MentionProbs(mention, parts))
    _, before = argument_features(view, (7, 8, BREACH), role_lp)
    assert before["role=Victim|before|0"] == 1.0 and "cut" not in before and before["role=Victim|shape=num-low"] == 1
    assert before["p_mention_before"] == 0.0 and before["words"] == 4 and before["role=Victim|left=lost"] == 1


def test_score_window_is_the_score_of_each_pairs_features() -> None:
    rng = np.random.default_rng(0)
    text = "Acme lost 2.7 million subscribers today"
    pieces = words(text)
    mention = rng.dirichlet(np.ones(3), size=10)
    parts = np.array([SPECIAL, *[CURRENT] * 8, SPECIAL])
    found = argument_candidates([[(CURRENT, *span_of(text, "2.7 million subscribers today"))]], [None, text, None])
    spans = [token_span(word_window(text), *c.place) for c in found.values()]
    probs = MentionProbs(mention, parts)
    views = [describe(text, pieces, c, s, probs) for c, s in zip(found.values(), spans, strict=True) if s]
    triggers = [(2, 3, BREACH), (1, 2, 0), (8, 9, 2)]  # candidates after the first two; before and over the third
    role_lp = np.log(rng.dirichlet(np.ones(len(ROLE_CLASSES)), size=(3, len(views))))
    examples = [[argument_features(v, t, role_lp[i, c]) for c, v in enumerate(views)] for i, t in enumerate(triggers)]
    names = sorted({name for row in examples for _, ex in row for name in ex})
    ranker = ArgumentRanker({name: float(rng.normal()) for name in names}, bias=-0.5)
    scored = ranker.score_window(views, triggers, role_lp)
    for row, expected in zip(scored, examples, strict=True):
        for (score, place, role), view, (want_role, example) in zip(row, views, expected, strict=True):
            assert place == view.candidate.place and role == want_role
            assert score == pytest.approx(ranker.score(example), abs=1e-12)


def test_token_spans_by_binary_search_agree_with_token_span() -> None:
    from threatevents.models.event_extractor import _TokenSpans

    text = "Acme lost 2.7 million subscribers today"
    window = word_window(text)
    spans = _TokenSpans(window)
    for start in range(len(text) + 1):
        for end in range(start, len(text) + 2):
            assert spans.find(CURRENT, start, end) == token_span(window, CURRENT, start, end), (start, end)
    assert spans.find(NEXT, 0, 4) is None


def test_select_keeps_each_triggers_best_non_overlapping_arguments_above_the_threshold() -> None:
    scored = [
        (0.9, (CURRENT, 10, 30), VICTIM),
        (0.8, (CURRENT, 10, 21), NUMBER),  # overlaps the better one
        (0.7, (NEXT, 10, 21), NUMBER),  # the same characters of another sentence
        (0.2, (CURRENT, 40, 45), VICTIM),
    ]
    assert select_arguments(scored, 0.5) == [(0.9, (CURRENT, 10, 30), VICTIM), (0.7, (NEXT, 10, 21), NUMBER)]
    assert select_arguments(scored, 0.95) == []


def _heads(ranker: ArgumentRanker | None) -> EventHeadWeights:
    """Role scorer: ``Victim`` for every pair (bias), ``none`` just below it."""
    roles, dim = len(ROLE_CLASSES), 2
    bias = np.zeros(roles)
    bias[VICTIM], bias[NONE] = 3.0, 2.0
    return EventHeadWeights(
        np.zeros((3, dim)),
        np.zeros(3),
        np.zeros((roles, dim, dim)),
        np.zeros((roles, 2 * dim)),
        bias,
        argument_ranker=ranker,
    )


def test_window_events_take_the_ranked_arguments_when_the_decoding_says_so(tmp_path: Path) -> None:
    text = "Acme lost 2.7 million subscribers"
    window = word_window(text)  # [CLS] Acme lost 2 . 7 million subscribers [SEP]
    n = len(window.ids)
    trigger = np.full((n, 11), -5.0)
    trigger[:, 0] = 5.0
    trigger[2] = -5.0
    trigger[2, 1 + 2 * BREACH] = 5.0  # "lost"
    mention = np.tile([5.0, -5.0, -5.0], (n, 1))
    mention[3] = [-5.0, 5.0, -5.0]  # "2.7 million subscribers" is one mention
    mention[4:8] = [-5.0, -5.0, 5.0]
    outputs = WindowOutputs(trigger, mention, np.zeros((n, 2)), np.zeros((n, 2)))
    ranker = ArgumentRanker({"cut": 3.0, "last=subscribers": 2.0, "first=subscribers": 1.0}, bias=-4.0)
    heads = _heads(ranker)
    sentences = [None, (text, 100), None]
    (plain,) = window_events(window, outputs, heads, sentences, Decoding())
    assert [(a.role, a.text) for a in plain.arguments] == [("Victim", "2.7 million subscribers")]  # arguments_rank 0
    (ranked,) = window_events(window, outputs, heads, sentences, Decoding(arguments_rank=0.5))
    assert [(a.role, a.text, a.start) for a in ranked.arguments] == [
        ("Victim", "subscribers", 100 + text.index("subs"))
    ]
    assert ranked.arguments[0].score == pytest.approx(round(1 / (1 + math.exp(-2.0)), 4))
    assert window_events(window, outputs, heads, sentences, Decoding(arguments_rank=0.9))[0].arguments == []
    (no_ranker,) = window_events(window, outputs, _heads(None), sentences, Decoding(arguments_rank=0.5))
    assert no_ranker.arguments == plain.arguments
    views, role_lp = argument_views(window, outputs, heads, sentences, [(2, 3, BREACH)])
    assert len(views) == 10 and role_lp.shape == (1, 10, len(ROLE_CLASSES))  # as in the candidates test
    assert argument_views(window, outputs, heads, sentences, [])[0] == []
    heads.save(tmp_path / "events")
    assert EventHeadWeights.load(tmp_path / "events").argument_ranker == ranker
    assert (tmp_path / "events" / ARGUMENT_RANKER_FILE).is_file()


@pytest.mark.parametrize(
    "bad",
    [
        "[]",
        json.dumps({"weights": {}}),
        json.dumps({"weights": {"a": "1"}, "bias": 0.0}),
        '{"weights": {"a": NaN}, "bias": 0.0}',
        "{not json",
        json.dumps({"weights": {"a": 1e308, "b": -1e308}, "bias": 0.0}),
    ],
)
def test_load_refuses_broken_argument_ranker_files(tmp_path: Path, bad: str) -> None:
    (tmp_path / ARGUMENT_RANKER_FILE).write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match=r"argument ranker|not valid JSON"):
        ArgumentRanker.load(tmp_path)


def test_fit_and_load_round_trip(tmp_path: Path) -> None:
    examples = [{"p_role": p, "cut": float(k % 2)} for k, p in enumerate(np.linspace(0, 1, 30))]
    for k in range(MIN_FEATURE_COUNT - 1):
        examples[-1 - k]["rare"] = 1.0  # in too few candidates to be fitted
    ranker = ArgumentRanker.fit(examples, [e["p_role"] > 0.5 for e in examples], c=10.0)
    assert isinstance(ranker, ArgumentRanker) and ranker.weights["p_role"] > 0 and "rare" not in ranker.weights
    assert ArgumentRanker.load(tmp_path) is None
    ranker.save(tmp_path)
    assert ArgumentRanker.load(tmp_path) == ranker
    with pytest.raises(ValueError, match="argument ranker needs"):
        ArgumentRanker.fit(examples, [False] * len(examples))


def test_a_ranker_of_one_class_of_candidates_is_none_and_counted() -> None:
    from threatevents.models.transformer import _fitted
    from threatevents.models.trigger_ranker import TriggerRanker

    examples = [{"p_role": p} for p in np.linspace(0, 1, 30)]
    metrics: dict[str, object] = {}
    assert _fitted(ArgumentRanker, examples, [False] * 30, metrics) is None and metrics == {"features": 0}
    fitted = _fitted(ArgumentRanker, examples, [e["p_role"] > 0.5 for e in examples], metrics)
    assert type(fitted) is ArgumentRanker and metrics == {"features": len(fitted.weights)} and fitted.weights
    assert type(_fitted(TriggerRanker, examples, [e["p_role"] > 0.5 for e in examples], {})) is TriggerRanker
