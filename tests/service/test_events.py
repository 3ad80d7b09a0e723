"""Event review: events stored with a document, corrected through the workbench and the REST API (state,
reviewer, time), validated (422 naming the field, 404, never 500), durable across a restart, and carried by
the exports as reviewed. The keyword model extracts no events; :func:`extract_test_events` adds some."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from threatevents.service.app import create_app
from threatevents.service.core import NotFound, ValidationError, Workbench
from threatevents.service.db import open_database
from threatevents.service.settings import Settings
from threatevents.service.views import MAX_ID

from .conftest import ARTICLE, KeywordModel, extract_test_events


def _events_by_type(view: Any) -> dict[str, Any]:
    return {e.type: e for e in view.events}


# -- workbench -------------------------------------------------------------------------------------------------
def test_uploaded_document_stores_the_model_events_as_proposed(event_workbench: Workbench) -> None:
    doc = event_workbench.add_document(text=ARTICLE, name="a")
    assert [e.type for e in doc.events] == ["AttackDatabreach", "PatchVulnerability"]
    breach = doc.events[0]
    assert (breach.sentence, breach.realis, breach.score, breach.state, breach.origin) == (
        0,
        "Actual",
        0.9,
        "proposed",
        "model",
    )
    assert breach.trigger.text == "stole" and doc.text[breach.trigger.start : breach.trigger.end] == "stole"
    assert [(a.role, a.text, a.state, a.score) for a in breach.arguments] == [
        ("Attacker", "Hackers", "proposed", 0.8),
        ("Victim", "Acme", "proposed", None),
    ]
    assert breach.reviewer is None and breach.reviewed_at is None
    assert event_workbench.get_document(doc.id).events == doc.events
    assert doc.events[1].sentence == 2


def test_a_document_without_events_has_none(workbench: Workbench) -> None:
    assert workbench.add_document(text=ARTICLE).events == []


def test_every_edit_is_stored_with_reviewer_and_time(event_workbench: Workbench) -> None:
    wb = event_workbench
    doc = wb.add_document(text=ARTICLE)
    breach, patch = doc.events
    accepted = wb.update_event(doc.id, breach.id, accept=True, reviewer="ann")
    assert (accepted.state, accepted.reviewer, accepted.type) == ("accepted", "ann", "AttackDatabreach")
    assert accepted.reviewed_at is not None
    corrected = wb.update_event(doc.id, patch.id, type="DiscoverVulnerability", realis="Generic", reviewer="bob")
    assert (corrected.type, corrected.realis, corrected.state, corrected.reviewer) == (
        "DiscoverVulnerability",
        "Generic",
        "accepted",
        "bob",
    )
    victim = breach.arguments[1]
    after_role = wb.update_argument(doc.id, breach.id, victim.id, role="Compromised-Data", reviewer="cy")
    assert [(a.role, a.reviewer, a.state) for a in after_role.arguments][1] == ("Compromised-Data", "cy", "accepted")
    start = doc.text.index("5,000")
    added = wb.add_argument(doc.id, breach.id, role="Number-of-Data", start=start, end=start + 5, reviewer="cy")
    new = added.arguments[-1]
    assert (new.role, new.text, new.origin, new.state, new.reviewer) == (
        "Number-of-Data",
        "5,000",
        "analyst",
        "accepted",
        "cy",
    )
    gone = wb.delete_argument(doc.id, breach.id, breach.arguments[0].id, reviewer="dee")
    assert [a.state for a in gone.arguments] == ["deleted", "accepted", "accepted"]
    deleted = wb.delete_event(doc.id, patch.id, reviewer="dee")
    assert (deleted.state, deleted.reviewer) == ("deleted", "dee")
    trigger = doc.text.index("phishing")
    made = wb.add_event(
        doc.id,
        type="AttackPhishing",
        realis="Actual",
        trigger=(trigger, trigger + 8),
        arguments=[("Attacker", doc.text.index("attackers"), doc.text.index("attackers") + 9)],
        reviewer="eve",
    )
    assert (made.sentence, made.origin, made.state, made.reviewer, made.score) == (
        1,
        "analyst",
        "accepted",
        "eve",
        None,
    )
    assert [(a.role, a.text) for a in made.arguments] == [("Attacker", "attackers")]

    stored = wb.get_document(doc.id).events  # deleted ones stay listed, with their state
    assert [(e.type, e.state) for e in stored] == [
        ("AttackDatabreach", "accepted"),
        ("DiscoverVulnerability", "deleted"),
        ("AttackPhishing", "accepted"),
    ]
    assert stored[0] == gone
    restored = wb.update_event(doc.id, patch.id, accept=True, reviewer="fay")
    assert restored.state == "accepted" and restored.type == "DiscoverVulnerability"


def test_edits_survive_a_restart(event_workbench: Workbench, settings: Settings) -> None:
    doc = event_workbench.add_document(text=ARTICLE)
    breach = doc.events[0]
    event_workbench.update_event(doc.id, breach.id, type="AttackRansom", reviewer="ann")
    event_workbench.delete_argument(doc.id, breach.id, breach.arguments[0].id, reviewer="ann")
    engine, sessions = open_database(settings.db_url)  # a new process would open the database like this
    try:
        again = Workbench(KeywordModel(), sessions, settings).get_document(doc.id).events[0]
    finally:
        engine.dispose()
    assert (again.type, again.state, again.reviewer) == ("AttackRansom", "accepted", "ann")
    assert [a.state for a in again.arguments] == ["deleted", "proposed"]


def test_exports_carry_the_reviewed_events(event_workbench: Workbench) -> None:
    wb = event_workbench
    doc = wb.add_document(text=ARTICLE)
    breach, patch = doc.events
    wb.update_event(doc.id, breach.id, type="AttackRansom", reviewer="ann")
    wb.delete_argument(doc.id, breach.id, breach.arguments[0].id, reviewer="ann")
    wb.delete_event(doc.id, patch.id, reviewer="ann")
    records = [json.loads(line) for line in wb.export_document(doc.id, "jsonl").content.splitlines()]
    assert [len(r["events"]) for r in records] == [1, 0, 0, 0]  # the deleted patch event is left out
    (event,) = records[0]["events"]
    assert event["type"] == "AttackRansom" and event["trigger"]["text"] == "stole"
    assert [(a["role"], a["text"]) for a in event["arguments"]] == [("Victim", "Acme")]  # deleted Attacker left out


def test_reviewed_export_lists_touched_events_with_their_state(event_workbench: Workbench) -> None:
    wb = event_workbench
    untouched = wb.add_document(text=ARTICLE, name="untouched")
    doc = wb.add_document(text=ARTICLE, name="reviewed")
    assert wb.export_reviewed_events() == ""
    wb.delete_event(doc.id, doc.events[1].id, reviewer="ann")
    (line,) = wb.export_reviewed_events().splitlines()
    record = json.loads(line)
    assert (record["document_id"], record["name"], record["sentences"]) == (doc.id, "reviewed", [])
    assert [(e["id"], e["state"], e["reviewer"]) for e in record["events"]] == [(doc.events[1].id, "deleted", "ann")]
    assert untouched.id != doc.id


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda wb, d, e, t: wb.add_event(d, type="Nope", realis="Actual", trigger=(0, 4), reviewer="r"), "type"),
        (
            lambda wb, d, e, t: wb.add_event(d, type="AttackRansom", realis="Maybe", trigger=(0, 4), reviewer="r"),
            "realis",
        ),
        (
            lambda wb, d, e, t: wb.add_event(d, type="AttackRansom", realis="Actual", trigger=(4, 4), reviewer="r"),
            "trigger",
        ),
        (
            lambda wb, d, e, t: wb.add_event(d, type="AttackRansom", realis="Actual", trigger=(5, 2), reviewer="r"),
            "trigger",
        ),
        (
            lambda wb, d, e, t: wb.add_event(d, type="AttackRansom", realis="Actual", trigger=(-1, 2), reviewer="r"),
            "trigger",
        ),
        (
            lambda wb, d, e, t: wb.add_event(
                d, type="AttackRansom", realis="Actual", trigger=(0, len(t) + 1), reviewer="r"
            ),
            "trigger",
        ),
        (  # a trigger across two sentences
            lambda wb, d, e, t: wb.add_event(
                d, type="AttackRansom", realis="Actual", trigger=(0, len(t)), reviewer="r"
            ),
            "trigger",
        ),
        (
            lambda wb, d, e, t: wb.add_event(
                d, type="AttackRansom", realis="Actual", trigger=(0, 7), arguments=[("Boss", 0, 2)], reviewer="r"
            ),
            "arguments[0].role",
        ),
        (
            lambda wb, d, e, t: wb.add_event(
                d, type="AttackRansom", realis="Actual", trigger=(0, 7), arguments=[("Victim", 0, 10**6)], reviewer="r"
            ),
            "arguments[0]",
        ),
        (lambda wb, d, e, t: wb.update_event(d, e, type="Nope", reviewer="r"), "type"),
        (lambda wb, d, e, t: wb.update_event(d, e, reviewer="r"), "type, realis or state"),
        (lambda wb, d, e, t: wb.add_argument(d, e, role="Victim", start=3, end=len(t) + 5, reviewer="r"), "span"),
        (lambda wb, d, e, t: wb.add_argument(d, e, role="Nobody", start=0, end=3, reviewer="r"), "role"),
        (lambda wb, d, e, t: wb.update_event(d, e, accept=True, reviewer=" \x00\n "), "reviewer"),
        (lambda wb, d, e, t: wb.update_event(d, e, accept=True, reviewer="\ud800"), "Unicode"),
    ],
)
def test_bad_edits_are_refused_naming_the_field(event_workbench: Workbench, call: Any, field: str) -> None:
    doc = event_workbench.add_document(text=ARTICLE)
    with pytest.raises(ValidationError, match=field.replace("[", r"\[").replace("]", r"\]")):
        call(event_workbench, doc.id, doc.events[0].id, doc.text)
    assert event_workbench.get_document(doc.id).events == doc.events  # nothing changed


def test_unknown_ids_are_not_found(event_workbench: Workbench) -> None:
    wb = event_workbench
    doc = wb.add_document(text=ARTICLE)
    other = wb.add_document(text=ARTICLE)
    event, foreign = doc.events[0], other.events[0]
    for call in (
        lambda: wb.delete_event(doc.id, foreign.id, reviewer="r"),  # another document's event
        lambda: wb.delete_event(doc.id, MAX_ID + 1, reviewer="r"),
        lambda: wb.delete_event(doc.id, 0, reviewer="r"),
        lambda: wb.delete_event(999, event.id, reviewer="r"),
        lambda: wb.delete_event(MAX_ID * 4, event.id, reviewer="r"),
        lambda: wb.update_argument(doc.id, event.id, foreign.arguments[0].id, role="Victim", reviewer="r"),
        lambda: wb.delete_argument(doc.id, event.id, 10**12, reviewer="r"),
        lambda: wb.add_argument(doc.id, 10**12, role="Victim", start=0, end=3, reviewer="r"),
        lambda: wb.add_event(999, type="AttackRansom", realis="Actual", trigger=(0, 3), reviewer="r"),
    ):
        with pytest.raises(NotFound):
            call()


def test_deleting_a_document_deletes_its_events(event_workbench: Workbench) -> None:
    from sqlalchemy import text

    doc = event_workbench.add_document(text=ARTICLE)
    event_workbench.delete_document(doc.id)
    with event_workbench._sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM events")) == 0
        assert session.scalar(text("SELECT count(*) FROM event_arguments")) == 0


# -- REST API --------------------------------------------------------------------------------------------------
@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, model=KeywordModel())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert isinstance(client.app, FastAPI)
        extract_test_events(client.app.state.workbench)
        yield client
        assert client.get("/healthz").status_code == 200


def _upload(api: TestClient) -> dict[str, Any]:
    response = api.post("/v1/documents", json={"text": ARTICLE})
    assert response.status_code == 201, response.text
    return response.json()


def test_api_document_lists_events_in_the_contract_shape(api: TestClient) -> None:
    doc = _upload(api)
    got = api.get(f"/v1/documents/{doc['id']}").json()
    assert got["events"] == doc["events"]
    event = got["events"][0]
    assert set(event) == {
        "id",
        "sentence",
        "type",
        "realis",
        "score",
        "trigger",
        "arguments",
        "state",
        "origin",
        "reviewer",
        "reviewed_at",
    }
    assert set(event["trigger"]) == {"start", "end", "text"}
    assert set(event["arguments"][0]) == {
        "id",
        "role",
        "start",
        "end",
        "text",
        "score",
        "state",
        "origin",
        "reviewer",
        "reviewed_at",
    }


def test_api_edits_round_trip(api: TestClient) -> None:
    doc = _upload(api)
    base = f"/v1/documents/{doc['id']}/events"
    breach = doc["events"][0]
    trigger = ARTICLE.index("phishing")
    created = api.post(
        base, json={"type": "AttackPhishing", "trigger": {"start": trigger, "end": trigger + 8}, "reviewer": "ann"}
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"{base}/{created.json()['id']}"
    assert (created.json()["realis"], created.json()["reviewer"], created.json()["sentence"]) == ("Actual", "ann", 1)

    patched = api.patch(f"{base}/{breach['id']}", json={"realis": "Other"})
    assert patched.status_code == 200 and patched.json()["realis"] == "Other"
    assert patched.json()["reviewer"] == "analyst"  # no reviewer given: the page's default name
    accepted = api.patch(f"{base}/{breach['id']}", json={"state": "accepted", "reviewer": "bob"}).json()
    assert (accepted["state"], accepted["reviewer"]) == ("accepted", "bob")

    start = ARTICLE.index("customers")
    with_arg = api.post(f"{base}/{breach['id']}/arguments", json={"role": "Victim", "start": start, "end": start + 9})
    assert with_arg.status_code == 201 and with_arg.json()["arguments"][-1]["text"] == "customers"
    arg_id = with_arg.json()["arguments"][-1]["id"]
    role = api.patch(f"{base}/{breach['id']}/arguments/{arg_id}", json={"role": "Compromised-Data", "reviewer": "cy"})
    assert role.status_code == 200 and role.json()["arguments"][-1]["role"] == "Compromised-Data"
    gone = api.delete(f"{base}/{breach['id']}/arguments/{arg_id}", params={"reviewer": "dee"})
    assert gone.status_code == 200 and gone.json()["arguments"][-1]["state"] == "deleted"
    assert gone.json()["arguments"][-1]["reviewer"] == "dee"
    deleted = api.delete(f"{base}/{breach['id']}")
    assert deleted.status_code == 200 and deleted.json()["state"] == "deleted"
    again = api.delete(f"{base}/{breach['id']}")  # deleting twice is harmless
    assert again.status_code == 200 and again.json()["state"] == "deleted"

    events = api.get(f"/v1/documents/{doc['id']}").json()["events"]
    assert [(e["type"], e["state"]) for e in events] == [
        ("AttackDatabreach", "deleted"),
        ("PatchVulnerability", "proposed"),
        ("AttackPhishing", "accepted"),
    ]
    reviewed = api.get("/v1/export/reviewed", params={"format": "jsonl"})
    assert reviewed.status_code == 200 and reviewed.headers["content-type"].startswith("application/jsonl")
    (record,) = [json.loads(line) for line in reviewed.text.splitlines()]
    assert [e["state"] for e in record["events"]] == ["deleted", "accepted"]
    assert api.get("/v1/export/reviewed").headers["content-type"].startswith("text/plain")  # the corpus format stays


def _field_named(response: Any, field: str) -> bool:
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return field in detail
    return any(field in [str(part) for part in error["loc"]] for error in detail)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "", {"type": "Bogus", "trigger": {"start": 0, "end": 3}}, "type"),
        ("post", "", {"type": "AttackRansom", "realis": "Maybe", "trigger": {"start": 0, "end": 3}}, "realis"),
        ("post", "", {"type": "AttackRansom", "trigger": {"start": 5, "end": 5}}, "trigger"),
        ("post", "", {"type": "AttackRansom", "trigger": {"start": 0, "end": 10**6}}, "trigger"),
        ("post", "", {"type": "AttackRansom", "trigger": {"start": 0, "end": 2**40}}, "end"),
        ("post", "", {"type": "AttackRansom", "trigger": {"start": -3, "end": 2}}, "start"),
        ("post", "", {"type": "AttackRansom", "trigger": {"start": 0, "end": 3.5}}, "end"),
        ("post", "", {"type": "AttackRansom", "trigger": {"start": 0, "end": "3"}, "extra": 1}, "extra"),
        (
            "post",
            "",
            {
                "type": "AttackRansom",
                "trigger": {"start": 0, "end": 3},
                "arguments": [{"role": "Boss", "start": 0, "end": 1}],
            },
            "role",
        ),
        ("post", "", {"type": "AttackRansom", "trigger": {"start": 0, "end": 3}, "reviewer": "\ud800"}, "reviewer"),
        ("post", "", {"type": "AttackRansom", "trigger": {"start": 0, "end": 3}, "reviewer": ""}, "reviewer"),
        ("post", "", {"type": "AttackRansom", "trigger": {"start": 0, "end": 3}, "reviewer": "\x00\x00"}, "reviewer"),
        ("patch", "/{e}", {"type": "Bogus"}, "type"),
        ("patch", "/{e}", {"state": "deleted"}, "state"),
        ("patch", "/{e}", {}, "type, realis or state"),
        ("post", "/{e}/arguments", {"role": "Victim", "start": 4, "end": 2}, "arguments"),
        ("post", "/{e}/arguments", {"role": "Victim", "start": 0, "end": 10**7}, "span"),
        ("post", "/{e}/arguments", {"role": "Nobody", "start": 0, "end": 2}, "role"),
        ("patch", "/{e}/arguments/{a}", {"role": "Nobody"}, "role"),
        ("patch", "/{e}/arguments/{a}", {"role": None}, "role"),
    ],
)
def test_api_refuses_bad_edits_with_422_naming_the_field(
    api: TestClient, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    doc = _upload(api)
    event = doc["events"][0]
    url = f"/v1/documents/{doc['id']}/events" + path.format(e=event["id"], a=event["arguments"][0]["id"])
    headers = {"content-type": "application/json"}  # json.dumps escapes a lone surrogate as JSON may
    response = api.request(method.upper(), url, content=json.dumps(body), headers=headers)
    assert response.status_code == 422, response.text
    if field == "arguments":  # start >= end: the span object (the body itself here) is named
        assert "end" in response.text
    else:
        assert _field_named(response, field), response.text
    assert api.get(f"/v1/documents/{doc['id']}").json()["events"] == doc["events"]


def test_api_refuses_nan_and_bad_json(api: TestClient) -> None:
    doc = _upload(api)
    url = f"/v1/documents/{doc['id']}/events"
    nan = '{"type": "AttackRansom", "trigger": {"start": NaN, "end": 3}}'
    assert api.post(url, content=nan, headers={"content-type": "application/json"}).status_code == 422
    assert api.post(url, content=b"{", headers={"content-type": "application/json"}).status_code == 422
    assert math.isnan(float("nan"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("patch", "/v1/documents/{d}/events/999999"),
        ("delete", "/v1/documents/{d}/events/999999"),
        ("delete", "/v1/documents/999999/events/{e}"),
        ("post", "/v1/documents/999999/events"),
        ("delete", "/v1/documents/{d}/events/{e}/arguments/999999"),
        ("patch", "/v1/documents/{d}/events/{e}/arguments/999999"),
        ("post", "/v1/documents/{d}/events/999999/arguments"),
    ],
)
def test_api_unknown_ids_are_404(api: TestClient, method: str, path: str) -> None:
    doc = _upload(api)
    bodies = {
        "patch": {"state": "accepted"} if "arguments" not in path else {"role": "Victim"},
        "post": {"type": "AttackRansom", "trigger": {"start": 0, "end": 3}}
        if path.endswith("/events")
        else {"role": "Victim", "start": 0, "end": 3},
    }
    url = path.format(d=doc["id"], e=doc["events"][0]["id"])
    response = api.request(method.upper(), url, json=bodies.get(method))
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("bad", ["0", "-1", str(MAX_ID + 1), str(2**64), "1e3", "x"])
def test_api_out_of_range_ids_are_422(api: TestClient, bad: str) -> None:
    doc = _upload(api)
    response = api.delete(f"/v1/documents/{doc['id']}/events/{bad}")
    assert response.status_code == 422, response.text
    assert _field_named(response, "event_id")


def test_openapi_documents_the_event_endpoints(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    base = "/v1/documents/{doc_id}/events"
    assert set(paths[base]) == {"post"}
    assert set(paths[base + "/{event_id}"]) == {"patch", "delete"}
    assert set(paths[base + "/{event_id}/arguments"]) == {"post"}
    assert set(paths[base + "/{event_id}/arguments/{argument_id}"]) == {"patch", "delete"}
    for operations in (paths[p] for p in paths if p.startswith(base)):
        for operation in operations.values():
            ok = operation["responses"]["201" if "201" in operation["responses"] else "200"]
            assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/EventView"}
            assert {"404", "422"} <= set(operation["responses"])
    schemas = spec["components"]["schemas"]
    assert "AttackRansom" in json.dumps(schemas["EventCreate"]) and "Victim" in json.dumps(schemas["ArgumentCreate"])
    assert "events" in schemas["DocumentView"]["properties"]


def test_every_export_format_takes_the_reviewed_events(event_workbench: Workbench) -> None:
    from threatevents.export import FORMAT_NAMES

    wb = event_workbench
    doc = wb.add_document(text=ARTICLE)
    breach, patch = doc.events
    wb.update_argument(doc.id, breach.id, breach.arguments[1].id, role="Compromised-Data", reviewer="ann")
    wb.delete_event(doc.id, patch.id, reviewer="ann")
    exports = {fmt: wb.export_document(doc.id, fmt).content for fmt in FORMAT_NAMES}
    rows = list(csv.DictReader(io.StringIO(exports["events-csv"])))
    assert {(r["event_id"], r["role"], r["argument_text"]) for r in rows} == {
        (str(breach.id), "Attacker", "Hackers"),
        (str(breach.id), "Compromised-Data", "Acme"),
    }
    assert "Compromised-Data" in exports["casie"] and "PatchVulnerability" not in exports["casie"]


@pytest.mark.parametrize("chunk", [1, 1000])
def test_a_model_with_an_event_extractor_has_its_events_stored(settings: Settings, chunk: int) -> None:
    """No test patching: the model's own events reach the database, in document offsets, also when the document is
    tagged in chunks."""
    from dataclasses import replace

    from test_tagging import ExtractingModel

    settings = replace(settings, chunk_sentences=chunk)
    engine, sessions = open_database(settings.db_url)
    try:
        wb = Workbench(ExtractingModel(), sessions, settings)
        doc = wb.add_document(text="Acme was hit. Cityhall paid the ransom on Monday. Nothing else. A ransom again.")
    finally:
        engine.dispose()
    assert [(e.sentence, e.trigger.text, e.state, e.origin) for e in doc.events] == [
        (1, "ransom", "proposed", "model"),
        (3, "ransom", "proposed", "model"),
    ]
    assert [(a.role, a.text) for a in doc.events[0].arguments] == [("Victim", "Cityhall")]


def test_tag_answers_events_in_the_record_shape_of_the_cli(api: TestClient) -> None:
    # /v1/tag answers each sentence as `threatevents tag`'s JSONL record: events as Event.to_record() dicts that
    # validate against the shipped event-record schema, not the dataclass's internal fields (hopper, attributes...)
    from importlib.resources import files

    import jsonschema

    schema = json.loads(files("threatevents").joinpath("schemas/event-record.schema.json").read_text())
    response = api.post("/v1/tag", json={"text": ARTICLE})
    assert response.status_code == 200, response.text
    events = [event for sentence in response.json()["sentences"] for event in sentence["events"]]
    assert events, "the test extractor should give events"
    for event in events:
        jsonschema.validate(event, schema)
        assert ARTICLE[event["trigger"]["start"] : event["trigger"]["end"]] == event["trigger"]["text"]
