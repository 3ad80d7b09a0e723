"""Run the workbench with uvicorn; refuses to listen beyond loopback without an access token."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from .settings import Settings, read_token_file

KEEP_ALIVE_SECONDS = 5
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class UnsafeBindError(ValueError):
    """Listening on a non-loopback address without an access token."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals; false for everything else, wildcards included."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other host name could resolve to a public address


def check_bind(host: str, token: str | None) -> None:
    """Raise :class:`UnsafeBindError` when ``host`` is reachable from other machines and no token is set."""
    if token is None and not is_loopback(host):
        raise UnsafeBindError(
            f"refusing to listen on {host!r} without an access token: anyone who can reach this machine could "
            "read and change the stored documents. Set THREATEVENTS_TOKEN or pass --token-file, "
            "or listen on 127.0.0.1 only."
        )


def build_settings(
    db_url: str | None = None,
    model_dir: str | Path | None = None,
    token: str | None = None,
    token_file: str | Path | None = None,
) -> Settings:
    """Settings from the environment, overridden by the given arguments (a token file wins over a token)."""
    if token_file is not None:
        token = read_token_file(token_file)
    return Settings.from_env(db_url=db_url, model=str(model_dir) if model_dir is not None else None, token=token)


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    db_url: str | None = None,
    model_dir: str | Path | None = None,
    token: str | None = None,
    token_file: str | Path | None = None,
    *,
    log_level: str = "info",
    forwarded_allow_ips: str | None = None,
) -> None:
    """Serve the API and the review page until interrupted.

    Raises :class:`UnsafeBindError` before loading anything when ``host`` is not loopback and no token
    is configured (argument, ``--token-file``, ``THREATEVENTS_TOKEN`` or ``THREATEVENTS_TOKEN_FILE``).

    ``forwarded_allow_ips`` (comma-separated addresses or networks, ``*`` for any) names the reverse proxies
    whose ``X-Forwarded-For``/``X-Forwarded-Proto`` headers are believed; the client address is then the one the
    proxy saw (what the login throttle counts). Without it forwarded headers are ignored.

    A connection must send each request head within ``settings.read_timeout`` seconds and an idle kept-alive
    connection is closed after 5 s; the body is timed by the app (see :mod:`.timeouts`).
    """
    import uvicorn

    from .app import create_app
    from .timeouts import header_timeout_protocol

    settings = build_settings(db_url, model_dir, token, token_file)
    check_bind(host, settings.token)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        http=header_timeout_protocol(settings.read_timeout),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=10,
    )
