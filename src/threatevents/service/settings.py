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
    session_secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.token is not None and not self.token.strip():
            raise ValueError("the access token must not be empty")
        if self.max_upload_bytes <= 0 or self.max_concurrency <= 0 or self.max_queue < 0 or self.max_batch <= 0:
            raise ValueError("size and concurrency limits must be positive")

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
        ``_MAX_CONCURRENCY``, ``_MAX_QUEUE``, ``_MAX_BATCH`` and ``_SESSION_SECRET``; ``overrides`` that are not
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
            "session_secret": env.get("THREATEVENTS_SESSION_SECRET") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
