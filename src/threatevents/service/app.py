"""Build the FastAPI application: storage, model, workbench, routers, limits and error mapping."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from .._version import __version__
from ..ingest import check_extractors
from .api import health_router
from .api import router as api_router
from .auth import (
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    LoginRequired,
    LoginThrottle,
    check_docs_access,
    loopback_refusal,
)
from .core import Busy, ModelNotReady, Workbench, WorkbenchError
from .db import open_database
from .settings import Settings
from .timeouts import BodyTimeoutMiddleware

if TYPE_CHECKING:
    from ..models.base import EventModel

log = logging.getLogger(__name__)
MAX_ECHO_CHARS = 200  # of a rejected input echoed back in a 422 answer


def json_safe(value: Any) -> Any:
    """``value`` made safe to answer as JSON: non-finite floats (JSON ``NaN``, ``1e999``) become strings, text
    that cannot be encoded (lone surrogates) is escaped and long text cut, bytes and exceptions become text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        text = value if len(value) <= MAX_ECHO_CHARS else value[:MAX_ECHO_CHARS] + "…"
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bytes | bytearray):
        return json_safe(bytes(value[: MAX_ECHO_CHARS * 4]).decode("utf-8", "replace"))
    if isinstance(value, dict):
        return {str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    return json_safe(str(value))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 answer (a list of field errors), with each error made JSON-safe (:func:`json_safe`):
    the stock handler answers 500 when the rejected input holds ``NaN`` or an unencodable string."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": json_safe(list(exc.errors()))}, status_code=422)


async def _workbench_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkbenchError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy | ModelNotReady) else None
    return JSONResponse({"detail": json_safe(str(exc))}, status_code=exc.status, headers=headers)


async def _login_required(request: Request, exc: Exception) -> RedirectResponse:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(exc.login_url, status_code=303)


def create_app(settings: Settings | None = None, *, model: EventModel | None = None) -> FastAPI:
    """The workbench app. Migrates the database; loads ``settings.model`` unless ``model`` is given.

    ``app.state.settings``, ``app.state.workbench`` and ``app.state.login_throttle`` are what the routers use.
    """
    settings = settings or Settings.from_env()
    check_extractors()  # a broken install (an extractor that cannot import) fails here, not on each upload
    engine, sessions = open_database(settings.db_url)
    if model is None:
        from ..models import load_model

        model = load_model(settings.model)
    workbench = Workbench(model, sessions, settings)
    _warm_up()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        workbench.jobs.shutdown()
        engine.dispose()

    app = FastAPI(
        title="threatevents workbench",
        version=__version__,
        lifespan=lifespan,
        openapi_url=None,  # served by _include_docs, behind the token when one is set
        docs_url=None,
        redoc_url=None,
        max_body_size=settings.max_body_bytes,
        description="Tag cyber-threat reports sentence by sentence, review the labels, export them.",
    )
    app.state.settings = settings
    app.state.workbench = workbench
    app.state.login_throttle = LoginThrottle()
    app.add_middleware(BodyTimeoutMiddleware, idle=settings.read_timeout, total=settings.body_timeout)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="strict",
    )
    if settings.token is None:

        @app.middleware("http")
        async def loopback_only(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
            refusal = loopback_refusal(request.method, request.headers.get("host"), request.headers.get("origin"))
            if refusal is not None:
                return JSONResponse({"detail": refusal[1]}, status_code=refusal[0])
            return await call_next(request)

    app.add_exception_handler(WorkbenchError, _workbench_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.include_router(health_router)
    app.include_router(api_router)
    _include_docs(app)
    if settings.page:
        _include_page(app)
    return app


def _warm_up() -> None:
    """Pay the first-call costs of request-time code once, here, rather than in the first requests."""
    from ..indicators import warm_up

    warm_up()


def _include_docs(app: FastAPI) -> None:
    """``/openapi.json``, ``/docs`` (Swagger UI) and ``/redoc``; with a token set they need it (a Bearer header,
    or a logged-in page session so that a browser can open them), like every route but the health probes."""
    guarded = [Depends(check_docs_access)]

    @app.get("/openapi.json", include_in_schema=False, dependencies=guarded)
    def openapi_schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guarded)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} - API")

    @app.get("/redoc", include_in_schema=False, dependencies=guarded)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(openapi_url=f"{root}/openapi.json", title=f"{app.title} - API")


def _include_page(app: FastAPI) -> None:
    try:
        from .web import router as web_router
    except ImportError as exc:
        if exc.name != f"{__package__}.web":
            raise
        log.warning("the review page is not available: %s", exc)
    else:
        app.include_router(web_router)
