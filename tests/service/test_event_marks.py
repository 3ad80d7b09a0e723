"""How the review page cuts a sentence into pieces at its events' span boundaries (service/event_marks.py)."""

from __future__ import annotations

from typing import Any

from threatevents.service.event_marks import Piece, pieces, sentence_pieces

TEXT = "Intro. Hackers from Fancy Bear hit Acme on Monday. Acme paid."


def event(event_id: int, trigger: str, *args: tuple[int, str, str], state: str = "proposed") -> dict[str, Any]:
    start = TEXT.index(trigger)
    arguments = [
        {"id": arg_id, "role": role, "start": (at := TEXT.index(text)), "end": at + len(text), "state": "proposed"}
        for arg_id, role, text in args
    ]
    trigger_span = {"start": start, "end": start + len(trigger), "text": trigger}
    return {
        "id": event_id,
        "type": "AttackRansom",
        "realis": "Actual",
        "trigger": trigger_span,
        "sentence": 1,
        "arguments": arguments,
        "state": state,
    }


def texts(found: list[Piece]) -> list[str]:
    return [p.text for p in found]


def test_pieces_cover_the_sentence_exactly_and_keep_document_offsets() -> None:
    start, end = TEXT.index("Hackers"), TEXT.index(" Acme paid")
    ev = event(7, "hit", (1, "Attacker", "Hackers from Fancy Bear"), (2, "Victim", "Acme"))
    found = pieces(TEXT[start:end], start, [ev])
    assert "".join(texts(found)) == TEXT[start:end]
    assert all(TEXT[p.start : p.end] == p.text for p in found)
    assert texts(found) == ["Hackers from Fancy Bear", " ", "hit", " ", "Acme", " on Monday."]
    hit = found[2]
    assert hit.triggers == (7,) and hit.arguments == () and hit.event_type == "AttackRansom"
    assert [(t.kind, t.text) for t in hit.tags] == [("trigger", "Actual")]
    assert [(t.kind, t.text, t.argument_id) for t in found[0].tags] == [("argument", "Attacker", 1)]
    assert not found[1].marked and not found[1].tags


def test_overlapping_spans_are_cut_where_each_one_starts_and_ends() -> None:
    start, end = TEXT.index("Hackers"), TEXT.index(" Acme paid")
    ev = event(3, "Fancy Bear", (5, "Attacker", "Hackers from Fancy Bear"), (6, "Tool", "Fancy"))
    found = pieces(TEXT[start:end], start, [ev])
    assert texts(found)[:4] == ["Hackers from ", "Fancy", " Bear", " hit Acme on Monday."]
    fancy = found[1]
    assert fancy.triggers == (3,) and set(fancy.arguments) == {(3, 5), (3, 6)}
    assert {t.text for t in fancy.tags} == {"Tool"}  # only the Tool span ends there
    assert {t.text for t in found[2].tags} == {"Actual", "Attacker"}
    assert fancy.event_ids == "3"


def test_deleted_events_and_arguments_are_not_drawn() -> None:
    gone = event(1, "hit", state="deleted")
    kept = event(2, "paid", (9, "Victim", "Acme paid"))
    kept["arguments"][0]["state"] = "deleted"
    found = pieces(TEXT, 0, [gone, kept])
    assert [p.text for p in found if p.marked] == ["paid"]


def test_spans_are_clipped_to_their_sentence_and_drawn_in_each_sentence_they_reach() -> None:
    bounds = [(0, 6), (7, 50), (51, len(TEXT))]
    ev = event(4, "hit", (1, "Victim", "Monday. Acme"))  # an argument across the sentence boundary
    drawn = sentence_pieces(TEXT, bounds, [ev])
    assert [p.text for p in drawn[0]] == ["Intro."]
    assert [p.text for p in drawn[1] if p.marked] == ["hit", "Monday."]
    assert [p.text for p in drawn[2] if p.marked] == ["Acme"]
    assert [t.text for p in drawn[2] for t in p.tags] == ["Victim"]
    assert [t.text for p in drawn[1] for t in p.tags] == ["Actual"]  # the Victim label ends in the next sentence
    for (a, b), found in zip(bounds, drawn, strict=True):
        assert "".join(p.text for p in found) == TEXT[a:b]


def test_astral_characters_count_as_one_offset_like_the_api() -> None:
    text = "🔥 Ransomware hit Acme."
    start = text.index("Acme")
    ev = {
        "id": 1,
        "type": "AttackRansom",
        "realis": "Actual",
        "sentence": 0,
        "state": "proposed",
        "trigger": {"start": text.index("hit"), "end": text.index("hit") + 3, "text": "hit"},
        "arguments": [{"id": 2, "role": "Victim", "start": start, "end": start + 4, "state": "proposed"}],
    }
    found = pieces(text, 0, [ev])
    assert [p.text for p in found if p.marked] == ["hit", "Acme"]
