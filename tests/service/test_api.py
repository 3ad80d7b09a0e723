"""Every endpoint of the REST API and every error it answers, through FastAPI's TestClient.

The client re-raises any server exception, so a 500 anywhere fails the test; each test ends by
checking that the app still serves.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from test_tagging import RECORD_FIELDS
from threatevents.service.app import create_app
from threatevents.service.auth import LoginThrottle
from threatevents.service.core import Workbench
from threatevents.service.limits import Gate
from threatevents.service.settings import Settings

from .conftest import ARTICLE, KeywordModel

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def make_client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, model=KeywordModel()), base_url="http://127.0.0.1")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with make_client(settings) as test_client:
        yield test_client
        assert test_client.get("/healthz").status_code == 200
        assert test_client.post("/v1/tag", json={"text": "Ransom paid."}).status_code == 200


def workbench_app(client: TestClient) -> FastAPI:
    app = client.app
    assert isinstance(app, FastAPI)
    return app


def workbench_of(client: TestClient) -> Workbench:
    workbench: Workbench = workbench_app(client).state.workbench
    return workbench


def add(client: TestClient, text: str = ARTICLE, **extra: str) -> dict[str, Any]:
    response = client.post("/v1/documents", json={"text": text, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    workbench_of(client).model = None
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["model"] is False and "retry-after" in response.headers
    tagged = client.post("/v1/tag", json={"text": "Ransom paid."})
    assert tagged.status_code == 503 and tagged.headers["retry-after"]
    workbench_of(client).model = KeywordModel()


def test_tag_and_batch(client: TestClient) -> None:
    body = client.post("/v1/tag", json={"text": ARTICLE, "title": "Acme"}).json()
    assert [s["labels"] for s in body["sentences"]][:2] == [["O"], ["AttackDatabreach"]]
    assert set(body["sentences"][0]) == set(RECORD_FIELDS)
    batch = client.post("/v1/tag/batch", json={"items": [{"text": "A phishing mail."}, {"text": "Ransom paid."}]})
    assert [item["sentences"][0]["labels"] for item in batch.json()["items"]] == [["AttackPhishing"], ["AttackRansom"]]
    assert client.get("/v1/documents").json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"text": ""}, {"text": 5}, {"text": "x", "extra": 1}, {"text": "   "}, [], "text"],
)
def test_tag_rejects_malformed_input(client: TestClient, body: object) -> None:
    assert client.post("/v1/tag", json=body).status_code == 422


def test_tag_rejects_broken_json_and_big_batches(client: TestClient) -> None:
    broken = client.post("/v1/tag", content=b'{"text": ', headers={"content-type": "application/json"})
    assert broken.status_code == 422
    too_many = client.post("/v1/tag/batch", json={"items": [{"text": "Ransom."}] * 65})
    assert too_many.status_code == 422


@pytest.mark.parametrize("max_batch", [2, 100])
def test_batch_limit_follows_the_setting(settings: Settings, max_batch: int) -> None:
    with make_client(replace(settings, max_batch=max_batch)) as client:
        full = client.post("/v1/tag/batch", json={"items": [{"text": "Ransom."}] * max_batch})
        assert full.status_code == 200 and len(full.json()["items"]) == max_batch
        over = client.post("/v1/tag/batch", json={"items": [{"text": "Ransom."}] * (max_batch + 1)})
        assert over.status_code == 422 and over.json() == {"detail": f"at most {max_batch} items per batch"}


def test_batch_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREATEVENTS_MAX_BATCH", "100")
    assert Settings.from_env().max_batch == 100


def test_create_document_from_json_and_uploads(client: TestClient) -> None:
    created = client.post("/v1/documents", json={"text": ARTICLE, "title": "Acme", "name": "acme.txt"})
    assert created.status_code == 201 and created.headers["location"] == f"/v1/documents/{created.json()['id']}"
    assert created.json()["name"] == "acme.txt" and created.json()["format"] == "text"
    html = b"<html><head><title>Leak</title></head><body><p>Hackers stole the files of 9 firms.</p></body></html>"
    uploaded = client.post("/v1/documents", files={"file": ("notes.txt", html, "text/plain")})
    assert uploaded.status_code == 201 and uploaded.json()["format"] == "html"
    text = client.post("/v1/documents", files={"file": ("a.bin", ARTICLE.encode(), "application/pdf")})
    assert text.status_code == 201 and text.json()["format"] == "text"
    assert client.get("/v1/documents").json()["total"] == 3


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"files": {"file": ("report.txt", PNG, "text/plain")}}, 415),
        ({"files": {"file": ("report.pdf", b"%PDF-1.7 garbage", "application/pdf")}}, 422),
        ({"files": {"file": ("empty.txt", b"", "text/plain")}}, 422),
        ({"files": {"other": ("a.txt", b"Ransom paid.", "text/plain")}}, 422),
        ({"files": {"file": ("a.txt", b"Ransom paid.", "text/plain")}, "data": {"title": "t"}}, 422),
        ({"content": b"Ransom paid.", "headers": {"content-type": "text/plain"}}, 415),
        ({"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}}, 422),
        ({"json": {"title": "no text"}}, 422),
        ({"json": {"text": "\n\n"}}, 422),
    ],
)
def test_create_document_errors(client: TestClient, kwargs: dict[str, Any], status: int) -> None:
    response = client.post("/v1/documents", **kwargs)
    assert response.status_code == status, response.text
    assert client.get("/v1/documents").json()["total"] == 0


def test_body_limits(settings: Settings) -> None:
    with make_client(settings) as client:
        limit = settings.max_body_bytes
        declared = client.post("/v1/documents", files={"file": ("big.txt", b"a " * limit, "text/plain")})
        assert declared.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count what arrives
            for _ in range(limit // 10_000 + 2):
                yield b'{"text": "' + b"a" * 10_000

        streamed = client.post("/v1/tag", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        over_file_limit = b"Ransom. " * (settings.max_upload_bytes // 8 + 1)  # under the body limit, over the file one
        assert client.post("/v1/documents", files={"file": ("a.txt", over_file_limit, "text/plain")}).status_code == 413
        assert client.get("/v1/documents").json()["total"] == 0
        assert client.post("/v1/tag", json={"text": "Ransom paid."}).status_code == 200


def test_list_get_delete(client: TestClient) -> None:
    ids = [add(client, f"Report {i}. A phishing mail.", name=f"r{i}")["id"] for i in range(3)]
    page = client.get("/v1/documents", params={"offset": 1, "limit": 1}).json()
    assert page["total"] == 3 and [d["id"] for d in page["items"]] == [ids[1]]
    assert page["items"][0]["event_counts"] == {"AttackPhishing": 1} and page["items"][0]["n_sentences"] == 2
    doc = client.get(f"/v1/documents/{ids[0]}").json()
    assert doc["name"] == "r0" and [s["labels"] for s in doc["sentences"]] == [["O"], ["AttackPhishing"]]
    assert client.delete(f"/v1/documents/{ids[0]}").status_code == 204
    assert client.get(f"/v1/documents/{ids[0]}").status_code == 404
    assert client.delete(f"/v1/documents/{ids[0]}").status_code == 404
    for bad in ("abc", "0", "-1", str(2**63)):
        assert client.get(f"/v1/documents/{bad}").status_code == 422
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "x"}):
        assert client.get("/v1/documents", params=params).status_code == 422


def test_review_flow(client: TestClient) -> None:
    doc_id = add(client)["id"]
    url = f"/v1/documents/{doc_id}/sentences/1/review"
    accepted = client.post(url, json={"accept": True, "reviewer": "ann"})
    assert accepted.status_code == 201 and accepted.json()["labels"] == ["AttackPhishing"]
    fixed = client.post(url, json={"accept": False, "labels": ["AttackRansom"], "reviewer": "bob"}).json()
    sentence = client.get(f"/v1/documents/{doc_id}").json()["sentences"][1]
    assert sentence["labels"] == ["AttackRansom"] and sentence["review"] == fixed
    assert [r["reviewer"] for r in sentence["history"]] == ["ann", "bob"]
    assert client.get("/v1/documents").json()["items"][0]["n_reviewed"] == 1


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/documents/{id}/sentences/1/review", {"accept": False, "reviewer": "a"}, 422),
        ("/v1/documents/{id}/sentences/1/review", {"accept": False, "labels": ["Bad"], "reviewer": "a"}, 422),
        (
            "/v1/documents/{id}/sentences/1/review",
            {"accept": False, "labels": ["O", "AttackRansom"], "reviewer": "a"},
            422,
        ),
        ("/v1/documents/{id}/sentences/1/review", {"accept": True}, 422),
        ("/v1/documents/{id}/sentences/1/review", {"accept": "maybe", "reviewer": "a"}, 422),
        ("/v1/documents/{id}/sentences/99/review", {"accept": True, "reviewer": "a"}, 404),
        ("/v1/documents/{id}/sentences/-1/review", {"accept": True, "reviewer": "a"}, 422),
        ("/v1/documents/12345/sentences/0/review", {"accept": True, "reviewer": "a"}, 404),
    ],
)
def test_review_errors(client: TestClient, path: str, body: dict[str, Any], status: int) -> None:
    doc_id = add(client)["id"]
    assert client.post(path.format(id=doc_id), json=body).status_code == status
    assert all(s["review"] is None for s in client.get(f"/v1/documents/{doc_id}").json()["sentences"])


@pytest.mark.parametrize(
    ("fmt", "media_type", "marker"),
    [
        ("jsonl", "application/x-ndjson", '"labels": ["AttackRansom"]'),
        ("csv", "text/csv", "AttackRansom"),
        ("corpus", "text/plain", "| AttackRansom"),
        ("stix", "application/json", '"type": "bundle"'),
        ("html", "text/html", "<!doctype html>"),
    ],
)
def test_export_formats(client: TestClient, fmt: str, media_type: str, marker: str) -> None:
    doc_id = add(client)["id"]
    client.post(
        f"/v1/documents/{doc_id}/sentences/3/review",
        json={"accept": False, "labels": ["AttackRansom"], "reviewer": "a"},
    )
    response = client.get(f"/v1/documents/{doc_id}/export", params={"format": fmt})
    assert response.status_code == 200 and response.headers["content-type"].startswith(media_type)
    assert "attachment" in response.headers["content-disposition"] and marker in response.text


INDICATOR_TEXT = (
    "Acme was breached last week.\n\nThe implant beaconed to hxxps://evil-c2[.]com/gate.php and to "
    "185.220.101[.]45 every hour. Researchers linked it to CVE-2024-3400 and to the server at evil-c2.com."
)


def test_indicators_carry_document_offsets_and_sentence_index(client: TestClient) -> None:
    """Issue 10 defect 2: document-level indicators used sentence offsets with no sentence index."""
    doc = client.post("/v1/documents", json={"text": INDICATOR_TEXT, "name": "iocs.txt"}).json()
    text = doc["text"]
    assert {i["value"] for i in doc["indicators"]} >= {"https://evil-c2.com/gate.php", "185.220.101.45"}
    sentences = {s["index"]: s for s in doc["sentences"]}
    found = [*doc["indicators"], *(i for s in doc["sentences"] for i in s["indicators"])]
    for indicator in found:
        assert text[indicator["start"] : indicator["end"]] == indicator["raw"]
        sentence = sentences[indicator["sentence"]]
        assert sentence["start"] <= indicator["start"] < indicator["end"] <= sentence["end"]
    first_url = next(i for i in doc["indicators"] if i["type"] == "url")
    assert first_url["start"] > len("Acme was breached last week.")  # not the offset inside its sentence
    tagged = client.post("/v1/tag", json={"text": INDICATOR_TEXT}).json()["sentences"]
    assert [i for s in tagged for i in s["indicators"]] == [i for s in doc["sentences"] for i in s["indicators"]]
    records = [json.loads(line) for line in client.get(f"/v1/documents/{doc['id']}/export").text.splitlines()]
    assert [i for r in records for i in r["indicators"]] == [i for s in doc["sentences"] for i in s["indicators"]]


def test_csv_export_neutralises_formulas(client: TestClient) -> None:
    """Issue 11 item 10: a cell starting with = + - @ (or tab, CR) is prefixed with a quote in the CSV export."""
    text = '=HYPERLINK("http://x.example","click") ransom was demanded.\n@SUM(1+1) phishing mail.\n-2+3 fell.'
    doc_id = client.post("/v1/documents", json={"text": text, "name": "+evil.txt"}).json()["id"]
    rows = list(csv.DictReader(io.StringIO(client.get(f"/v1/documents/{doc_id}/export?format=csv").text)))
    assert [r["text"][:2] for r in rows] == ["'=", "'@", "'-"]
    assert all(r["document"] == "'+evil.txt" for r in rows)


def test_export_errors_and_reviewed_corpus(client: TestClient) -> None:
    doc_id = add(client)["id"]
    assert client.get(f"/v1/documents/{doc_id}/export", params={"format": "xml"}).status_code == 422
    assert client.get(f"/v1/documents/{doc_id + 1}/export").status_code == 404
    assert client.get("/v1/export/reviewed").text == ""
    client.post(f"/v1/documents/{doc_id}/sentences/2/review", json={"accept": True, "reviewer": "a"})
    reviewed = client.get("/v1/export/reviewed")
    assert reviewed.status_code == 200 and reviewed.text == "Acme released a patch on Tuesday. | PatchVulnerability\n"


def test_token_required_when_configured(settings: Settings) -> None:
    with make_client(replace(settings, token="s3cret-token")) as client:
        workbench_app(client).state.login_throttle = LoginThrottle(limit=100)  # six wrong tokens below: not throttled
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"}):
            for method, path in (("get", "/v1/documents"), ("post", "/v1/tag"), ("get", "/v1/export/reviewed")):
                response = client.request(method, path, headers=headers, json={"text": "x"})
                assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
        good = {"Authorization": "Bearer s3cret-token"}
        assert client.post("/v1/tag", json={"text": "Ransom paid."}, headers=good).status_code == 200
        assert client.get("/v1/documents", headers=good).status_code == 200


def test_overload_is_refused_at_once(client: TestClient) -> None:
    workbench = workbench_of(client)
    workbench.gate = Gate(slots=1, queue=0, timeout=5)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with workbench.gate.slot():
            entered.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert entered.wait(5)
        for path, body in (("/v1/tag", {"text": "Ransom."}), ("/v1/documents", {"text": "Ransom."})):
            response = client.post(path, json=body)
            assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert client.get("/v1/documents").status_code == 200  # non-model routes are not gated
    finally:
        release.set()
        holder.join()
    assert client.post("/v1/tag", json={"text": "Ransom."}).status_code == 200


def test_openapi_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {
        "/healthz",
        "/readyz",
        "/v1/tag",
        "/v1/tag/batch",
        "/v1/documents",
        "/v1/documents/{doc_id}",
        "/v1/documents/{doc_id}/sentences/{index}/review",
        "/v1/documents/{doc_id}/events",
        "/v1/documents/{doc_id}/events/{event_id}",
        "/v1/documents/{doc_id}/events/{event_id}/arguments",
        "/v1/documents/{doc_id}/events/{event_id}/arguments/{argument_id}",
        "/v1/documents/{doc_id}/export",
        "/v1/export/reviewed",
        "/v1/jobs/{job_id}",
    }
    upload = paths["/v1/documents"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(upload)
