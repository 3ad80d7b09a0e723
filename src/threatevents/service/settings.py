"""Configuration of the workbench service, from arguments or ``THREATEVENTS_*`` environment variables."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

_PROCESS_SECRET = secrets.token_urlsafe(32)
DEFAULT_DB_URL = "sqlite:///threatevents.db"
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def read_token_file(path: str | Path) -> str:
    """The access token stored in a file (surrounding whitespace ignored); refuses an empty file."""
    token = Path(path).read_text(encoding="utf-8").strip()
    if not token:
        raise ValueError(f"token file {path} is empty")
    return token


@dataclass(frozen=True)
class Settings:
    """Everything the service needs to know; immutable once the app is built.

    ``model`` is a model directory or a shipped name (``None`` = the shipped default). With ``token``
    set, every endpoint except ``/healthz`` and ``/readyz`` needs it. ``max_concurrency`` model calls
    run at once and at most ``max_queue`` more wait (up to ``queue_timeout`` seconds); anything beyond
    is answered 503 with ``Retry-After`` at once. A batch tags at most ``max_batch`` texts. ``page=False``
    serves the API without the review page.

    Tagging holds a model slot for at most ``chunk_sentences`` sentences at a time. A request tags at most
    ``max_sync_sentences`` sentences while the client waits: more is refused for ``/v1/tag`` (413) and becomes a
    background job for ``POST /v1/documents`` (202); at most ``max_jobs`` jobs wait.

    A client must send a request's head, and each part of its body, within ``read_timeout`` seconds, and the
    whole body within ``body_timeout`` seconds; otherwise it is answered 408 or disconnected.
    """

    db_url: str = DEFAULT_DB_URL
    model: str | None = None
    token: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_concurrency: int = 2
    max_queue: int = 16
    queue_timeout: float = 10.0
    max_batch: int = 64
    page: bool = True
    max_sync_sentences: int = 1000
    chunk_sentences: int = 128
    max_jobs: int = 8
    read_timeout: float = 15.0
    body_timeout: float = 120.0
    session_secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise ValueError("the access token must not be empty")
        if self.max_upload_bytes <= 0 or self.max_concurrency <= 0 or self.max_queue < 0 or self.max_batch <= 0:
            raise ValueError("size and concurrency limits must be positive")
        if self.max_sync_sentences <= 0 or self.chunk_sentences <= 0 or self.max_jobs <= 0:
            raise ValueError("sentence and job limits must be positive")
        if not (0 < self.read_timeout <= self.body_timeout):
            raise ValueError("timeouts must be positive, and read_timeout at most body_timeout")

    @property
    def max_body_bytes(self) -> int:
        """Request body limit: the file limit plus room for the multipart envelope."""
        return self.max_upload_bytes + 64 * 1024

    @property
    def secret_key(self) -> str:
        """Key signing page session cookies: an HMAC of the token under ``session_secret`` (else a random key made
        once per process). Changing the token logs everyone out; a cookie gives no way to guess the token offline."""
        secret = (self.session_secret or _PROCESS_SECRET).encode()
        return hmac.new(secret, (self.token or "").encode(), hashlib.sha256).hexdigest()

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from ``THREATEVENTS_DB_URL``, ``_MODEL``, ``_TOKEN``, ``_TOKEN_FILE``, ``_MAX_UPLOAD_BYTES``,
        ``_MAX_CONCURRENCY``, ``_MAX_QUEUE``, ``_MAX_BATCH``, ``_MAX_SYNC_SENTENCES``, ``_CHUNK_SENTENCES``,
        ``_MAX_JOBS``, ``_READ_TIMEOUT``, ``_BODY_TIMEOUT`` and ``_SESSION_SECRET``; ``overrides`` that are not
        ``None`` win."""
        env = os.environ
        token = env.get("THREATEVENTS_TOKEN") or None
        if not token and env.get("THREATEVENTS_TOKEN_FILE"):
            token = read_token_file(env["THREATEVENTS_TOKEN_FILE"])
        values: dict[str, object] = {
            "db_url": env.get("THREATEVENTS_DB_URL", DEFAULT_DB_URL),
            "model": env.get("THREATEVENTS_MODEL") or None,
            "token": token,
            "max_upload_bytes": int(env.get("THREATEVENTS_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)),
            "max_concurrency": int(env.get("THREATEVENTS_MAX_CONCURRENCY", cls.max_concurrency)),
            "max_queue": int(env.get("THREATEVENTS_MAX_QUEUE", cls.max_queue)),
            "max_batch": int(env.get("THREATEVENTS_MAX_BATCH", cls.max_batch)),
            "max_sync_sentences": int(env.get("THREATEVENTS_MAX_SYNC_SENTENCES", cls.max_sync_sentences)),
            "chunk_sentences": int(env.get("THREATEVENTS_CHUNK_SENTENCES", cls.chunk_sentences)),
            "max_jobs": int(env.get("THREATEVENTS_MAX_JOBS", cls.max_jobs)),
            "read_timeout": float(env.get("THREATEVENTS_READ_TIMEOUT", cls.read_timeout)),
            "body_timeout": float(env.get("THREATEVENTS_BODY_TIMEOUT", cls.body_timeout)),
            "session_secret": env.get("THREATEVENTS_SESSION_SECRET") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
