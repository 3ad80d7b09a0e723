"""The trigger lexicon: counting trigger phrases, redrawing decoded trigger edges, saving and refusing bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from threatevents.labels import EVENT_LABELS
from threatevents.models.event_extractor import (
    CURRENT,
    ROLE_CLASSES,
    SPECIAL,
    Decoding,
    EventHeadWeights,
    Window,
    WindowOutputs,
    window_events,
)
from threatevents.models.trigger_lexicon import LEXICON_FILE, TriggerLexicon, words
from word_windows import span_of


def _trigger(text: str, piece: str, label: str = "AttackDatabreach") -> tuple[int, int, str]:
    return (*span_of(text, piece), label)


PATCH = "PatchVulnerability"
SENTENCES = [
    "The server was compromised on Monday.",
    "Another server was compromised too.",
    "Their records were compromised as well.",
    "It was a bad day, and the patch was late.",
    "They released a patch on Friday.",
    "Files were compromised.",
]


def _lexicon() -> TriggerLexicon:
    return TriggerLexicon.build(
        [
            (SENTENCES[0], [_trigger(SENTENCES[0], "was compromised")]),
            (SENTENCES[1], [_trigger(SENTENCES[1], "was compromised", "AttackRansom")]),
            (SENTENCES[2], [_trigger(SENTENCES[2], "compromised")]),  # annotated without its auxiliary
            (SENTENCES[3], []),
            (SENTENCES[5], [_trigger(SENTENCES[5], "compromised")]),
            (SENTENCES[4], [_trigger(SENTENCES[4], "released a patch", PATCH), _trigger(SENTENCES[4], "patch", PATCH)]),
        ]
    )


def test_build_counts_trigger_phrases_and_their_occurrences() -> None:
    lexicon = _lexicon()
    assert lexicon.triggers == {  # phrases annotated once ("released a patch", "patch") are left out
        "was compromised": {"AttackDatabreach": 1, "AttackRansom": 1},
        "compromised": {"AttackDatabreach": 2},
    }
    # "compromised" occurs four times; "was" is no trigger phrase
    assert lexicon.occurrences == {"was compromised": 2, "compromised": 4}
    assert lexicon.prior("was compromised") == pytest.approx(2 / 3)
    assert lexicon.prior("compromised") == pytest.approx(2 / 5)
    assert lexicon.prior("was") == 0.0 and lexicon.prior("never seen") == 0.0
    assert lexicon.count("was compromised") == 2 and lexicon.count("was compromised", "AttackRansom") == 1
    assert lexicon.prior("was compromised", "AttackRansom") == pytest.approx(1 / 3)
    assert lexicon.prior("was compromised", PATCH) == 0.0


def test_build_reads_words_not_characters() -> None:
    text = "Attackers stole e-mail addresses."
    lexicon = TriggerLexicon.build([(text, [(10, 13, "AttackDatabreach")])] * 2)  # "sto": the whole word counts
    assert lexicon.triggers == {"stole": {"AttackDatabreach": 2}}
    assert words("it's done.") == [(0, 4), (5, 9), (9, 10)]


def test_redraw_moves_edges_to_a_more_likely_trigger_phrase() -> None:
    lexicon = _lexicon()
    text = "The database was compromised last week."
    was, compromised, both = span_of(text, "was"), span_of(text, "compromised"), span_of(text, "was compromised")
    assert lexicon.redraw(text, *was, margin=0.0) == both  # widened to the right
    assert lexicon.redraw(text, *compromised, margin=0.0) == both  # widened to the left (2/3 beats 2/5)
    assert lexicon.redraw(text, *both, margin=0.0) == both  # already the best phrase
    assert lexicon.redraw(text, *compromised, margin=0.5) == compromised  # 2/3 - 2/5 is not above 0.5
    last = span_of(text, "last week")
    assert lexicon.redraw(text, *last, margin=0.0) == last  # no trigger phrase around: unchanged


def test_redraw_needs_a_phrase_seen_twice_and_within_reach() -> None:
    lexicon = _lexicon()
    text = "They released a patch today."
    patch = span_of(text, "patch")
    assert lexicon.redraw(text, *patch, margin=0.0) == patch  # "released a patch" is annotated once only
    far = "The files were, as we said before, compromised."
    assert lexicon.redraw(far, *span_of(far, "were"), margin=0.0) == span_of(far, "were")  # 6 words away
    assert lexicon.redraw(far, 0, 0, margin=0.0) == (0, 0)  # no word inside: unchanged


def test_lexicon_round_trips_and_refuses_bad_files(tmp_path: Path) -> None:
    lexicon = _lexicon()
    lexicon.save(tmp_path)
    assert TriggerLexicon.load(tmp_path) == lexicon
    assert TriggerLexicon.load(tmp_path / "elsewhere") is None  # models saved before the lexicon
    for bad in (
        "{not json",
        "[]",
        '{"triggers": {}}',
        '{"triggers": {"a": 1}, "occurrences": {}}',
        '{"triggers": {"a": {"AttackRansom": -1}}, "occurrences": {}}',
        '{"triggers": {"a": {"AttackRansom": true}}, "occurrences": {}}',
        '{"triggers": {"a": {"Unknown": 1}}, "occurrences": {}}',
        '{"triggers": {}, "occurrences": {"a": 1.5}}',
        '{"triggers": {}, "occurrences": {}, "extra": 1}',
        '{"triggers": {"a": {"AttackRansom": 3}}, "occurrences": {"a": 2}}',  # annotated more than it occurs
        '{"triggers": {"a": {"AttackRansom": 2}}, "occurrences": {"a": 1%s}}' % ("0" * 400),  # would overflow logs
        "[" * 100_000 + "]" * 100_000,  # nested past the parser's recursion limit
    ):
        (tmp_path / LEXICON_FILE).write_text(bad, encoding="utf-8")
        with pytest.raises(ValueError):
            TriggerLexicon.load(tmp_path)
    (tmp_path / LEXICON_FILE).write_bytes(b"\xff\xfe")
    with pytest.raises(ValueError, match="not valid JSON"):
        TriggerLexicon.load(tmp_path)


def _heads(lexicon: TriggerLexicon | None) -> EventHeadWeights:
    roles, dim = len(ROLE_CLASSES), 2
    bias = np.zeros(roles)
    bias[-1] = 1.0
    return EventHeadWeights(
        np.zeros((3, dim)), np.zeros(3), np.zeros((roles, dim, dim)), np.zeros((roles, 2 * dim)), bias, lexicon
    )


def test_window_events_redraw_trigger_edges_only_when_the_decoding_says_so(tmp_path: Path) -> None:
    text = "The database was compromised today"  # tokens: The database was compromised today
    spans = words(text)
    part = np.array([SPECIAL, *[CURRENT] * len(spans), SPECIAL], dtype=np.int8)
    start = np.array([0, *(a for a, _ in spans), 0])
    end = np.array([0, *(b for _, b in spans), 0])
    window = Window(list(range(len(part))), [0] * len(part), part, start, end)
    breach = EVENT_LABELS.index("AttackDatabreach")
    tags = [0, 0, 0, 1 + 2 * breach, 0, 0, 0]  # "was" alone
    logits = np.full((len(tags), 11), -5.0)
    logits[np.arange(len(tags)), tags] = 5.0
    outputs = WindowOutputs(logits, np.zeros((len(tags), 3)), np.zeros((len(tags), 2)), np.zeros((len(tags), 2)))
    sentences = [None, (text, 50), None]
    heads = _heads(_lexicon())
    (plain,) = window_events(window, outputs, heads, sentences)
    assert plain.trigger.text == "was"
    on = Decoding(trigger_boundaries=True)
    (redrawn,) = window_events(window, outputs, heads, sentences, on)
    assert (redrawn.trigger.start, redrawn.trigger.text) == (50 + text.index("was"), "was compromised")
    assert redrawn.score == plain.score  # the decoded tags' probabilities, as before
    (kept,) = window_events(window, outputs, _heads(None), sentences, on)  # no lexicon: no effect
    assert kept.trigger.text == "was"
    tags[4] = 1 + 2 * breach  # "was" and "compromised" both redraw to "was compromised": one event
    logits = np.full((len(tags), 11), -5.0)
    logits[np.arange(len(tags)), tags] = 5.0
    two = WindowOutputs(logits, outputs.mention_logits, outputs.trigger_states, outputs.argument_states)
    assert [e.trigger.text for e in window_events(window, two, heads, sentences)] == ["was", "compromised"]
    assert [e.trigger.text for e in window_events(window, two, heads, sentences, on)] == ["was compromised"]
    heads.save(tmp_path / "events")
    assert EventHeadWeights.load(tmp_path / "events").lexicon == heads.lexicon
    (tmp_path / "events" / LEXICON_FILE).write_text(json.dumps({"triggers": 1}), encoding="utf-8")
    with pytest.raises(ValueError):
        EventHeadWeights.load(tmp_path / "events")


def _probs(**given: float) -> np.ndarray:
    return np.array([given.get(label, 0.0) for label in EVENT_LABELS])


def test_propose_adds_typed_phrases_where_the_sentence_label_is_likely() -> None:
    first, second = "They paid the ransom at once.", "We paid the ransom too."
    lexicon = TriggerLexicon.build(
        [
            (first, [_trigger(first, "paid the ransom", "AttackRansom")]),
            (second, [_trigger(second, "paid the ransom", "AttackRansom")]),
            ("Nobody paid the ransom.", []),
            ("A ransom note came.", [_trigger("A ransom note came.", "ransom", "AttackRansom")]),
            ("The ransom was high.", [_trigger("The ransom was high.", "ransom", "AttackRansom")]),
        ]
    )
    text = "The city paid the ransom on Friday."
    ransom = EVENT_LABELS.index("AttackRansom")
    prior = 2 / 4  # "paid the ransom": 2 triggers in 3 occurrences, smoothed; "ransom" 2 in 5 (+1): 1/3
    (proposal,) = lexicon.propose(text, _probs(AttackRansom=0.9), threshold=0.4)
    assert proposal[:3] == (*span_of(text, "paid the ransom"), ransom)  # the best score first, "ransom" overlaps it
    assert proposal[3] == pytest.approx(prior * 0.9)
    assert lexicon.propose(text, _probs(AttackRansom=0.5), threshold=0.4) == []  # 0.25 < 0.4
    assert lexicon.propose(text, _probs(AttackDatabreach=1.0), threshold=0.1) == []  # no breach phrase here
    assert lexicon.propose(text, _probs(AttackRansom=1.0), threshold=0.0) == []  # threshold 0: off
    taken = [span_of(text, "paid")]
    (other,) = lexicon.propose(text, _probs(AttackRansom=1.0), threshold=0.3, taken=taken)
    assert other[:2] == span_of(text, "ransom")  # the decoded trigger keeps its place


def test_window_events_add_proposed_triggers_with_their_arguments() -> None:
    lexicon = TriggerLexicon.build(
        [
            ("Acme was hacked.", [_trigger("Acme was hacked.", "was hacked")]),
            ("Hooli was hacked.", [_trigger("Hooli was hacked.", "was hacked")]),
        ]
    )
    text = "Acme was hacked"
    spans = words(text)
    part = np.array([SPECIAL, *[CURRENT] * len(spans), SPECIAL], dtype=np.int8)
    window = Window(list(range(5)), [0] * 5, part, np.array([0, 0, 5, 9, 0]), np.array([0, 4, 8, 15, 0]))
    none = np.full((5, 11), -5.0)
    none[:, 0] = 5.0  # the heads find no trigger
    mentions = np.full((5, 3), -5.0)
    mentions[:, 0] = 5.0
    mentions[1] = [-5.0, 5.0, -5.0]  # "Acme" is a mention
    states = np.zeros((5, 2))
    argument_states = np.zeros((5, 2))
    argument_states[1] = [1.0, 0.0]  # Victim, as the role scorer reads it
    outputs = WindowOutputs(none, mentions, states, argument_states)
    heads = _heads(lexicon)
    heads.role_weight[ROLE_CLASSES.index("Victim"), 2] = 5.0
    sentences = [None, (text, 10), None]
    likely = _probs(AttackDatabreach=0.9)
    assert window_events(window, outputs, heads, sentences, Decoding(), likely) == []  # proposals off
    on = Decoding(propose=0.3)
    assert window_events(window, outputs, heads, sentences, on) == []  # no label probabilities: none proposed
    (event,) = window_events(window, outputs, heads, sentences, on, likely)
    assert (event.type, event.trigger.start, event.trigger.text) == ("AttackDatabreach", 15, "was hacked")
    assert event.score == pytest.approx(round(2 / 3 * 0.9, 4))
    assert [(a.role, a.text) for a in event.arguments] == [("Victim", "Acme")]
    assert window_events(window, outputs, heads, sentences, on, _probs(AttackDatabreach=0.2)) == []


def test_phrases_in_finds_every_lexicon_phrase_of_a_sentence() -> None:
    lexicon = _lexicon()
    text = "The patch was compromised, and it was compromised again; Compromised!"
    spans = words(text)
    brute = [
        (i, j, " ".join(text[a:b].lower() for a, b in spans[i:j]))
        for i in range(len(spans))
        for j in range(i + 1, min(len(spans), i + 6) + 1)
    ]
    expected = [(i, j, key) for i, j, key in brute if key in lexicon.triggers]
    assert lexicon.phrases_in(text) == expected
    assert [key for *_, key in expected] == [
        "was compromised",
        "compromised",
        "was compromised",
        "compromised",
        "compromised",
    ]
    assert lexicon.phrases_in("") == [] and TriggerLexicon().phrases_in(text) == []
