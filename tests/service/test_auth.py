"""Access helpers for the page (session cookie, CSRF, login redirect) and the server's loopback guard."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.testclient import TestClient
from starlette.middleware.sessions import SessionMiddleware

from threatevents.service import auth
from threatevents.service.server import UnsafeBindError, build_settings, check_bind, is_loopback, serve
from threatevents.service.settings import Settings


def page_app(settings: Settings) -> FastAPI:
    """A stand-in for the review page wired the way ``create_app`` wires the real one."""
    app = FastAPI()
    app.state.settings = settings
    app.state.login_throttle = auth.LoginThrottle()
    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key, session_cookie=auth.SESSION_COOKIE)

    @app.exception_handler(auth.LoginRequired)
    async def to_login(request: Request, exc: auth.LoginRequired) -> RedirectResponse:
        return RedirectResponse(exc.login_url, status_code=303)

    @app.get("/docs/1", dependencies=[Depends(auth.require_page_login)])
    def page(request: Request) -> PlainTextResponse:
        return PlainTextResponse(auth.csrf_token(request))

    @app.post("/login")
    async def login(request: Request) -> PlainTextResponse:
        form = await request.form()
        ok = auth.login(request, str(form.get("token", "")))
        return PlainTextResponse("in" if ok else "no", status_code=200 if ok else 401)

    @app.post("/docs/1/review", dependencies=[Depends(auth.require_page_login)])
    async def review(request: Request) -> PlainTextResponse:
        form = await request.form()
        ok = auth.verify_csrf(request, form.get("csrf") if isinstance(form.get("csrf"), str) else None)  # type: ignore[arg-type]
        return PlainTextResponse("ok" if ok else "csrf", status_code=200 if ok else 403)

    return app


def test_page_redirects_to_login_until_logged_in() -> None:
    client = TestClient(page_app(Settings(token="tok")), follow_redirects=False)
    response = client.get("/docs/1", params={"x": "1"})
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/docs/1%3Fx%3D1"
    assert client.post("/login", data={"token": "wrong"}).status_code == 401
    assert client.get("/docs/1").status_code == 303
    assert client.post("/login", data={"token": "tok"}).status_code == 200
    assert client.get("/docs/1").status_code == 200


def test_made_cookie_logs_in_and_token_change_logs_out() -> None:
    settings = Settings(token="tok")
    cookie = auth.make_session_cookie(settings)
    client = TestClient(page_app(settings), follow_redirects=False, cookies={auth.SESSION_COOKIE: cookie})
    assert client.get("/docs/1").status_code == 200
    other = TestClient(page_app(Settings(token="new")), follow_redirects=False, cookies={auth.SESSION_COOKIE: cookie})
    assert other.get("/docs/1").status_code == 303
    forged = TestClient(page_app(settings), follow_redirects=False, cookies={auth.SESSION_COOKIE: cookie[:-3] + "abc"})
    assert forged.get("/docs/1").status_code == 303


def test_csrf_token_checked_on_post() -> None:
    client = TestClient(page_app(Settings()), follow_redirects=False)  # no token: the page is open
    token = client.get("/docs/1").text
    assert client.post("/docs/1/review", data={"csrf": token}).status_code == 200
    assert client.post("/docs/1/review", data={"csrf": token + "x"}).status_code == 403
    assert client.post("/docs/1/review", data={}).status_code == 403
    assert TestClient(page_app(Settings())).post("/docs/1/review", data={"csrf": token}).status_code == 403


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_refuses_public_address_without_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THREATEVENTS_TOKEN", raising=False)
    monkeypatch.delenv("THREATEVENTS_TOKEN_FILE", raising=False)
    with pytest.raises(UnsafeBindError, match="without an access token"):
        serve("0.0.0.0", 8000, db_url=f"sqlite:///{tmp_path / 'x.db'}", model_dir=tmp_path / "no-model")
    assert not (tmp_path / "x.db").exists()  # refused before touching anything
    check_bind("0.0.0.0", "a-token")
    check_bind("127.0.0.1", None)


def test_token_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text(" file-token \n")
    monkeypatch.setenv("THREATEVENTS_TOKEN", "env-token")
    assert build_settings().token == "env-token"
    assert build_settings(token_file=tmp_path / "token").token == "file-token"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        build_settings(token_file=tmp_path / "empty")


@pytest.mark.parametrize(
    ("method", "host", "origin", "status"),
    [
        ("GET", "127.0.0.1:8000", None, None),
        ("GET", "localhost", None, None),
        ("GET", "[::1]:8000", None, None),
        ("POST", "127.0.0.1:8000", "http://localhost:8000", None),
        ("POST", "127.0.0.1:8000", None, None),  # curl and scripts send no Origin
        ("GET", "attacker.example", None, 400),  # DNS rebinding
        ("GET", None, None, 400),
        ("POST", "127.0.0.1:8000", "http://evil.example", 403),  # cross-site form or upload
        ("POST", "127.0.0.1:8000", "null", 403),
        ("GET", "127.0.0.1:8000", "http://evil.example", None),  # reads are kept from evil by the Host check
    ],
)
def test_loopback_refusal(method: str, host: str | None, origin: str | None, status: int | None) -> None:
    refusal = auth.loopback_refusal(method, host, origin)
    assert (refusal[0] if refusal else None) == status


def test_tokenless_app_refuses_foreign_host_and_cross_site_upload(settings: Settings) -> None:
    from threatevents.service.app import create_app

    from .conftest import KeywordModel

    client = TestClient(create_app(settings, model=KeywordModel()), base_url="http://127.0.0.1")
    assert client.get("/v1/documents", headers={"host": "attacker.example"}).status_code == 400
    upload = {"file": ("r.txt", b"Ransomware hit the city.", "text/plain")}
    assert client.post("/v1/documents", files=upload, headers={"origin": "http://evil.example"}).status_code == 403
    assert client.get("/v1/documents").json()["total"] == 0
    assert client.post("/v1/documents", files=upload, headers={"origin": "http://127.0.0.1"}).status_code == 201


def test_session_key_needs_a_secret_besides_the_token() -> None:
    import hashlib

    assert Settings(token="a").secret_key != Settings(token="b").secret_key  # a new token logs everyone out
    assert Settings(token="a", session_secret="s").secret_key != Settings(token="a", session_secret="t").secret_key
    assert Settings(token="a").secret_key != hashlib.sha256(b"threatevents-session:a").hexdigest()


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_login_throttle_locks_a_client_out_within_the_window() -> None:
    clock = Clock()
    throttle = auth.LoginThrottle(limit=5, window=60, clock=clock)
    for _ in range(5):
        throttle.check("10.0.0.1")
        throttle.failed("10.0.0.1")
        clock.now += 1
    with pytest.raises(auth.TooManyFailures) as refused:
        throttle.check("10.0.0.1")
    assert refused.value.status_code == 429 and refused.value.headers == {"Retry-After": "55"}
    throttle.check("10.0.0.2")  # other clients are not affected
    clock.now = 1060.0  # the first failure has left the window: one more try
    throttle.check("10.0.0.1")
    throttle.failed("10.0.0.1")
    with pytest.raises(auth.TooManyFailures):
        throttle.check("10.0.0.1")
    throttle.succeeded("10.0.0.1")  # a success forgets the failures
    throttle.check("10.0.0.1")


def test_login_throttle_remembers_a_bounded_number_of_clients() -> None:
    clock = Clock()
    throttle = auth.LoginThrottle(limit=2, window=60, clock=clock, max_clients=3)
    for i in range(10):
        throttle.failed(f"10.0.0.{i}")
    assert len(throttle) == 3
    throttle.failed("10.0.0.9")
    with pytest.raises(auth.TooManyFailures):
        throttle.check("10.0.0.9")


def test_wrong_tokens_at_page_and_api_are_throttled(settings: Settings) -> None:
    from threatevents.service.app import create_app

    from .conftest import KeywordModel

    clock = Clock()
    app = create_app(replace(settings, page=True, token="tok"), model=KeywordModel())
    app.state.login_throttle = auth.LoginThrottle(clock=clock)
    good, wrong = {"Authorization": "Bearer tok"}, {"Authorization": "Bearer nope"}
    with TestClient(app, follow_redirects=False) as client:
        for _ in range(10):  # no credentials at all is not a guess
            assert client.get("/v1/documents").status_code == 401
        for i in range(3):  # five different wrong tokens from one address: guessing
            assert client.post("/login", data={"token": f"wrong{i}"}).status_code == 401
        for i in range(2):
            assert client.get("/v1/documents", headers={"Authorization": f"Bearer nope{i}"}).status_code == 401
        page = client.post("/login", data={"token": "tok"})  # even the right token, while locked out
        assert page.status_code == 429 and page.headers["retry-after"] == "60"
        assert page.headers["content-type"].startswith("text/html") and "Too many failed logins" in page.text
        api = client.get("/v1/documents", headers=good)
        assert api.status_code == 429 and api.headers["retry-after"] == "60" and "retry in 60 s" in api.json()["detail"]
        clock.now += 60
        assert client.post("/login", data={"token": "tok"}).status_code == 303
        for i in range(4):
            assert client.get("/v1/documents", headers={"Authorization": f"Bearer x{i}"}).status_code == 401
        assert client.get("/v1/documents", headers=good).status_code == 200  # resets the count
        for i in range(4):
            assert client.post("/login", data={"token": f"y{i}"}).status_code == 401
        assert client.get("/v1/documents", headers=good).status_code == 200
        for _ in range(5):  # one wrong token repeated (a client with an old token) locks that token only
            assert client.get("/v1/documents", headers=wrong).status_code == 401
        assert client.get("/v1/documents", headers=wrong).status_code == 429
        assert client.post("/login", data={"token": "nope"}).status_code == 429
        assert client.get("/v1/documents", headers=good).status_code == 200
        assert client.post("/login", data={"token": "tok"}).status_code == 303


def test_login_throttle_counts_different_tokens_per_address_and_each_wrong_token() -> None:
    clock = Clock()
    throttle = auth.LoginThrottle(limit=3, window=60, clock=clock)
    for _ in range(10):  # the same wrong token again and again: that token is locked, the address is not
        throttle.failed("proxy", "old-token")
    throttle.check("proxy")
    with pytest.raises(auth.TooManyFailures):
        throttle.check_guess("old-token")
    throttle.check_guess("another")
    for guess in ("a", "b"):  # three different wrong tokens lock the address
        throttle.failed("proxy", guess)
    with pytest.raises(auth.TooManyFailures) as refused:
        throttle.check("proxy")
    assert refused.value.headers == {"Retry-After": "60"}
    clock.now += 61
    throttle.check("proxy")
    throttle.check_guess("old-token")
