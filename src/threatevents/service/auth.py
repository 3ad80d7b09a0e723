"""Access control. With a token configured, the API wants ``Authorization: Bearer <token>`` and the page a
logged-in session; without one, both are open (the server then only listens on loopback, see ``server``). The
page's own script calls the API with the session cookie and its CSRF token instead (:func:`page_script_call`).

Without a token the server also refuses requests whose ``Host`` is not a loopback name (DNS rebinding) and
state-changing requests from another origin (cross-site forms and uploads): :func:`loopback_refusal`.

The page session is Starlette's signed cookie (``SessionMiddleware``, itsdangerous), signed with a random
per-process key unless ``THREATEVENTS_SESSION_SECRET`` is set. Page forms carry a CSRF token bound to the session
(synchronizer-token pattern): :func:`csrf_token` when rendering, :func:`verify_csrf` on POST.

Token guessing is throttled (:class:`LoginThrottle`, one per app in ``app.state.login_throttle``): wrong tokens at
the page login or in an API ``Authorization`` header count as failures, per client address and per wrong token.
An address that tried ``LOGIN_FAILURES`` *different* wrong tokens within ``LOGIN_WINDOW`` seconds is refused (429)
until they age out, the right token included (letting it through would tell a guesser which guess was right). A
wrong token repeated (a client left with an old token) locks only that token, not its address, so the right token
still gets in from there. Behind a reverse proxy, start the server with ``--forwarded-allow-ips`` naming the proxy:
the client address is then the one the proxy saw, and clients no longer share the proxy's budget.
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
import threading
import time
from base64 import b64encode
from collections import OrderedDict, deque
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import itsdangerous
from fastapi import HTTPException, Request, status

from .settings import Settings

SESSION_COOKIE = "threatevents_session"
SESSION_MAX_AGE = 12 * 3600
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_FAILURES = 5
LOGIN_WINDOW = 60.0


def _hostname(value: str) -> str | None:
    try:
        return urlsplit(value if "//" in value else f"//{value}").hostname
    except ValueError:
        return None


def loopback_refusal(method: str, host: str | None, origin: str | None) -> tuple[int, str] | None:
    """Why a request to a token-less (loopback-only) server must be refused, or ``None`` when it may pass.

    A Host other than a loopback name means a DNS-rebinding page is talking to us; an unsafe method with an
    Origin that is not loopback is a cross-site form or upload. Clients without Origin (curl, scripts) pass.
    """
    if _hostname(host or "") not in LOOPBACK_HOSTS:
        return 400, "this server without a token answers only to localhost, 127.0.0.1 or [::1]"
    if method not in SAFE_METHODS and origin is not None and _hostname(origin) not in LOOPBACK_HOSTS:
        return 403, "cross-origin request refused"
    return None


class LoginRequired(Exception):
    """Raised by :func:`require_page_login`; the app answers with a redirect to ``<root_path>/login?next=...``."""

    def __init__(self, next_url: str, root_path: str = "") -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.root_path = root_path

    @property
    def login_url(self) -> str:
        return f"{self.root_path}/login?next={quote(self.next_url, safe='/')}"


def site_path(request: Request) -> str:
    """The request's path as the browser sees it: under the app's ``root_path`` (the prefix of a proxy that
    serves the app at, say, ``/threatevents``), whether or not the server put the prefix in ``path`` already."""
    root, path = request.scope.get("root_path", ""), request.url.path
    if root and path != root and not path.startswith(root + "/"):
        path = root + path
    return path


class TooManyFailures(HTTPException):
    """429 for a client that gave a wrong token too often lately; ``retry_after`` seconds until it may try again."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins from this address or with this token; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


class LoginThrottle:
    """Failed logins in memory, per client address and per wrong token (see the module docstring).

    :meth:`check` refuses (:class:`TooManyFailures`) a client that failed with ``limit`` different tokens within
    ``window`` seconds, until the oldest of them is ``window`` seconds old; :meth:`check_guess` refuses a token
    that failed ``limit`` times within ``window`` (from any client). :meth:`failed` records a failure (a guess of
    ``None`` counts as a new different token each time); :meth:`succeeded` forgets the client's failures. Tokens
    are kept only as keyed hashes. At most ``max_clients`` clients and as many tokens are remembered (stale ones
    are dropped first). Thread-safe; ``clock`` (seconds, monotonic) is injectable for tests.
    """

    def __init__(
        self,
        limit: int = LOGIN_FAILURES,
        window: float = LOGIN_WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.limit, self.window, self.max_clients = limit, window, max_clients
        self._clock = clock
        self._failures: dict[str, OrderedDict[object, float]] = {}  # client -> wrong token -> last failure
        self._guesses: dict[bytes, deque[float]] = {}  # wrong token -> its failures
        self._key = secrets.token_bytes(32)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._failures)

    def _digest(self, guess: str) -> bytes:
        return hmac.new(self._key, guess.encode("utf-8", "surrogatepass"), "sha256").digest()

    def _retry_after(self, oldest: float, now: float) -> int:
        return max(1, math.ceil(oldest + self.window - now))

    def check(self, client: str) -> None:
        """Raise :class:`TooManyFailures` while ``client`` is locked out."""
        with self._lock:
            now = self._clock()
            tried = self._failures.get(client)
            if tried is not None and len(tried) >= self.limit:
                oldest = next(iter(tried.values()))
                if oldest > now - self.window:
                    raise TooManyFailures(self._retry_after(oldest, now))

    def check_guess(self, guess: str) -> None:
        """Raise :class:`TooManyFailures` while the wrong token ``guess`` is locked out."""
        with self._lock:
            now = self._clock()
            failures = self._guesses.get(self._digest(guess))
            if failures is not None and len(failures) >= self.limit and failures[0] > now - self.window:
                raise TooManyFailures(self._retry_after(failures[0], now))

    def failed(self, client: str, guess: str | None = None) -> None:
        with self._lock:
            now = self._clock()
            if client not in self._failures and len(self._failures) >= self.max_clients:
                self._forget_some(now)
            tried = self._failures.setdefault(client, OrderedDict())
            key: object = object() if guess is None else self._digest(guess)
            tried.pop(key, None)
            tried[key] = now  # newest last
            while len(tried) > self.limit:
                tried.popitem(last=False)
            if isinstance(key, bytes):
                if key not in self._guesses and len(self._guesses) >= self.max_clients:
                    self._forget_some(now)
                self._guesses.setdefault(key, deque(maxlen=self.limit)).append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _forget_some(self, now: float) -> None:
        stale = now - self.window
        for client in [c for c, tried in self._failures.items() if next(reversed(tried.values())) <= stale]:
            del self._failures[client]
        for guess in [g for g, failures in self._guesses.items() if failures[-1] <= stale]:
            del self._guesses[guess]
        while len(self._failures) >= self.max_clients:
            del self._failures[next(iter(self._failures))]  # the longest-known client
        while len(self._guesses) >= self.max_clients:
            del self._guesses[next(iter(self._guesses))]


def throttle_of(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


def client_of(request: Request) -> str:
    """The client's address: behind a reverse proxy, the proxy's, unless the server was started with
    ``--forwarded-allow-ips`` naming it (uvicorn then puts the address the proxy saw here)."""
    return request.client.host if request.client else ""


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def token_matches(settings: Settings, given: str | None) -> bool:
    """Constant-time comparison of ``given`` with the configured token (true when none is configured)."""
    if settings.token is None:
        return True
    return given is not None and hmac.compare_digest(given.encode(), settings.token.encode())


def check_api_token(request: Request) -> None:
    """FastAPI dependency for API routes: 401 unless the Bearer token matches (when one is configured);
    429 while the client is throttled for wrong tokens (a missing header is not counted as a guess)."""
    settings = settings_of(request)
    if settings.token is None or page_script_call(request):
        return
    throttle, client = throttle_of(request), client_of(request)
    throttle.check(client)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    guess = credentials.strip()
    if scheme.lower() != "bearer" or not token_matches(settings, guess):
        if guess:
            throttle.check_guess(guess)
            throttle.failed(client, guess)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or wrong access token", headers={"WWW-Authenticate": "Bearer"}
        )
    throttle.succeeded(client)


def page_script_call(request: Request) -> bool:
    """Is this API call made by the review page's script: a logged-in session cookie *and* that session's CSRF
    token in ``X-CSRF-Token`` (a header another site cannot make a browser send)? The page edits events
    through the REST API this way without ever holding the access token."""
    if "session" not in request.scope or request.session.get("auth") is not True:
        return False
    return verify_csrf(request, request.headers.get("x-csrf-token"))


def check_docs_access(request: Request) -> None:
    """FastAPI dependency for the API documentation: open without a token; with one, a logged-in page session
    (a browser) or the Bearer token (:func:`check_api_token`)."""
    if settings_of(request).token is None or read_session(request):
        return
    check_api_token(request)


def make_session_cookie(settings: Settings) -> str:
    """The value of a signed cookie for a logged-in session (what :func:`login` makes; handy in tests)."""
    payload = b64encode(json.dumps({"auth": True, "csrf": secrets.token_urlsafe(32)}).encode())
    return itsdangerous.TimestampSigner(settings.secret_key).sign(payload).decode()


def read_session(request: Request, settings: Settings | None = None) -> bool:
    """Is this page request allowed: no token configured, or a logged-in session cookie."""
    settings = settings or settings_of(request)
    return settings.token is None or request.session.get("auth") is True


def login(request: Request, token: str, settings: Settings | None = None) -> bool:
    """Log the session in when ``token`` is right; a fresh CSRF token is issued either way.

    Raises :class:`TooManyFailures` (before looking at ``token``) while the client is throttled, and (a wrong
    ``token`` only) while that token is."""
    settings = settings or settings_of(request)
    throttle, client = throttle_of(request), client_of(request)
    throttle.check(client)
    ok = settings.token is not None and token_matches(settings, token)
    if not ok:
        throttle.check_guess(token)
    request.session.clear()
    request.session["csrf"] = secrets.token_urlsafe(32)
    if ok:
        request.session["auth"] = True
        throttle.succeeded(client)
    else:
        throttle.failed(client, token)
    return ok


def logout(request: Request) -> None:
    request.session.clear()


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use); put it in a hidden ``csrf`` form field."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def verify_csrf(request: Request, token: str | None) -> bool:
    """Does a submitted form's CSRF token match the session's?"""
    expected = request.session.get("csrf")
    return isinstance(expected, str) and token is not None and hmac.compare_digest(expected.encode(), token.encode())


def require_page_login(request: Request) -> None:
    """FastAPI dependency for page routes: raises :class:`LoginRequired` when not logged in."""
    if not read_session(request):
        target = site_path(request) + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target, request.scope.get("root_path", ""))
