"""Build the FastAPI application: storage, model, workbench, routers, limits and error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware

from .. import __version__
from ..ingest import check_extractors
from .api import health_router
from .api import router as api_router
from .auth import SESSION_COOKIE, SESSION_MAX_AGE, LoginRequired, LoginThrottle, loopback_refusal
from .core import Busy, ModelNotReady, Workbench, WorkbenchError
from .db import open_database
from .settings import Settings

if TYPE_CHECKING:
    from ..models.base import EventModel

log = logging.getLogger(__name__)


async def _workbench_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkbenchError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy | ModelNotReady) else None
    return JSONResponse({"detail": str(exc)}, status_code=exc.status, headers=headers)


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

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="threatevents workbench",
        version=__version__,
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
        description="Tag cyber-threat reports sentence by sentence, review the labels, export them.",
    )
    app.state.settings = settings
    app.state.workbench = workbench
    app.state.login_throttle = LoginThrottle()
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
    app.add_exception_handler(LoginRequired, _login_required)
    app.include_router(health_router)
    app.include_router(api_router)
    if settings.page:
        _include_page(app)
    return app


def _include_page(app: FastAPI) -> None:
    try:
        from .web import router as web_router
    except ImportError as exc:
        if exc.name != f"{__package__}.web":
            raise
        log.warning("the review page is not available: %s", exc)
    else:
        app.include_router(web_router)
