import numpy as np
import pytest

from threatevents.labels import (
    ALL_LABELS,
    EVENT_LABELS,
    LABEL_INFO,
    LabelError,
    check_labels,
    events_to_matrix,
    matrix_to_labels,
    o_score,
    with_o_column,
)


def test_schema_has_five_events_then_o_with_descriptions_and_colours():
    assert len(EVENT_LABELS) == 5 and ALL_LABELS[-1] == "O"
    for name in ALL_LABELS:
        assert LABEL_INFO[name].description and LABEL_INFO[name].colour.startswith("#")
    assert len({LABEL_INFO[n].colour for n in ALL_LABELS}) == len(ALL_LABELS)


def test_check_labels_canonical_order_and_o_when_empty():
    assert check_labels(["PatchVulnerability", "DiscoverVulnerability"]) == (
        "DiscoverVulnerability",
        "PatchVulnerability",
    )
    assert check_labels([]) == ("O",)
    assert check_labels(["O"]) == ("O",)


@pytest.mark.parametrize("bad", [["Attack"], ["O", "AttackRansom"], ["attackransom"]])
def test_check_labels_rejects_unknown_and_o_with_events(bad):
    with pytest.raises(LabelError):
        check_labels(bad)


def test_matrix_round_trip_and_o_derivation():
    sets = [("AttackRansom",), ("O",), ("DiscoverVulnerability", "PatchVulnerability")]
    m = events_to_matrix(sets)
    assert m.shape == (3, 5)
    assert matrix_to_labels(m) == sets
    assert with_o_column(m)[:, -1].tolist() == [0, 1, 0]


def test_o_score_is_one_minus_max_event_probability():
    probs = np.array([[0.1, 0.9, 0, 0, 0], [0.2, 0.1, 0.3, 0, 0]])
    assert o_score(probs) == pytest.approx([0.1, 0.7])
