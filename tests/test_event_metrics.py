"""Event extraction scores on hand-made gold/predicted pairs; every expected figure is worked out in the comments.

Offsets are all that the scorer compares, so the span texts here are placeholders.
"""

from __future__ import annotations

import pytest

from threatevents.event_metrics import METRICS, MatchScore, score_events
from threatevents.events import Argument, Event, Span
from threatevents.labels import ARGUMENT_ROLES, EVENT_LABELS


def ev(
    kind: str, start: int, end: int, *args: tuple[str, int, int], realis: str = "Actual", score: float | None = None
) -> Event:
    arguments = [Argument(role, s, e, "x" * (e - s)) for role, s, e in args]
    return Event(kind, realis, Span(start, end, "x" * (end - start)), arguments, score=score)


def prf(score: MatchScore) -> tuple[float, float, float, int, int, int]:
    return (score.precision, score.recall, score.f1, score.gold, score.pred, score.match)


RANSOM, BREACH, PHISH, PATCH, DISCOVER = (
    EVENT_LABELS[2],
    EVENT_LABELS[0],
    EVENT_LABELS[1],
    EVENT_LABELS[4],
    EVENT_LABELS[3],
)


def test_trigger_identification_and_classification() -> None:
    gold = {"d": [ev(RANSOM, 0, 5), ev(BREACH, 10, 15)]}
    pred = {"d": [ev(RANSOM, 0, 5), ev(PHISH, 10, 15), ev(PATCH, 20, 25), ev(RANSOM, 1, 5)]}
    scores = score_events(gold, pred)
    # trigger_id: gold {(0,5),(10,15)}; pred {(0,5),(10,15),(20,25),(1,5)}: 2 match (spans are exact: (1,5) misses)
    # P = 2/4, R = 2/2, F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert prf(scores["trigger_id"]) == pytest.approx((0.5, 1.0, 2 / 3, 2, 4, 2))
    # trigger_cls: only (0,5,Ransom) matches ((10,15) has the wrong type): P = 1/4, R = 1/2, F1 = 2*(1/8)/(3/4) = 1/3
    assert prf(scores["trigger_cls"]) == pytest.approx((0.25, 0.5, 1 / 3, 2, 4, 1))


def test_argument_identification_and_classification() -> None:
    gold = {"d": [ev(RANSOM, 0, 5, ("Victim", 30, 35), ("Attacker", 40, 45))]}
    pred = {"d": [ev(RANSOM, 0, 5, ("Victim", 30, 35), ("Tool", 40, 45), ("Victim", 50, 55))]}
    scores = score_events(gold, pred)
    # argument_id (type, span): gold {(R,30,35),(R,40,45)}; pred adds (R,50,55): 2 match
    # P = 2/3, R = 1, F1 = 2 * (2/3) / (5/3) = 0.8
    assert prf(scores["argument_id"]) == pytest.approx((2 / 3, 1.0, 0.8, 2, 3, 2))
    # argument_cls (+ role): only Victim (30,35) matches, Tool != Attacker: P = 1/3, R = 1/2, F1 = (1/3)/(5/6) = 0.4
    assert prf(scores["argument_cls"]) == pytest.approx((1 / 3, 0.5, 0.4, 2, 3, 1))
    # attached: same trigger, so the same as unattached here
    assert prf(scores["argument_attached_id"]) == pytest.approx((2 / 3, 1.0, 0.8, 2, 3, 2))
    assert prf(scores["argument_attached_cls"]) == pytest.approx((1 / 3, 0.5, 0.4, 2, 3, 1))


def test_argument_attached_to_the_wrong_trigger() -> None:
    gold = {"d": [ev(BREACH, 0, 5, ("Victim", 30, 35)), ev(BREACH, 10, 15)]}
    pred = {"d": [ev(BREACH, 0, 5), ev(BREACH, 10, 15, ("Victim", 30, 35))]}
    scores = score_events(gold, pred)
    # unattached, the argument is right: (Breach, 30, 35[, Victim]) on both sides -> P = R = F1 = 1
    assert prf(scores["argument_id"]) == pytest.approx((1.0, 1.0, 1.0, 1, 1, 1))
    assert prf(scores["argument_cls"]) == pytest.approx((1.0, 1.0, 1.0, 1, 1, 1))
    # attached: gold (0,5,B,30,35), pred (10,15,B,30,35): no match -> 0
    assert prf(scores["argument_attached_id"]) == (0.0, 0.0, 0.0, 1, 1, 0)
    assert prf(scores["argument_attached_cls"]) == (0.0, 0.0, 0.0, 1, 1, 0)
    assert scores["trigger_cls"].f1 == 1.0


def test_argument_of_the_wrong_event_type() -> None:
    gold = {"d": [ev(BREACH, 0, 5, ("Victim", 30, 35))]}
    pred = {"d": [ev(PHISH, 0, 5, ("Victim", 30, 35))]}
    scores = score_events(gold, pred)
    # the argument tuples carry the event type: (Breach,30,35) vs (Phishing,30,35) -> no match anywhere
    assert [scores[m].match for m in METRICS] == [1, 0, 0, 0, 0, 0]  # only trigger_id (span alone) matches


def test_duplicates_count_once_per_document() -> None:
    gold = {"d": [ev(RANSOM, 0, 5, ("Victim", 30, 35)), ev(RANSOM, 0, 5, ("Victim", 30, 35))], "e": [ev(RANSOM, 0, 5)]}
    pred = {"d": [ev(RANSOM, 0, 5, ("Victim", 30, 35), ("Victim", 30, 35)), ev(RANSOM, 0, 5)] * 3}
    scores = score_events(gold, pred)
    # document d: gold and pred tuples are sets, so d gives 1 gold, 1 pred, 1 match for each metric;
    # document e (no predictions) repeats the same trigger tuple, which counts again: gold 2, pred 1, match 1
    # trigger_cls: P = 1/1, R = 1/2, F1 = 2/3
    assert prf(scores["trigger_cls"]) == pytest.approx((1.0, 0.5, 2 / 3, 2, 1, 1))
    # arguments only in d: one tuple each side -> 1/1/1
    assert prf(scores["argument_attached_cls"]) == pytest.approx((1.0, 1.0, 1.0, 1, 1, 1))
    assert scores.missing_predictions == 1


def test_realis_accuracy_over_found_triggers() -> None:
    gold = {
        "d": [
            ev(RANSOM, 0, 5, realis="Actual"),
            ev(BREACH, 10, 15, realis="Generic"),
            ev(PATCH, 20, 25, realis="Other"),
            ev(PHISH, 40, 45, realis="Other"),
        ]
    }
    pred = {
        "d": [
            ev(RANSOM, 0, 5, realis="Actual"),  # found, realis right
            ev(BREACH, 10, 15, realis="Actual"),  # found, realis wrong
            ev(DISCOVER, 20, 25, realis="Other"),  # wrong type: not a found trigger, not counted
            ev(PHISH, 40, 45, realis="Generic", score=0.2),  # found twice: the higher score speaks
            ev(PHISH, 40, 45, realis="Other", score=0.9),
            ev(PATCH, 30, 35, realis="Actual"),  # spurious: not counted
        ]
    }
    scores = score_events(gold, pred)
    # found (trigger_cls matches): Ransom, Breach, Phishing = 3; realis right: Ransom, Phishing (0.9 says Other) = 2
    assert (scores.realis_matched, scores.realis_correct) == (3, 2)
    assert scores.realis_accuracy == pytest.approx(2 / 3)


def test_per_role_and_per_event_type() -> None:
    gold = {"d": [ev(RANSOM, 0, 5, ("Victim", 30, 35), ("Attacker", 40, 45)), ev(PATCH, 60, 65, ("Patch", 70, 75))]}
    pred = {"d": [ev(RANSOM, 0, 5, ("Victim", 30, 35), ("Tool", 40, 45), ("Victim", 50, 55))]}
    scores = score_events(gold, pred)
    # Victim: gold 1, pred 2 (30-35, 50-55), match 1 -> P 1/2, R 1, F1 2/3
    assert prf(scores.per_role["Victim"]) == pytest.approx((0.5, 1.0, 2 / 3, 1, 2, 1))
    # Attacker: gold 1, pred 0; Tool: gold 0, pred 1; Patch: gold 1, pred 0 -> F1 0
    assert [prf(scores.per_role[r])[3:] for r in ("Attacker", "Tool", "Patch")] == [(1, 0, 0), (0, 1, 0), (1, 0, 0)]
    assert list(scores.per_role) == list(ARGUMENT_ROLES)
    # per type: Ransom trigger 1/1/1; its attached arguments gold 2, pred 3, match 1 -> P 1/3, R 1/2, F1 0.4
    ransom = scores.per_event_type[RANSOM]
    assert prf(ransom["trigger_cls"]) == pytest.approx((1.0, 1.0, 1.0, 1, 1, 1))
    assert prf(ransom["argument_attached_cls"]) == pytest.approx((1 / 3, 0.5, 0.4, 2, 3, 1))
    # Patch: trigger missed (gold 1, pred 0) -> 0
    assert prf(scores.per_event_type[PATCH]["trigger_cls"]) == (0.0, 0.0, 0.0, 1, 0, 0)
    # the breakdowns add up to the totals
    assert sum(s.match for s in scores.per_role.values()) == scores["argument_attached_cls"].match
    assert sum(t["trigger_cls"].gold for t in scores.per_event_type.values()) == scores["trigger_cls"].gold


def test_nothing_predicted_and_nothing_to_find() -> None:
    gold = {"d": [ev(RANSOM, 0, 5, ("Victim", 30, 35))]}
    nothing = score_events(gold, {"d": []})
    assert all(prf(nothing[m])[:3] == (0.0, 0.0, 0.0) for m in METRICS) and nothing.realis_accuracy == 0.0
    assert nothing["trigger_cls"].gold == 1 and nothing.missing_predictions == 0
    # no gold and no predicted events: every denominator is 0 and TextEE's safe division gives 0
    empty = score_events({"d": []}, {"d": [], "other": [ev(RANSOM, 0, 5)]})
    assert all(prf(empty[m]) == (0.0, 0.0, 0.0, 0, 0, 0) for m in METRICS)
    assert empty.unscored_predictions == 1  # predictions for a document outside the gold set are not scored


def test_to_dict_has_flat_f1s_and_counts() -> None:
    gold = {"d": [ev(RANSOM, 0, 5, ("Victim", 30, 35))]}
    data = score_events(gold, gold).to_dict()
    assert all(data[f"{m}_f1"] == 1.0 for m in METRICS) and data["realis_accuracy"] == 1.0
    assert data["trigger_cls"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "gold": 1, "pred": 1, "match": 1}
    assert data["per_role"]["Victim"]["f1"] == 1.0 and data["per_event_type"][RANSOM]["trigger_cls"]["f1"] == 1.0
