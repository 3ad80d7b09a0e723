"""The event schema: CASIE files read and written (round trip), offset correction, records and their JSON Schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import CASIE_EVENTS as EVENT_DATA
from threatevents.events import (
    RECORD_SCHEMA_PATH,
    Argument,
    CasieError,
    Event,
    EventDocument,
    ReadReport,
    Span,
    detect_shift,
    parse_event_document,
    read_event_dir,
    read_event_file,
    to_casie_json,
    write_event_dir,
    write_event_file,
)
from threatevents.labels import ARGUMENT_ROLES, EVENT_LABELS, REALIS

CASIE_EVENTS = EVENT_DATA / "annotation"
TEXT = "Acme Corp said hackers stole 3 million records. Acme patched the flaw CVE-2017-0144 on Monday."


def span(text: str, start: int = 0) -> dict[str, Any]:
    at = TEXT.index(text, start)
    return {"startOffset": at, "endOffset": at + len(text), "text": text}


def casie_fixture() -> dict[str, Any]:
    """A CASIE-shaped file written by hand: two hoppers, arguments, metadata, an external reference."""
    return {
        "content": TEXT,
        "sourcefile": "fixture.txt",
        "info": {"title": "Fixture", "date": "2017_05_01"},
        "cyberevent": {
            "hopper": [
                {
                    "index": 0,
                    "relation": "Same",
                    "events": [
                        {
                            "index": "E1",
                            "type": "Attack",
                            "subtype": "Databreach",
                            "realis": "Actual",
                            "nugget": span("stole") | {"index": "T1"},
                            "argument": [
                                span("hackers") | {"index": "T2", "type": "Person", "role": {"type": "Attacker"}},
                                span("3 million")
                                | {
                                    "index": "T3",
                                    "type": "Number",
                                    "role": {"type": "Number-of-Data", "confidence": 0.9},  # CASIE keeps such keys
                                },
                                span("Acme Corp")
                                | {
                                    "index": "T4",
                                    "type": "Organization",
                                    "role": {"type": "Victim"},
                                    "external_reference": {"wikidataid": "Q1"},
                                },
                            ],
                        }
                    ],
                },
                {
                    "index": 1,
                    "events": [
                        {
                            "index": "E2",
                            "type": "Vulnerability-related",
                            "subtype": "PatchVulnerability",
                            "realis": "Actual",
                            "nugget": span("patched") | {"index": "T5"},
                            "argument": [
                                span("Acme", 40)
                                | {"index": "T6", "type": "Organization", "role": {"type": "Releaser"}},
                                span("CVE-2017-0144") | {"index": "T7", "type": "CVE", "role": {"type": "CVE"}},
                                span("Monday") | {"index": "T8", "type": "Time", "role": {"type": "Time"}},
                            ],
                        },
                        {
                            "index": "E3",
                            "type": "Vulnerability-related",
                            "subtype": "DiscoverVulnerability",
                            "realis": "Other",
                            "nugget": span("the flaw") | {"index": "T9"},
                        },
                    ],
                },
            ]
        },
    }


def shifted(data: dict[str, Any], lost: str) -> dict[str, Any]:
    """``data`` as CASIE's broken files are: ``lost`` leading characters gone from the text, offsets unchanged."""
    data = copy.deepcopy(data)
    data["content"] = data["content"][len(lost) :]
    return data


def test_reads_events_types_realis_hoppers_and_arguments() -> None:
    document = parse_event_document(casie_fixture(), "fixture", strict=True)
    assert [(e.id, e.hopper, e.type, e.realis, e.trigger.text) for e in document.events] == [
        ("E1", 0, "AttackDatabreach", "Actual", "stole"),
        ("E2", 1, "PatchVulnerability", "Actual", "patched"),
        ("E3", 1, "DiscoverVulnerability", "Other", "the flaw"),
    ]
    attack = document.events[0]
    assert [(a.role, a.text, a.entity_type) for a in attack.arguments] == [
        ("Attacker", "hackers", "Person"),
        ("Number-of-Data", "3 million", "Number"),
        ("Victim", "Acme Corp", "Organization"),
    ]
    assert attack.arguments[2].attributes == {"external_reference": {"wikidataid": "Q1"}}
    assert all(TEXT[a.start : a.end] == a.text for e in document.events for a in [e.trigger, *e.arguments])
    assert document.hopper_relations == {0: "Same"}
    assert document.metadata == {"sourcefile": "fixture.txt", "info": {"title": "Fixture", "date": "2017_05_01"}}


def test_fixture_round_trips_through_the_writer(tmp_path: Path) -> None:
    document = parse_event_document(casie_fixture(), "fixture", strict=True)
    assert to_casie_json(document) == casie_fixture()  # the same JSON shape, key for key
    again = read_event_file(write_event_file(document, tmp_path / "fixture.json"), strict=True)
    assert again == document


@pytest.mark.parametrize(("lost", "shift"), [(" ", -1), ("\n\n", -2), ("  \t\n   \n    ", -12)])
def test_shifted_offsets_are_detected_and_corrected(lost: str, shift: int) -> None:
    data = casie_fixture()
    data["content"] = lost + data["content"]  # the offsets count what the text will lose
    for hopper in data["cyberevent"]["hopper"]:
        for event in hopper["events"]:
            for item in [event["nugget"], *event.get("argument", [])]:
                item["startOffset"] += len(lost)
                item["endOffset"] += len(lost)
    report = ReadReport()
    document = parse_event_document(shifted(data, lost), "doc", strict=True, report=report)
    assert report.shifted == {"doc": shift} and report.clean
    assert document == parse_event_document(casie_fixture(), "doc", strict=True)


def test_detect_shift_prefers_what_most_spans_agree_on() -> None:
    text = "xx a b a b"
    assert detect_shift(text, [(3, 4, "a"), (5, 6, "b")]) == 0  # all match already
    assert detect_shift(text, [(4, 5, "a"), (6, 7, "b"), (8, 9, "a")]) == -1  # 3 of 3 at -1, 0 of 3 at 0
    assert detect_shift(text, [(0, 1, "q")]) == 0  # nothing matches anywhere: no correction
    assert detect_shift(text, [(0, 2, "xx"), (9, 10, "a")]) == 0  # a correction must beat the spans matching as given


def test_writer_gives_predicted_events_ids_and_a_hopper_each(tmp_path: Path) -> None:
    text = "Ransomware hit the port. A patch came."
    events = [
        Event("AttackRansom", "Actual", Span(0, 10, "Ransomware"), [Argument("Victim", 15, 23, "the port", score=0.7)]),
        Event("PatchVulnerability", "Actual", Span(27, 32, "patch"), score=0.9),
    ]
    path = write_event_file(EventDocument("p1", text, events), tmp_path / "p1.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    hoppers = data["cyberevent"]["hopper"]
    assert [h["index"] for h in hoppers] == [0, 1]
    assert [h["events"][0]["index"] for h in hoppers] == ["E1", "E2"]
    assert hoppers[1]["events"][0]["score"] == 0.9
    back = read_event_file(path, strict=True)
    assert [(e.type, e.trigger, e.score) for e in back.events] == [(e.type, e.trigger, e.score) for e in events]
    assert back.events[0].arguments[0].score == 0.7


def test_writer_refuses_events_that_do_not_fit_the_text(tmp_path: Path) -> None:
    text = "Ransomware hit the port."
    bad = [
        Event("AttackRansom", "Actual", Span(0, 10, "ransomware")),  # text differs
        Event("AttackRansom", "Actual", Span(20, 30, "port.     ")),  # past the end
        Event("Ransom", "Actual", Span(0, 10, "Ransomware")),  # not an event label
        Event("AttackRansom", "Actual", Span(0, 10, "Ransomware"), [Argument("Boss", 15, 23, "the port")]),
    ]
    for event in bad:
        with pytest.raises(CasieError, match="p1"):
            write_event_file(EventDocument("p1", text, [event]), tmp_path / "p1.json")


# -- records ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RECORD_SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(data)
    return data


def test_schema_enumerates_the_one_label_and_role_list(schema: dict[str, Any]) -> None:
    assert schema["properties"]["type"]["enum"] == list(EVENT_LABELS)
    assert schema["properties"]["realis"]["enum"] == list(REALIS)
    assert schema["$defs"]["argument"]["properties"]["role"]["enum"] == list(ARGUMENT_ROLES)


def test_records_validate_and_round_trip(schema: dict[str, Any]) -> None:
    document = parse_event_document(casie_fixture(), "fixture", strict=True)
    for event in document.events:
        record = event.to_record()
        jsonschema.validate(record, schema)
        back = Event.from_record(json.loads(json.dumps(record)), TEXT)
        assert back.to_record() == record
        assert (back.type, back.realis, back.trigger) == (event.type, event.realis, event.trigger)
    assert document.events[0].to_record() == {
        "type": "AttackDatabreach",
        "realis": "Actual",
        "score": None,
        "trigger": {"start": 23, "end": 28, "text": "stole"},
        "arguments": [
            {"role": "Attacker", "start": 15, "end": 22, "text": "hackers", "score": None},
            {"role": "Number-of-Data", "start": 29, "end": 38, "text": "3 million", "score": None},
            {"role": "Victim", "start": 0, "end": 9, "text": "Acme Corp", "score": None},
        ],
    }


def _record() -> dict[str, Any]:
    return {
        "type": "AttackRansom",
        "realis": "Actual",
        "score": 0.8,
        "trigger": {"start": 0, "end": 10, "text": "Ransomware"},
        "arguments": [{"role": "Victim", "start": 15, "end": 23, "text": "the port", "score": 0.5}],
    }


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update(type="Ransom"),
        lambda r: r.update(realis="Maybe"),
        lambda r: r.update(score=1.5),
        lambda r: r.update(score="high"),
        lambda r: r.pop("arguments"),
        lambda r: r.update(extra=1),
        lambda r: r["trigger"].update(start=-1),
        lambda r: r["trigger"].update(start="0"),
        lambda r: r["trigger"].pop("text"),
        lambda r: r["arguments"][0].update(role="Boss"),
        lambda r: r["arguments"][0].pop("score"),
        lambda r: r["arguments"][0].update(end=True),
    ],
)
def test_bad_records_fail_the_schema_and_from_record(schema: dict[str, Any], change: Any) -> None:
    record = _record()
    jsonschema.validate(record, schema)
    Event.from_record(record, "Ransomware hit the port.")
    change(record)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(record, schema)
    with pytest.raises(CasieError, match="event record"):
        Event.from_record(record)


def test_from_record_checks_offsets_against_the_text() -> None:
    record = _record()
    Event.from_record(record, "Ransomware hit the port.")
    with pytest.raises(CasieError, match="does not match"):
        Event.from_record(record, "Ransomware hit the dock.")
    record["trigger"] |= {"start": 5, "end": 5, "text": ""}  # the schema cannot say end > start; from_record does
    with pytest.raises(CasieError, match="empty"):
        Event.from_record(record)


# -- real files ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def casie_events() -> Path:
    if not CASIE_EVENTS.is_dir():
        pytest.skip(f"needs the CASIE event annotation at {CASIE_EVENTS} (../shared/data is absent)")
    return CASIE_EVENTS


@pytest.mark.data
def test_real_files_round_trip(casie_events: Path, tmp_path: Path, schema: dict[str, Any]) -> None:
    ids = ["10131", "10059", "464", "996", "999", "10002"]
    documents, report = read_event_dir(casie_events, ids=ids)
    assert sorted(documents) == sorted(ids)
    assert report.shifted == {"10059": -1, "996": -2, "999": -12}
    write_event_dir(documents.values(), tmp_path)
    again, clean = read_event_dir(tmp_path, strict=True)  # what was written needs no correction
    assert again == documents
    assert clean.clean and not clean.shifted and clean.realis_corrected == 0
    for document in documents.values():
        for event in document.events:
            jsonschema.validate(event.to_record(), schema)
            assert Event.from_record(event.to_record(), document.text).to_record() == event.to_record()
    # what the writer keeps besides events: CASIE's metadata and hopper relations
    raw = json.loads((casie_events / "10131.json").read_text(encoding="utf-8"))
    written = json.loads((tmp_path / "10131.json").read_text(encoding="utf-8"))
    assert written["info"] == raw["info"] and written["content"] == raw["content"]
    assert [h.get("relation") for h in written["cyberevent"]["hopper"]] == [
        h.get("relation") for h in raw["cyberevent"]["hopper"]
    ]
    assert written == raw  # a file that needed no correction is written back as it was
