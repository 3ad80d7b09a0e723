"""Events on the review page through FastAPI's TestClient: drawn from the document text with exact offsets,
escaped, accept/delete without JavaScript, and the page's script allowed on the REST API with its session."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from threatevents.service.app import create_app
from threatevents.service.core import Workbench
from threatevents.service.settings import Settings

from .conftest import ARTICLE, KeywordModel, extract_test_events
from .test_web import TOKEN, csrf_of

PAYLOAD = 'Hackers stole data from <b>Acme</b>. <script>window.x=1</script> <img src=x onerror="alert(1)"> Done.'
PIECE = re.compile(r'<(span|mark)\b[^>]*\bdata-start="(\d+)"[^>]*>([^<]*)</\1>')


def make_client(settings: Settings, **changes: Any) -> TestClient:
    app = create_app(replace(settings, page=True, **changes), model=KeywordModel())
    return TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with make_client(settings) as client:
        extract_test_events(client.app.state.workbench)  # type: ignore[attr-defined]
        yield client


def workbench_of(client: TestClient) -> Workbench:
    workbench: Workbench = client.app.state.workbench  # type: ignore[attr-defined]
    return workbench


def add(client: TestClient, text: str = ARTICLE) -> Any:
    return workbench_of(client).add_document(data=None, filename=None, text=text, title="Acme incident")


def events_of(client: TestClient, doc_id: int) -> dict[str, Any]:
    return {e.type: e for e in workbench_of(client).get_document(doc_id).events}


def test_the_page_draws_each_event_from_the_document_text_at_its_offsets(client: TestClient) -> None:
    doc = add(client)
    page = client.get(f"/documents/{doc.id}").text
    pieces = [(int(start), html.unescape(text)) for _, start, text in PIECE.findall(page)]
    assert pieces, "no sentence piece carries data-start"
    for start, text in pieces:
        assert doc.text[start : start + len(text)] == text
    breach = events_of(client, doc.id)["AttackDatabreach"]
    trigger = f'data-start="{breach.trigger.start}" data-events="{breach.id}"'
    assert re.search(r'<mark class="span trig ev-AttackDatabreach" ' + re.escape(trigger), page)
    assert 'data-label="Attacker"' in page and 'data-label="Victim"' in page and 'data-label="Breach · Actual"' in page
    # The side list: every event with its arguments, type and state.
    assert f'id="e{breach.id}"' in page and "Proposed by the model (0.90)" in page
    # The script's copy of the events is the API's JSON, parsable as is.
    island = re.search(r'<script type="application/json" id="events-data">(.*?)</script>', page, re.S)
    assert island is not None
    data = json.loads(island.group(1))
    assert {e["id"] for e in data["events"]} == {e.id for e in workbench_of(client).get_document(doc.id).events}


def test_markup_in_an_event_span_is_escaped_in_the_text_the_list_and_the_script_data(client: TestClient) -> None:
    doc = add(client, PAYLOAD)
    start = doc.text.index("<script>")
    markup = doc.text[start : doc.text.index("Done.") - 1]
    api = client.post(
        f"/v1/documents/{doc.id}/events",
        json={
            "type": "AttackDatabreach",
            "trigger": {"start": doc.text.index("stole"), "end": doc.text.index("stole") + 5},
            "arguments": [{"role": "Tool", "start": start, "end": start + len(markup)}],
        },
    )
    assert api.status_code == 201, api.text
    page = client.get(f"/documents/{doc.id}").text
    assert "<script>window.x" not in page and "<img src=x" not in page and "<b>Acme" not in page
    drawn = {int(at): html.unescape(text) for tag, at, text in PIECE.findall(page) if tag == "mark"}
    assert drawn[start] == markup  # one highlight, holding the markup as text
    assert html.unescape(re.sub(r"<[^>]+>", "", page)).count(markup) == 2  # in the sentence and in the side list
    assert page.count("<script") == 3  # the JSON data and the two page scripts, nothing from the report
    assert "\\u003cscript\\u003e" in page  # the JSON data spells < and > as escapes


def test_accept_and_delete_work_as_plain_form_posts(client: TestClient) -> None:
    doc = add(client)
    breach, patch = events_of(client, doc.id)["AttackDatabreach"], events_of(client, doc.id)["PatchVulnerability"]
    token = csrf_of(client.get(f"/documents/{doc.id}").text)
    client.post("/reviewer", data={"csrf": token, "reviewer": "ann", "next": f"/documents/{doc.id}"})

    accepted = client.post(
        f"/documents/{doc.id}/events/{breach.id}/accept", data={"csrf": token}, follow_redirects=False
    )
    assert accepted.status_code == 303
    assert accepted.headers["location"] == f"/documents/{doc.id}#e{breach.id}"
    deleted = client.post(f"/documents/{doc.id}/events/{patch.id}/delete", data={"csrf": token}, follow_redirects=False)
    assert deleted.status_code == 303

    after = events_of(client, doc.id)
    assert (after["AttackDatabreach"].state, after["AttackDatabreach"].reviewer) == ("accepted", "ann")
    assert (after["PatchVulnerability"].state, after["PatchVulnerability"].reviewer) == ("deleted", "ann")
    page = client.get(f"/documents/{doc.id}").text
    assert "Reviewed by ann" in page and "Deleted by ann" in page
    assert f'data-events="{patch.id}"' not in page  # a deleted event is no longer drawn in the text
    assert 'class="event ev-PatchVulnerability state-deleted reviewed"' in page
    # A deleted event offers Restore: the accept form, which restores it.
    assert f'action="/documents/{doc.id}/events/{patch.id}/accept"' in page
    client.post(f"/documents/{doc.id}/events/{patch.id}/accept", data={"csrf": token})
    assert events_of(client, doc.id)["PatchVulnerability"].state == "accepted"
    assert f'data-events="{patch.id}"' in client.get(f"/documents/{doc.id}").text


def test_event_forms_refuse_a_missing_csrf_token_and_unknown_events(client: TestClient) -> None:
    doc = add(client)
    breach = events_of(client, doc.id)["AttackDatabreach"]
    token = csrf_of(client.get(f"/documents/{doc.id}").text)
    forged = client.post(f"/documents/{doc.id}/events/{breach.id}/delete", data={}, follow_redirects=False)
    assert forged.status_code == 403
    assert events_of(client, doc.id)["AttackDatabreach"].state == "proposed"
    missing = client.post(f"/documents/{doc.id}/events/999999/accept", data={"csrf": token})
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    too_big = client.post(f"/documents/{doc.id}/events/{2**40}/accept", data={"csrf": token})
    assert too_big.status_code == 422


def test_with_a_token_the_page_script_edits_through_the_api_with_its_session_and_csrf(settings: Settings) -> None:
    with make_client(settings, token=TOKEN) as secured:
        extract_test_events(workbench_of(secured))
        doc = add(secured)
        breach = events_of(secured, doc.id)["AttackDatabreach"]
        url = f"/v1/documents/{doc.id}/events/{breach.id}"
        assert secured.patch(url, json={"type": "AttackRansom"}).status_code == 401  # no token, no session
        assert secured.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False).status_code == 303
        token = csrf_of(secured.get(f"/documents/{doc.id}").text)
        assert secured.patch(url, json={"type": "AttackRansom"}).status_code == 401  # a session alone is not enough
        wrong = secured.patch(url, json={"type": "AttackRansom"}, headers={"X-CSRF-Token": token + "x"})
        assert wrong.status_code == 401
        edited = secured.patch(url, json={"type": "AttackRansom"}, headers={"X-CSRF-Token": token})
        assert edited.status_code == 200 and edited.json()["type"] == "AttackRansom"
        bearer = secured.get(f"/v1/documents/{doc.id}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200


def test_the_suggest_arguments_box_is_offered_only_by_a_model_with_an_event_extractor(client: TestClient) -> None:
    doc = add(client)
    assert 'id="new-suggest"' not in client.get(f"/documents/{doc.id}").text  # the keyword model finds no events
    model = workbench_of(client).model
    assert model is not None
    model.has_event_extractor = True  # type: ignore[misc]  # a class-wide flag, set on this instance
    assert re.search(r'<input type="checkbox" id="new-suggest" checked>', client.get(f"/documents/{doc.id}").text)
