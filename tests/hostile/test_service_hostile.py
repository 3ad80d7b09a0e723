"""The workbench service under hostile use (issue 11): every case answers a clean 4xx with a message, or
succeeds; never a 500. Each case is bounded (seconds, small bodies).

Most cases use FastAPI's TestClient on the shipped linear model. Those that need a real server (a cold start
under concurrency, slow clients, proxy headers) start ``threatevents.service.server.serve`` with uvicorn on
127.0.0.1 in a subprocess. PostgreSQL cases run when ``THREATEVENTS_TEST_PG_URL`` is set or ``.ci/postgres.sh``
left its URL in ``/tmp/threatevents-pg/url``, and skip otherwise.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra: pip install 'threatevents[serve]'")
pytest.importorskip("httpx", reason="the TestClient needs httpx (dev extra)")

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from threatevents.models import load_model
from threatevents.models.base import EventModel, ModelConfig
from threatevents.service.app import create_app, json_safe
from threatevents.service.auth import make_session_cookie
from threatevents.service.limits import FairSemaphore
from threatevents.service.settings import Settings
from threatevents.service.views import MAX_ID

pytestmark = pytest.mark.hostile

SRC = Path(__file__).resolve().parents[2] / "src"
PG_URL_FILE = Path(os.environ.get("THREATEVENTS_PG_DIR", "/tmp/threatevents-pg")) / "url"
IOC_TEXT = (
    "The malware contacted 185.220.101.4 and evil.com before the ransomware encrypted the servers. "
    "Hackers stole the records of 5,000 customers from Acme. "
    "Acme released a patch for CVE-2024-31337 on Tuesday."
)
TOKEN = "s3cret-token-for-tests"
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]


# -- fixtures and helpers ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model() -> EventModel:
    return load_model("linear")


def make_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"db_url": db_url, "max_upload_bytes": 200_000, "page": True, **overrides}
    return Settings(**values)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


def _pg_server() -> str | None:
    url = os.environ.get("THREATEVENTS_TEST_PG_URL")
    if not url and PG_URL_FILE.is_file():
        url = PG_URL_FILE.read_text().strip()
    return url or None


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); skips without a server."""
    server = _pg_server()
    if server is None:
        pytest.skip("no PostgreSQL: set THREATEVENTS_TEST_PG_URL or run `bash .ci/postgres.sh` first")
    pytest.importorskip("psycopg", reason="needs the psycopg driver")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"te_hostile_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server is down or refuses us
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable: {type(exc).__name__}")
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url
    else:
        with fresh_pg_database() as url:
            yield url


@contextmanager
def app_client(db_url: str, model: EventModel, **overrides: Any) -> Iterator[TestClient]:
    app = create_app(make_settings(db_url, **overrides), model=model)
    with TestClient(app, base_url="http://localhost", follow_redirects=False) as client:
        yield client


@pytest.fixture
def client(sqlite_url: str, model: EventModel) -> Iterator[TestClient]:
    with app_client(sqlite_url, model) as c:
        yield c


def assert_clean(response: Any, *allowed: int) -> None:
    """Not a server error; an error carries a message; when ``allowed`` is given, one of those statuses."""
    assert response.status_code < 500, response.text[:500]
    if allowed:
        assert response.status_code in allowed, (response.status_code, response.text[:500])
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
        assert response.json()["detail"], response.text


def raw_json(value: Any) -> bytes:
    """JSON with every non-ASCII character escaped (so lone surrogates survive as ``\\udXXX``)."""
    return json.dumps(value, ensure_ascii=True).encode()


def add_document(client: TestClient, text: str = IOC_TEXT) -> int:
    created = client.post("/v1/documents", json={"text": text, "title": "Acme"})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def csrf_of(page: str) -> str:
    marker = 'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    base: str
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def live_server(tmp_path: Path, *, env: dict[str, str] | None = None, **serve_kwargs: Any) -> Iterator[LiveServer]:
    """``serve()`` with the shipped linear model on 127.0.0.1 in a fresh interpreter (cold: nothing warmed up by
    a previous request); stopped afterwards."""
    import httpx

    port = free_port()
    db_url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    arguments = ", ".join(f"{k}={v!r}" for k, v in serve_kwargs.items())
    code = (
        "from threatevents.service.server import serve; "
        f"serve('127.0.0.1', {port}, db_url={db_url!r}, model_dir='linear', log_level='warning'"
        + (f", {arguments})" if arguments else ")")
    )
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("THREATEVENTS_")}
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    child_env.update(env or {})
    log = tmp_path / f"server-{port}.log"
    with log.open("wb") as sink:
        server = subprocess.Popen([sys.executable, "-c", code], env=child_env, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"the server exited: {log.read_text(errors='replace')[-2000:]}"
            assert time.monotonic() < deadline, "the server was not ready within 120 s"
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield LiveServer(base, port, log)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def api_routes(app: Any) -> list[APIRoute]:
    """Every route of the app, those of included routers too (FastAPI >= 0.165 keeps them inside the router)."""
    found: list[APIRoute] = []
    for route in app.routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found += api_routes(inner)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def run_together(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call at once on its own thread (released together by a barrier); their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


# -- 1. concurrent first use --------------------------------------------------------------------------------------
def test_indicator_extraction_is_thread_safe_on_first_use() -> None:
    """The root cause, in fresh interpreters (pyparsing cold): 16 threads extract indicators at once, and
    extraction still works afterwards. Three interpreters: before the fix each one broke most of the time."""
    script = textwrap.dedent(
        """
        import threading
        from concurrent.futures import ThreadPoolExecutor
        from threatevents.indicators import extract_indicators
        text = "The malware contacted 185.220.101.4 and evil.com at night."
        barrier = threading.Barrier(16)
        def go(_):
            barrier.wait()
            try:
                return [(i.type, i.value) for i in extract_indicators(text)]
            except Exception as exc:
                return repr(exc)
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(go, range(16)))
        results.append([(i.type, i.value) for i in extract_indicators(text)])
        assert all(r == results[0] for r in results), results
        print(results[0])
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.strip() == "[('ipv4', '185.220.101.4'), ('domain', 'evil.com')]"


def _docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("Ransomware hit Acme; the attackers used 185.220.101.4 and evil.com.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _pdf_bytes() -> bytes | None:
    try:
        from reportlab.pdfgen import canvas
    except ImportError:
        return None
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, "Hackers stole data from Acme through 185.220.101.4 and evil.com.")
    page.save()
    return out.getvalue()


def test_cold_server_survives_concurrent_first_use_of_every_request_path(tmp_path: Path) -> None:
    """A fresh server; 16 threads at once make the first call of every kind of request (tagging, uploads of each
    format, listing, pages), then of everything that needs a stored document (exports of each format, reviews,
    pages). Nothing answers 500, and indicators are still found afterwards (the bug broke them for good)."""
    import httpx

    html = b"<html><head><title>Leak</title></head><body><p>Hackers stole files via evil.com.</p></body></html>"
    uploads: list[tuple[str, bytes]] = [("a.html", html), ("b.docx", _docx_bytes()), ("c.txt", IOC_TEXT.encode())]
    pdf = _pdf_bytes()
    if pdf is not None:
        uploads.append(("d.pdf", pdf))
    with live_server(tmp_path) as server, httpx.Client(base_url=server.base, timeout=60) as http:
        first: list[Callable[[], Any]] = [lambda: http.post("/v1/tag", json={"text": IOC_TEXT}) for _ in range(6)]
        first += [lambda: http.post("/v1/tag/batch", json={"items": [{"text": IOC_TEXT}, {"text": "Ransom."}]})] * 2
        first += [lambda: http.post("/v1/documents", json={"text": IOC_TEXT, "title": "Acme"})] * 2
        first += [
            lambda name=name, data=data: http.post("/v1/documents", files={"file": (name, data)})
            for name, data in uploads
        ]
        first += [lambda: http.get("/v1/documents"), lambda: http.get("/"), lambda: http.get("/readyz")]
        first += [lambda: http.get("/openapi.json")]
        answers = run_together(first[:16])
        assert [r.status_code for r in answers if r.status_code >= 500] == [], server.log_text()[-3000:]
        assert all(r.status_code in (200, 201) for r in answers), [(r.status_code, r.text[:200]) for r in answers]

        doc_id = http.post("/v1/documents", json={"text": IOC_TEXT}).json()["id"]
        page = httpx.Client(base_url=server.base, timeout=60)
        csrf = csrf_of(page.get(f"/documents/{doc_id}").text)
        review = f"/v1/documents/{doc_id}/sentences/{{}}/review"
        second: list[Callable[[], Any]] = [
            lambda fmt=fmt: http.get(f"/v1/documents/{doc_id}/export", params={"format": fmt})
            for fmt in ("jsonl", "csv", "corpus", "stix")
            for _ in range(2)
        ]
        second += [
            lambda i=i: http.post(review.format(i % 3), json={"accept": True, "reviewer": f"r{i}"}) for i in range(3)
        ]
        second += [lambda: page.get(f"/documents/{doc_id}/export/stix"), lambda: http.get("/v1/export/reviewed")]
        second += [
            lambda: page.post(f"/documents/{doc_id}/sentences/1/review", data={"action": "accept", "csrf": csrf}),
            lambda: http.get(f"/v1/documents/{doc_id}"),
        ]
        answers = run_together(second)
        page.close()
        assert [r.status_code for r in answers if r.status_code >= 500] == [], server.log_text()[-3000:]
        assert all(r.status_code in (200, 201, 303) for r in answers), [(r.status_code, r.text[:200]) for r in answers]

        after = http.post("/v1/tag", json={"text": IOC_TEXT})
        assert after.status_code == 200
        found = {(i["type"], i["value"]) for s in after.json()["sentences"] for i in s["indicators"]}
        assert {("ipv4", "185.220.101.4"), ("domain", "evil.com")} <= found
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


# -- 2. non-finite numbers in JSON ------------------------------------------------------------------------------
def _json_routes(app: FastAPI) -> list[tuple[str, list[str]]]:
    """Every API route taking a JSON body: its path (ids filled in) and its body's field names."""
    found = []
    for route in api_routes(app):
        if route.body_field is not None and "POST" in route.methods and route.path.startswith("/v1/"):
            annotation = route.body_field.field_info.annotation
            fields = list(getattr(annotation, "model_fields", {}))
            found.append((route.path.replace("{doc_id}", "1").replace("{index}", "0"), fields))
    return found


def test_non_finite_numbers_anywhere_in_a_json_body_answer_422(client: TestClient) -> None:
    add_document(client)
    routes = _json_routes(client.app)  # type: ignore[arg-type]
    assert {path for path, _ in routes} >= {"/v1/tag", "/v1/tag/batch", "/v1/documents/1/sentences/0/review"}
    for path, fields in routes:
        for number in NON_FINITE:
            bodies = [number, f"[{number}]", *(f'{{"{field}": {number}}}' for field in fields)]
            bodies += [
                f'{{"items": [{{"text": {number}}}]}}',
                f'{{"accept": true, "reviewer": "a", "labels": [{number}]}}',
            ]
            for body in bodies:
                response = client.post(path, content=body, headers={"content-type": "application/json"})
                assert_clean(response, 422)
    for number in NON_FINITE:  # the document route reads its JSON itself
        response = client.post(
            "/v1/documents", content=f'{{"text": {number}}}', headers={"content-type": "application/json"}
        )
        assert_clean(response, 422)


def test_json_safe_makes_any_error_detail_encodable() -> None:
    detail = json_safe([{"input": float("nan"), "x": [float("inf"), "\ud800a", b"\xff", ValueError("v")], 1: None}])
    assert json.loads(json.dumps(detail, allow_nan=False).encode("utf-8")) == [
        {"input": "nan", "x": ["inf", "\\ud800a", "\ufffd", "v"], "1": None}
    ]
    assert len(json_safe("x" * 10_000)) < 300


# -- 3. lone surrogates -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/tag", {"text": "\ud800 Ransomware hit."}, "text"),
        ("/v1/tag", {"text": "Ransomware hit.", "title": "A \udfff"}, "title"),
        ("/v1/tag/batch", {"items": [{"text": "ok"}, {"text": "\udbff"}]}, "text"),
        ("/v1/documents", {"text": "\ud800 Ransomware hit."}, "text"),
        ("/v1/documents", {"text": "Ransomware hit.", "name": "\ud800"}, "name"),
        ("/v1/documents/{id}/sentences/0/review", {"accept": True, "reviewer": "\ud800"}, "reviewer"),
        ("/v1/documents/{id}/sentences/0/review", {"accept": False, "labels": ["\ud800"], "reviewer": "a"}, "labels"),
    ],
)
def test_lone_surrogates_are_refused_naming_the_field(client: TestClient, path: str, body: Any, field: str) -> None:
    doc_id = add_document(client)
    response = client.post(path.format(id=doc_id), content=raw_json(body), headers={"content-type": "application/json"})
    assert_clean(response, 422)
    assert field in json.dumps(response.json()["detail"])


def test_undecodable_bytes_in_bodies_and_file_names_are_clean(client: TestClient) -> None:
    bad = b'{"text": "caf\xe9 ransomware"}'
    assert_clean(client.post("/v1/tag", content=bad, headers={"content-type": "application/json"}), 400, 422)
    assert_clean(client.post("/v1/documents", content=bad, headers={"content-type": "application/json"}), 422)
    nested = b"[" * 100_000 + b"]" * 100_000
    assert_clean(client.post("/v1/tag", content=nested, headers={"content-type": "application/json"}), 400, 422)
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="r\xe9\x00port.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nRansomware hit Acme.\r\n--{boundary}--\r\n"
    ).encode("latin-1")
    response = client.post(
        "/v1/documents", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert_clean(response, 201)
    assert "\x00" not in response.json()["name"]


def test_every_json_body_refuses_invalid_unicode(client: TestClient) -> None:
    """The guard for the class: each request body model checks its text (:class:`RequestModel`)."""
    from threatevents.service.views import DocumentCreate, RequestModel

    bodies = [
        r.body_field.field_info.annotation for r in api_routes(client.app) if r.body_field and r.path[:4] == "/v1/"
    ]
    json_bodies = [b for b in bodies if isinstance(b, type) and issubclass(b, pydantic.BaseModel)]
    assert json_bodies and all(issubclass(b, RequestModel) for b in json_bodies), json_bodies
    assert issubclass(DocumentCreate, RequestModel)  # read by hand from the body of POST /v1/documents


def test_the_database_layer_drops_nul_and_surrogates_from_every_string_column(any_db_url: str) -> None:
    """The last guard: whatever reaches a string column is storable on SQLite and PostgreSQL alike."""
    from threatevents.service.db import DocumentRow, ReviewRow, SentenceRow, open_database

    engine, sessions = open_database(any_db_url)
    try:
        with sessions.begin() as session:
            row = DocumentRow(name="a\x00b", title="t\ud800", format="text", text="x\x00y", indicators=[])
            sentence = SentenceRow(index=0, start=0, end=1, text="s\x00", predicted=[], scores={}, labels=[])
            sentence.reviews = [ReviewRow(labels=[], accepted=True, reviewer="r\x00\udfff")]
            row.sentences = [sentence]
            session.add(row)
        with sessions() as session:
            stored = session.get(DocumentRow, row.id)
            assert stored is not None
            assert (stored.name, stored.title, stored.text) == ("ab", "t\ufffd", "xy")
            assert stored.sentences[0].text == "s" and stored.sentences[0].reviews[0].reviewer == "r\ufffd"
    finally:
        engine.dispose()


# -- 4. out-of-range integers -----------------------------------------------------------------------------------
HUGE = ["9223372036854775808", "99999999999999999999999", "3000000000", str(MAX_ID + 1), "-1"]


@pytest.mark.parametrize("number", HUGE)
def test_out_of_range_ids_and_offsets_are_4xx(client: TestClient, number: str) -> None:
    csrf = csrf_of(client.get("/").text)
    gets = [
        f"/?offset={number}",
        f"/documents/{number}",
        f"/documents/{number}/export/jsonl",
        f"/v1/documents/{number}",
        f"/v1/documents?offset={number}",
        f"/v1/documents/{number}/export",
    ]
    for url in gets:
        assert_clean(client.get(url), 404, 422)
        assert_clean(client.get(url, headers={"accept": "application/json"}), 404, 422)
    assert_clean(client.delete(f"/v1/documents/{number}"), 404, 422)
    review = {"accept": True, "reviewer": "a"}
    assert_clean(client.post(f"/v1/documents/{number}/sentences/0/review", json=review), 404, 422)
    assert_clean(client.post(f"/v1/documents/1/sentences/{number}/review", json=review), 404, 422)
    form = {"csrf": csrf, "action": "accept"}
    assert_clean(client.post(f"/documents/{number}/sentences/0/review", data=form), 404, 422)
    assert_clean(client.post(f"/documents/1/sentences/{number}/review", data=form), 404, 422)
    assert_clean(client.post(f"/documents/{number}/delete", data={"csrf": csrf}), 404, 422)


def test_every_integer_in_a_url_is_bounded(client: TestClient) -> None:
    """The guard for the class: an unbounded int parameter anywhere would reach the database as an overflow."""
    checked = 0
    for route in api_routes(client.app):
        for param in [*route.dependant.path_params, *route.dependant.query_params]:
            if param.field_info.annotation is not int:
                continue
            bounds = {type(m).__name__: m for m in param.field_info.metadata}
            assert "Ge" in bounds and "Le" in bounds, f"{route.path}: {param.name} is not bounded"
            assert bounds["Ge"].ge >= 0 and bounds["Le"].le <= MAX_ID, f"{route.path}: {param.name}"
            checked += 1
    assert checked >= 10


def test_out_of_range_ids_on_postgresql(model: EventModel) -> None:
    with fresh_pg_database() as url, app_client(url, model) as client:
        for path in ("/documents/3000000000", "/v1/documents/3000000000", "/?offset=3000000000"):
            assert_clean(client.get(path), 404, 422)


# -- 5. NUL in stored text, both databases ----------------------------------------------------------------------
def test_nul_in_names_titles_reviewers_and_file_names_is_stripped(any_db_url: str, model: EventModel) -> None:
    with app_client(any_db_url, model) as client:
        created = client.post(
            "/v1/documents", json={"text": "Ransom\x00ware hit.", "title": "Ti\x00tle", "name": "na\x00me"}
        )
        assert_clean(created, 201)
        doc = created.json()
        assert (doc["name"], doc["title"]) == ("name", "Title") and "\x00" not in doc["text"]
        upload = client.post("/v1/documents", files={"file": ("re\x00port.txt", b"Hackers stole data.", "text/plain")})
        assert_clean(upload, 201)
        assert "\x00" not in upload.json()["name"]
        review = client.post(
            f"/v1/documents/{doc['id']}/sentences/0/review", json={"accept": True, "reviewer": "ana\x00lyst"}
        )
        assert_clean(review, 201)
        assert review.json()["reviewer"] == "analyst"
        page = client.get("/")
        csrf = csrf_of(page.text)
        assert_clean(client.post("/reviewer", data={"reviewer": "pa\x00ge", "csrf": csrf}), 303)
        assert_clean(
            client.post(f"/documents/{doc['id']}/sentences/0/review", data={"action": "accept", "csrf": csrf}), 303
        )
        pasted = client.post("/documents", data={"text": "Ransomware\x00 hit.", "title": "a\x00b", "csrf": csrf})
        assert_clean(pasted, 303)
        files = {"file": ("x\x00y.txt", b"Phishing mails went out.", "text/plain")}
        assert_clean(client.post("/documents", data={"csrf": csrf}, files=files), 303)
        listed = client.get("/v1/documents").json()["items"]
        assert all("\x00" not in (d["name"] + (d["title"] or "")) for d in listed) and len(listed) == 4
        history = client.get(f"/v1/documents/{doc['id']}").json()["sentences"][0]["history"]
        assert [r["reviewer"] for r in history] == ["analyst", "page"]


# -- 8. migrations race -------------------------------------------------------------------------------------------
def _race_migrations(url: str, processes: int = 4) -> list[subprocess.CompletedProcess[str]]:
    start_at = time.time() + 8  # every process has imported everything by then; they migrate at the same instant
    script = textwrap.dedent(
        f"""
        import time
        from threatevents.service.db import open_database
        time.sleep(max(0.0, {start_at!r} - time.time()))
        engine, _ = open_database({url!r})
        engine.dispose()
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(processes)
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(child.args, child.returncode, out, err))
    return results


def test_servers_started_together_on_a_new_sqlite_file_all_migrate(tmp_path: Path) -> None:
    for attempt in range(2):
        results = _race_migrations(f"sqlite:///{tmp_path / f'race{attempt}.sqlite3'}")
        assert [r.returncode for r in results] == [0] * len(results), [r.stderr[-1500:] for r in results]


def test_servers_started_together_on_a_new_postgresql_database_all_migrate() -> None:
    with fresh_pg_database() as url:
        results = _race_migrations(url)
        assert [r.returncode for r in results] == [0] * len(results), [r.stderr[-1500:] for r in results]


# -- 9. the API documentation behind the token ------------------------------------------------------------------
OPEN_ROUTES = {"/healthz", "/readyz", "/login", "/static/{name}", "/labels.css"}


def test_with_a_token_only_health_and_login_answer_without_it(sqlite_url: str, model: EventModel) -> None:
    settings = make_settings(sqlite_url, token=TOKEN)
    with TestClient(create_app(settings, model=model), base_url="http://localhost", follow_redirects=False) as client:
        for path in ("/openapi.json", "/docs", "/redoc"):
            assert client.get(path).status_code == 401
            assert client.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        client.cookies.set("threatevents_session", make_session_cookie(settings))  # a logged-in browser
        assert client.get("/docs").status_code == 200 and client.get("/openapi.json").status_code == 200
        client.cookies.clear()
        for route in api_routes(client.app):
            if "GET" not in route.methods or route.path in OPEN_ROUTES:
                continue
            path = route.path.replace("{doc_id}", "1").replace("{index}", "0").replace("{fmt}", "jsonl")
            path = path.replace("{job_id}", "0" * 32)
            assert client.get(path).status_code in (401, 303), f"{route.path} answers without the token"


# -- should fix: slow clients, the login throttle behind a proxy ------------------------------------------------
def _read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and after how many seconds (``limit`` at most)."""
    start = time.monotonic()
    received = b""
    sock.settimeout(0.5)
    while time.monotonic() - start < limit:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionError:
            break
        if not chunk:
            break
        received += chunk
    return received, time.monotonic() - start


def test_slow_clients_are_cut_off_and_throttling_sees_the_real_client(tmp_path: Path) -> None:
    import httpx

    env = {"THREATEVENTS_READ_TIMEOUT": "1", "THREATEVENTS_BODY_TIMEOUT": "3", "THREATEVENTS_TOKEN": TOKEN}
    with live_server(tmp_path, env=env, forwarded_allow_ips="127.0.0.1") as server:
        head = (
            "POST /v1/tag HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKEN}\r\nContent-Length: 100000\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port)) as sock:  # a body that stops arriving
            sock.sendall(head + b'{"text": "')
            received, seconds = _read_until_closed(sock, 20)
        assert received.startswith(b"HTTP/1.1 408") and seconds < 5, (received[:200], seconds)

        with socket.create_connection(("127.0.0.1", server.port)) as sock:  # a body that drips in forever
            sock.sendall(head)
            start = time.monotonic()
            received = b""
            sock.settimeout(0.4)
            while time.monotonic() - start < 20 and not received:
                try:
                    sock.sendall(b" ")
                    received = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
            seconds = time.monotonic() - start
        assert received.startswith(b"HTTP/1.1 408") and seconds < 8, (received[:200], seconds)

        with socket.create_connection(("127.0.0.1", server.port)) as sock:  # headers that never end
            sock.sendall(b"POST /v1/tag HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            received, seconds = _read_until_closed(sock, 20)
        assert seconds < 5, seconds

        with httpx.Client(base_url=server.base, timeout=30) as http:
            assert http.get("/healthz").status_code == 200
            attacker, user = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "203.0.113.6"}
            for i in range(5):
                wrong = {**attacker, "Authorization": f"Bearer guess{i}"}
                assert http.get("/v1/documents", headers=wrong).status_code == 401
            locked = http.get("/v1/documents", headers={**attacker, "Authorization": f"Bearer {TOKEN}"})
            assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
            good = {**user, "Authorization": f"Bearer {TOKEN}"}
            assert http.get("/v1/documents", headers=good).status_code == 200  # another client behind the proxy
            for _ in range(8):  # a client stuck on an old token locks only that token
                http.get("/v1/documents", headers={**user, "Authorization": "Bearer old-token"})
            assert http.get("/v1/documents", headers={**user, "Authorization": "Bearer old-token"}).status_code == 429
            assert http.get("/v1/documents", headers=good).status_code == 200
    assert "Traceback" not in server.log_text(), server.log_text()[-3000:]


# -- should fix: large documents ----------------------------------------------------------------------------------
def _sentences(n: int) -> str:
    kinds = ["Ransomware hit server {i}.", "Hackers stole file {i} via evil{i}.com.", "Shares of firm {i} closed flat."]
    return " ".join(kinds[i % 3].format(i=i) for i in range(n))


def test_large_documents_become_background_jobs(sqlite_url: str, model: EventModel) -> None:
    text = _sentences(40)
    with app_client(sqlite_url, model, max_sync_sentences=10, chunk_sentences=7) as client:
        assert_clean(client.post("/v1/tag", json={"text": text}), 413)
        assert_clean(client.post("/v1/tag/batch", json={"items": [{"text": _sentences(6)}] * 2}), 413)
        assert_clean(client.post("/v1/tag", json={"text": _sentences(10)}), 200)
        accepted = client.post("/v1/documents", json={"text": text, "name": "big"})
        assert accepted.status_code == 202, accepted.text
        location = accepted.headers["location"]
        assert location == f"/v1/jobs/{accepted.json()['id']}" and accepted.json()["sentences"] == 40
        deadline = time.monotonic() + 60
        while (job := client.get(location).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
        assert job["status"] == "done" and job["tagged"] == 40 and job["error"] is None, job
        stored = client.get(job["document_url"]).json()
        assert_clean(client.get("/v1/jobs/" + "0" * 32), 404)
        assert_clean(client.get("/v1/jobs/x"), 422)
    with app_client(f"{sqlite_url}-whole", model, max_sync_sentences=1000, chunk_sentences=1000) as whole:
        at_once = whole.post("/v1/documents", json={"text": text, "name": "big"})
        assert at_once.status_code == 201
    chunked = [
        (s["index"], s["start"], s["end"], s["predicted"], s["scores"], s["indicators"]) for s in stored["sentences"]
    ]
    expected = [
        (s["index"], s["start"], s["end"], s["predicted"], s["scores"], s["indicators"])
        for s in at_once.json()["sentences"]
    ]
    assert chunked == expected


def test_a_background_job_waits_out_a_busy_server(
    sqlite_url: str, model: EventModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job's chunk that finds the gate full (503 for a request) waits and tries again; the job still finishes."""
    from threatevents.service import core
    from threatevents.service.errors import Busy

    monkeypatch.setattr(core, "JOB_RETRY_SECONDS", 0.05)
    with app_client(sqlite_url, model, max_sync_sentences=5, chunk_sentences=4) as client:
        workbench = client.app.state.workbench  # type: ignore[attr-defined]
        real_slot, refusals = workbench.gate.slot, []

        def busy_at_first() -> Any:
            if threading.current_thread().name.startswith("threatevents-job") and len(refusals) < 5:
                refusals.append(1)
                raise Busy("the server is busy")
            return real_slot()

        monkeypatch.setattr(workbench.gate, "slot", busy_at_first)
        accepted = client.post("/v1/documents", json={"text": _sentences(12)})
        assert_clean(accepted, 202)
        deadline = time.monotonic() + 30
        while (job := client.get(accepted.headers["location"]).json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
        assert job["status"] == "done" and len(refusals) == 5, job


def test_the_gate_hands_a_released_slot_to_the_longest_waiter() -> None:
    """No barging: a thread that releases and at once asks again queues behind the one already waiting."""
    slots = FairSemaphore(1)
    assert slots.acquire(timeout=1)
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append("waiter") if slots.acquire(timeout=10) else None)
    waiter.start()
    deadline = time.monotonic() + 10
    while not slots._waiters and time.monotonic() < deadline:
        time.sleep(0.01)
    slots.release()
    assert not slots.acquire(timeout=0.2)  # the place went to the waiter
    waiter.join(10)
    assert got == ["waiter"]
    assert not slots.acquire(timeout=0.05)
    slots.release()
    assert slots.acquire(timeout=1)


class ContextModel(EventModel):
    """Scores each sentence from the text pair a context-reading model sees (headline and neighbours)."""

    kind = "context-test"
    config_class = ModelConfig

    def fit(self, train: Any, dev: Any = None) -> ContextModel:
        return self

    def predict_proba(self, docs: Any) -> Any:
        import hashlib

        import numpy as np

        from threatevents.models.base import doc_texts
        from threatevents.models.onnx_runtime import build_pairs

        pairs = build_pairs([doc_texts(d) for d in docs], "headline+neighbours")
        digests = [hashlib.sha256(f"{a}|{b}".encode()).digest() for a, b in pairs]
        return np.array([[d[i] / 255 for i in range(5)] for d in digests], dtype=float).reshape(len(pairs), 5)

    def _save_weights(self, path: Path) -> None:
        raise NotImplementedError

    def _load_weights(self, path: Path) -> None:
        raise NotImplementedError


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64])
def test_chunked_tagging_gives_a_context_reading_model_the_same_context(sqlite_url: str, chunk: int) -> None:
    from threatevents.ingest import ingest_text
    from threatevents.service.core import Workbench
    from threatevents.service.db import open_database
    from threatevents.tagging import tag_documents, with_indicators

    model = ContextModel()
    doc = ingest_text(_sentences(23), title="Headline of the report")
    engine, sessions = open_database(sqlite_url)
    try:
        workbench = Workbench(model, sessions, make_settings(sqlite_url, chunk_sentences=chunk))
        assert with_indicators(workbench._tag_in_chunks(doc)) == tag_documents(model, [doc])[0]
    finally:
        engine.dispose()
