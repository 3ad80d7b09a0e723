"""The review page through FastAPI's TestClient: listing, upload, escaping, review, CSRF, login, export."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from threatevents.labels import LABEL_INFO
from threatevents.service.app import create_app
from threatevents.service.core import Workbench
from threatevents.service.settings import Settings
from threatevents.service.web import CONTENT_SECURITY_POLICY

from .conftest import ARTICLE, KeywordModel

TOKEN = "correct horse battery staple"
PAYLOAD = 'Hackers stole data. <script>window.x=1</script> <img src=x onerror="alert(1)"> Done.'


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(replace(settings, page=True), model=KeywordModel()), base_url="http://127.0.0.1"
    ) as client:
        yield client


@pytest.fixture
def secured(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(replace(settings, page=True, token=TOKEN), model=KeywordModel())) as client:
        yield client


def workbench_of(client: TestClient) -> Workbench:
    workbench: Workbench = client.app.state.workbench  # type: ignore[attr-defined]
    return workbench


def add_article(client: TestClient, title: str = "Acme incident") -> int:
    return workbench_of(client).add_document(data=None, filename=None, text=ARTICLE, title=title).id


def review(client: TestClient, doc_id: int, index: int, **data: object) -> Any:
    """POST a review form with the page's CSRF token; the TestClient's response (httpx or httpx2 by version)."""
    token = csrf_of(client.get(f"/documents/{doc_id}").text)
    return client.post(
        f"/documents/{doc_id}/sentences/{index}/review", data={"csrf": token, **data}, follow_redirects=False
    )


def test_index_lists_documents_with_counts_and_progress(client: TestClient) -> None:
    doc_id = add_article(client)
    workbench_of(client).review_sentence(doc_id, 1, accept=True, reviewer="ann")
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert f'href="/documents/{doc_id}"' in page.text and "Acme incident" in page.text
    assert 'class="chip ev-AttackPhishing"' in page.text
    assert "ev-AttackRansom" not in page.text.split("<tbody>")[1]
    assert "1/5 reviewed" in page.text


def test_upload_file_redirects_to_its_page(client: TestClient) -> None:
    token = csrf_of(client.get("/").text)
    files = {"file": ("acme.txt", ARTICLE.encode(), "text/plain")}
    response = client.post("/documents", data={"csrf": token}, files=files, follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "Hackers stole the records of 5,000 customers from Acme." in page.text
    assert 'class="sent hl-AttackDatabreach"' in page.text
    assert workbench_of(client).list_documents().items[0].name == "acme.txt"


def test_paste_answers_json_to_scripts(client: TestClient) -> None:
    token = csrf_of(client.get("/").text)
    response = client.post(
        "/documents",
        data={"text": ARTICLE, "title": "Pasted"},
        headers={"accept": "application/json", "x-csrf-token": token},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["url"] == f"/documents/{body['id']}"
    assert workbench_of(client).get_document(body["id"]).title == "Pasted"


def test_bad_upload_is_reported_on_the_page(client: TestClient) -> None:
    token = csrf_of(client.get("/").text)
    files = {"file": ("x.bin", b"\x00\x01\x02binary junk\xff" * 20, "application/octet-stream")}
    response = client.post("/documents", data={"csrf": token}, files=files)
    assert response.status_code == 415
    assert 'class="error"' in response.text
    assert workbench_of(client).list_documents().total == 0


def test_report_markup_is_escaped(client: TestClient) -> None:
    doc = workbench_of(client).add_document(data=None, filename=None, text=PAYLOAD, title="<b>t</b>")
    page = client.get(f"/documents/{doc.id}").text
    assert "&lt;script&gt;window.x=1&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=" in page
    assert "<script>window" not in page and "<img" not in page and "<b>t</b>" not in page
    assert "<script>window" not in client.get("/").text


def test_relabel_persists_and_shows(client: TestClient) -> None:
    doc_id = add_article(client)
    response = review(client, doc_id, 4, action="save", labels=["AttackRansom", "PatchVulnerability"])
    assert response.status_code == 303
    assert response.headers["location"] == f"/documents/{doc_id}#s4"
    sentence = workbench_of(client).get_document(doc_id).sentences[4]
    assert sentence.labels == ["AttackRansom", "PatchVulnerability"]
    assert sentence.review is not None and not sentence.review.accepted and sentence.review.reviewer == "analyst"
    page = client.get(f"/documents/{doc_id}").text
    row = page.split('id="s4"')[1].split("</li>")[0]
    assert "hl-AttackRansom" in row and "Relabelled by analyst" in row
    assert re.search(r'value="PatchVulnerability" checked', row)


def test_nothing_checked_means_no_event(client: TestClient) -> None:
    doc_id = add_article(client)
    assert review(client, doc_id, 0, action="save").status_code == 303
    assert workbench_of(client).get_document(doc_id).sentences[0].labels == ["O"]


def test_accept_answers_json_with_the_review(client: TestClient) -> None:
    doc_id = add_article(client)
    token = csrf_of(client.get(f"/documents/{doc_id}").text)
    response = client.post(
        f"/documents/{doc_id}/sentences/2/review",
        data={"action": "accept"},
        headers={"accept": "application/json", "x-csrf-token": token},
    )
    assert response.status_code == 200
    predicted = workbench_of(client).get_document(doc_id).sentences[2].predicted
    assert response.json()["labels"] == predicted and response.json()["accepted"] is True


def shown_counts(html: str) -> dict[str, int]:
    """The counts in the page's filter chips, keyed by their ``data-count`` (labels and ``unreviewed``)."""
    return {key: int(value) for key, value in re.findall(r'<b data-count="([^"]+)">(\d+)</b>', html)}


def test_page_shows_a_count_on_every_chip_including_none(client: TestClient) -> None:
    doc_id = add_article(client)
    doc = workbench_of(client).get_document(doc_id)
    n_none = sum(s.labels == ["O"] for s in doc.sentences)
    assert n_none > 0
    shown = shown_counts(client.get(f"/documents/{doc_id}").text)
    assert shown["O"] == n_none
    assert shown == {**doc.label_counts, "unreviewed": len(doc.sentences)}
    assert shown == {**client.get(f"/v1/documents/{doc_id}").json()["label_counts"], "unreviewed": len(doc.sentences)}


def test_review_answers_scripts_with_the_new_counts(client: TestClient) -> None:
    doc_id = add_article(client)
    before = shown_counts(client.get(f"/documents/{doc_id}").text)
    token = csrf_of(client.get(f"/documents/{doc_id}").text)
    response = client.post(
        f"/documents/{doc_id}/sentences/4/review",  # "Shares closed flat.": no event predicted
        data={"action": "save", "labels": ["AttackRansom"]},
        headers={"accept": "application/json", "x-csrf-token": token},
    )
    assert response.status_code == 200
    counts = response.json()["counts"]
    assert counts["n_reviewed"] == 1 and counts["n_sentences"] == before["unreviewed"]
    assert counts["label_counts"]["O"] == before["O"] - 1
    assert counts["label_counts"]["AttackRansom"] == before["AttackRansom"] + 1
    after = shown_counts(client.get(f"/documents/{doc_id}").text)  # what a reload shows
    assert after == {**counts["label_counts"], "unreviewed": before["unreviewed"] - 1}


def test_invalid_labels_are_refused(client: TestClient) -> None:
    doc_id = add_article(client)
    response = review(client, doc_id, 0, action="save", labels=["O", "AttackRansom"])
    assert response.status_code == 422
    assert workbench_of(client).get_document(doc_id).sentences[0].review is None


def test_reviewer_name_is_recorded(client: TestClient) -> None:
    doc_id = add_article(client)
    token = csrf_of(client.get("/").text)
    response = client.post(
        "/reviewer", data={"csrf": token, "reviewer": "Bea", "next": f"/documents/{doc_id}"}, follow_redirects=False
    )
    assert response.headers["location"] == f"/documents/{doc_id}"
    review(client, doc_id, 0, action="accept")
    assert workbench_of(client).get_document(doc_id).sentences[0].review.reviewer == "Bea"  # type: ignore[union-attr]


@pytest.mark.parametrize("headers", [{}, {"x-csrf-token": "forged"}])
def test_posts_without_the_csrf_token_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    doc_id = add_article(client)
    client.get("/")
    response = client.post(f"/documents/{doc_id}/sentences/0/review", data={"action": "accept"}, headers=headers)
    assert response.status_code == 403
    assert client.post(f"/documents/{doc_id}/delete", headers=headers).status_code == 403
    assert workbench_of(client).get_document(doc_id).sentences[0].review is None


def test_filter_by_event(client: TestClient) -> None:
    doc_id = add_article(client)
    page = client.get(f"/documents/{doc_id}?event=AttackPhishing").text
    assert page.count('<li id="s') == 1 and "phishing emails" in page
    assert client.get(f"/documents/{doc_id}?event=unreviewed").text.count('<li id="s') == 5


def test_export_and_delete(client: TestClient) -> None:
    doc_id = add_article(client)
    review(client, doc_id, 4, action="save", labels=["AttackRansom"])
    export = client.get(f"/documents/{doc_id}/export/csv")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    assert "Shares closed flat.,AttackRansom" in export.text
    assert client.get(f"/documents/{doc_id}/export/xml").status_code == 422
    token = csrf_of(client.get("/").text)
    response = client.post(f"/documents/{doc_id}/delete", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get(f"/documents/{doc_id}").status_code == 404


def test_assets(client: TestClient) -> None:
    assert client.get("/static/review.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/..%2Fweb.py").status_code == 404
    css = client.get("/labels.css").text
    assert all(info.colour in css for info in LABEL_INFO.values())


def test_login_flow(secured: TestClient) -> None:
    response = secured.get("/documents/1?event=O", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/documents/1%3Fevent%3DO"
    assert secured.post("/login", data={"token": "wrong", "next": "/"}).status_code == 401
    for elsewhere in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        response = secured.post("/login", data={"token": TOKEN, "next": elsewhere}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/"
    page = secured.get("/")
    assert page.status_code == 200 and "Log out" in page.text
    secured.post("/logout", data={"csrf": csrf_of(page.text)})
    assert secured.get("/", follow_redirects=False).status_code == 303


def test_guessing_the_token_is_throttled(secured: TestClient) -> None:
    for i in range(5):
        assert secured.post("/login", data={"token": f"guess{i}"}).status_code == 401
    refused = secured.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert 'role="alert"' in refused.text and "Log out" not in secured.get("/login").text


def test_csrf_is_needed_when_logged_in(secured: TestClient) -> None:
    secured.post("/login", data={"token": TOKEN})
    doc_id = add_article(secured)
    url = f"/documents/{doc_id}/sentences/0/review"
    assert secured.post(url, data={"action": "accept"}).status_code == 403
    token = csrf_of(secured.get(f"/documents/{doc_id}").text)
    assert secured.post(url, data={"action": "accept", "csrf": token}, follow_redirects=False).status_code == 303


def test_errors_are_pages_for_people_and_json_for_scripts(client: TestClient) -> None:
    page = client.get("/documents/999")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "no document with id 999" in page.text and "content-security-policy" in page.headers
    scripted = client.get("/documents/999", headers={"accept": "application/json"})
    assert scripted.status_code == 404 and scripted.json() == {"detail": "no document with id 999"}


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [("get", "/documents/abc", None), ("post", "/reviewer", {}), ("post", "/login", {"next": "/"})],
)
def test_invalid_page_input_is_an_html_page(
    client: TestClient, method: str, path: str, data: dict[str, str] | None
) -> None:
    page = client.request(method, path, data=data)
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in page.headers and "invalid request:" in page.text
    scripted = client.request(method, path, data=data, headers={"accept": "application/json"})
    assert scripted.status_code == 422 and isinstance(scripted.json()["detail"], list)
    api = client.get("/v1/documents/abc")  # the API keeps FastAPI's JSON field errors
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["path", "doc_id"]


@pytest.mark.parametrize("path", ["/documents/1", "/threatevents/documents/1"])
def test_login_redirects_stay_under_the_proxy_prefix(settings: Settings, path: str) -> None:
    """Served at /threatevents behind a proxy; uvicorn puts the prefix in the request path, other servers may not."""
    app = create_app(replace(settings, page=True, token=TOKEN), model=KeywordModel())
    with TestClient(app, root_path="/threatevents", follow_redirects=False) as client:
        response = client.get(f"{path}?event=O")
        assert response.headers["location"] == "/threatevents/login?next=/threatevents/documents/1%3Fevent%3DO"
        form = client.get("/threatevents/login").text
        assert 'action="/threatevents/login"' in form and 'name="next" value="/threatevents/"' in form
        for next_url, expected in (
            ("/threatevents/documents/1", "/threatevents/documents/1"),
            (None, "/threatevents/"),
            ("//evil.example/", "/threatevents/"),
        ):
            data = {"token": TOKEN} if next_url is None else {"token": TOKEN, "next": next_url}
            assert client.post("/threatevents/login", data=data).headers["location"] == expected
        token = csrf_of(client.get("/threatevents/").text)
        assert client.post("/threatevents/reviewer", data={"csrf": token, "reviewer": "Bea"}).headers["location"] == (
            "/threatevents/"
        )
