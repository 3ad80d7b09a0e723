"""The review page: server-rendered HTML over :class:`~threatevents.service.core.Workbench`.

Routes (all behind the page login when a token is configured): ``/`` lists documents and takes uploads,
``/documents/{id}`` shows one document sentence by sentence with review controls, and POST endpoints record
reviews, delete documents and set the reviewer name. Every POST needs the session's CSRF token (form field
``csrf`` or header ``X-CSRF-Token``). Forms work without JavaScript (POST, then redirect); the small scripts in
``static/`` upgrade them to ``fetch``/XHR calls that ask for JSON (``Accept: application/json``).

Report text is untrusted: templates autoescape, no script or style is inline, and every page is sent with a
strict Content-Security-Policy, so markup in a report renders as text.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context

from ..labels import ALL_LABELS, ARGUMENT_ROLES, EVENT_LABELS, LABEL_INFO, REALIS, O
from . import auth
from .api import get_workbench
from .core import EXPORT_FORMATS, WorkbenchError
from .event_marks import as_dict, sentence_pieces
from .views import MAX_ID, PageReviewView, SentenceView

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
STATIC_FILES = {
    "review.css": "text/css",
    "review.js": "text/javascript",
    "events.js": "text/javascript",
    "upload.js": "text/javascript",
}

#: Sent with every page: scripts and styles only from our own static files, nothing framed, no plugins.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
#: Short display names of the labels (tooltips give the full name; the help dialog and chips the description).
SHORT_NAMES = {
    "AttackDatabreach": "Breach",
    "AttackPhishing": "Phishing",
    "AttackRansom": "Ransom",
    "DiscoverVulnerability": "Vuln found",
    "PatchVulnerability": "Patch",
    O: "None",
}
DEFAULT_REVIEWER = "analyst"
PAGE_SIZE = 50
#: Every integer a page URL carries is bounded here, so an out-of-range one is a 422, never a database overflow.
PageDocId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
PageIndex = Annotated[int, PathParam(ge=0, le=MAX_ID)]
PageEventId = Annotated[int, PathParam(ge=1, le=MAX_ID)]
PageOffset = Annotated[int, Query(ge=0, le=MAX_ID)]


class PageRoute(APIRoute):
    """A page route: errors become an HTML error page (JSON ``{"detail"}`` for script callers; invalid input
    keeps FastAPI's JSON list of field errors for them)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except WorkbenchError as exc:
                return error_page(request, exc.status, str(exc))
            except HTTPException as exc:
                return error_page(request, exc.status_code, str(exc.detail))
            except RequestValidationError as exc:
                if _wants_json(request):
                    raise
                return error_page(request, 422, describe_invalid(exc))

        return guarded


router = APIRouter(include_in_schema=False, route_class=PageRoute)
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True)
)


def path_for(request: Request, name: str, /, **params: Any) -> str:
    """The root-relative path of a route (so the page works behind a proxy that changes scheme or host)."""
    return request.scope.get("root_path", "") + str(request.app.url_path_for(name, **params))


@pass_context
def _template_url_for(context: dict[str, Any], name: str, /, **params: Any) -> str:
    return path_for(context["request"], name, **params)


templates.env.globals.update(
    url_for=_template_url_for,
    event_labels=EVENT_LABELS,
    all_labels=ALL_LABELS,
    label_info=LABEL_INFO,
    short=SHORT_NAMES,
    export_formats=EXPORT_FORMATS,
    realis=REALIS,
    roles=ARGUMENT_ROLES,
)

LoggedIn = Depends(auth.require_page_login)


def describe_invalid(exc: RequestValidationError) -> str:
    """One line naming each invalid field of a request (what the HTML error page shows)."""
    problems = []
    for error in exc.errors():
        where = [str(part) for part in error.get("loc", ())[1:]]
        problems.append(f"{'.'.join(where) or 'request'}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(problems)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _reviewer(request: Request) -> str:
    name = request.session.get("reviewer")
    return name if isinstance(name, str) and name else DEFAULT_REVIEWER


def _check_csrf(request: Request, form_token: str | None) -> None:
    if not auth.verify_csrf(request, form_token or request.headers.get("x-csrf-token")):
        raise HTTPException(403, "missing or invalid CSRF token; reload the page and try again")


def _local_path(request: Request, target: str | None) -> str:
    """``target`` when it is a path on this site (never another host, so no open redirect), else the index."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or urlsplit(target).netloc:
        return path_for(request, "page_index")
    return target


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page with the CSRF token, login state and security headers every page needs."""
    settings = auth.settings_of(request)
    base = {"csrf": auth.csrf_token(request), "logged_in": settings.token is not None and auth.read_session(request)}
    response = templates.TemplateResponse(request, template, {**base, **context}, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


def error_page(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=SECURITY_HEADERS)
    return render(request, "error.html", {"status": status, "message": message}, status)


def _index(request: Request, offset: int, *, error: str | None = None, status: int = 200) -> Response:
    settings = auth.settings_of(request)
    page = get_workbench(request).list_documents(offset=max(offset, 0), limit=PAGE_SIZE)
    max_size = f"{settings.max_upload_bytes / 2**20:.3g} MiB"
    return render(request, "index.html", {"page": page, "max_upload": max_size, "error": error}, status)


def filter_sentences(sentences: list[SentenceView], key: str | None) -> list[SentenceView]:
    """Sentences carrying label ``key`` (an event or ``O``), the unreviewed ones, or all for no/unknown key."""
    if key == "unreviewed":
        return [s for s in sentences if s.review is None]
    if key in ALL_LABELS:
        return [s for s in sentences if key in s.labels]
    return sentences


# -- pages -------------------------------------------------------------------------------------------
@router.get("/", dependencies=[LoggedIn])
def page_index(request: Request, offset: PageOffset = 0) -> Response:
    """The document list with upload and paste forms."""
    return _index(request, offset)


@router.post("/documents", dependencies=[LoggedIn])
def page_create(
    request: Request,
    csrf: Annotated[str | None, Form()] = None,
    file: Annotated[UploadFile | None, File()] = None,
    text: Annotated[str | None, Form()] = None,
    title: Annotated[str | None, Form()] = None,
) -> Response:
    """Add an uploaded file or pasted text; redirect to it (or answer ``{"id", "url"}`` to a JSON caller)."""
    _check_csrf(request, csrf)
    title = (title or "").strip() or None
    try:
        if file is not None and file.filename:
            data = file.file.read(auth.settings_of(request).max_upload_bytes + 1)
            view = get_workbench(request).add_document(data=data, filename=file.filename, text=None, title=title)
        else:
            view = get_workbench(request).add_document(data=None, filename=None, text=text or "", title=title)
    except WorkbenchError as exc:
        if _wants_json(request):
            raise
        return _index(request, 0, error=str(exc), status=exc.status)  # keep the forms in view
    url = path_for(request, "page_document", doc_id=view.id)
    if _wants_json(request):
        return JSONResponse({"id": view.id, "url": url}, status_code=201)
    return RedirectResponse(url, status_code=303)


@router.get("/documents/{doc_id}", dependencies=[LoggedIn])
def page_document(request: Request, doc_id: PageDocId, event: str | None = None) -> Response:
    """One document: every sentence highlighted by its events, with scores, indicators and review controls."""
    doc = get_workbench(request).get_document(doc_id)
    key = event if event in (*ALL_LABELS, "unreviewed") else None
    events = sorted((as_dict(e) for e in doc.events), key=lambda e: (e["trigger"]["start"], e["id"]))
    # Pieces are cut from the document text itself, so that their offsets are the API's offsets.
    drawn = sentence_pieces(doc.text, [(s.start, s.end) for s in doc.sentences], events)
    context = {
        "doc": doc,
        "sentences": filter_sentences(doc.sentences, key),
        "active_filter": key,
        "events": events,
        "pieces": {s.index: p for s, p in zip(doc.sentences, drawn, strict=True)},
        "suggests": get_workbench(request).suggests_arguments,
    }
    return render(request, "document.html", {**context, "reviewer": _reviewer(request)})


@router.post("/documents/{doc_id}/events/{event_id}/accept", dependencies=[LoggedIn])
def page_event_accept(
    request: Request, doc_id: PageDocId, event_id: PageEventId, csrf: Annotated[str | None, Form()] = None
) -> Response:
    """Accept an event as it stands, or restore a deleted one (the page's form without JavaScript; the script
    calls the REST API)."""
    _check_csrf(request, csrf)
    workbench = get_workbench(request)
    workbench.update_event(doc_id, event_id, type=None, realis=None, accept=True, reviewer=_reviewer(request))
    return RedirectResponse(f"{path_for(request, 'page_document', doc_id=doc_id)}#e{event_id}", status_code=303)


@router.post("/documents/{doc_id}/events/{event_id}/delete", dependencies=[LoggedIn])
def page_event_delete(
    request: Request, doc_id: PageDocId, event_id: PageEventId, csrf: Annotated[str | None, Form()] = None
) -> Response:
    """Delete an event (kept with state ``deleted``; the page's form without JavaScript)."""
    _check_csrf(request, csrf)
    get_workbench(request).delete_event(doc_id, event_id, reviewer=_reviewer(request))
    return RedirectResponse(f"{path_for(request, 'page_document', doc_id=doc_id)}#e{event_id}", status_code=303)


@router.post("/documents/{doc_id}/sentences/{index}/review", dependencies=[LoggedIn])
def page_review(
    request: Request,
    doc_id: PageDocId,
    index: PageIndex,
    csrf: Annotated[str | None, Form()] = None,
    action: Annotated[str, Form()] = "save",
    labels: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Accept the prediction (``action=accept``) or save the checked ``labels`` (none checked = ``O``).

    A JSON caller (the page's script) gets the review and the document's new counts, so the event chips,
    the "Unreviewed" count and the progress bar update without a reload."""
    _check_csrf(request, csrf)
    accept = action == "accept"
    workbench = get_workbench(request)
    review = workbench.review_sentence(
        doc_id, index, accept=accept, labels=None if accept else (labels or [O]), reviewer=_reviewer(request)
    )
    if _wants_json(request):
        answer = PageReviewView(**review.model_dump(), counts=workbench.document_counts(doc_id))
        return JSONResponse(answer.model_dump(mode="json"))
    url = path_for(request, "page_document", doc_id=doc_id)
    return RedirectResponse(f"{url}#s{index}", status_code=303)


@router.post("/documents/{doc_id}/delete", dependencies=[LoggedIn])
def page_delete(request: Request, doc_id: PageDocId, csrf: Annotated[str | None, Form()] = None) -> Response:
    _check_csrf(request, csrf)
    get_workbench(request).delete_document(doc_id)
    return RedirectResponse(path_for(request, "page_index"), status_code=303)


@router.get("/documents/{doc_id}/export/{fmt}", dependencies=[LoggedIn])
def page_export(request: Request, doc_id: PageDocId, fmt: str) -> Response:
    """Download the document with its reviewed labels (same content as the API's export)."""
    export = get_workbench(request).export_document(doc_id, fmt)
    disposition = f'attachment; filename="{export.filename}"'
    return Response(export.content, media_type=export.media_type, headers={"Content-Disposition": disposition})


@router.post("/reviewer", dependencies=[LoggedIn])
def page_reviewer(
    request: Request,
    reviewer: Annotated[str, Form(min_length=1, max_length=200)],
    csrf: Annotated[str | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    """Set the name recorded with this browser session's reviews."""
    _check_csrf(request, csrf)
    request.session["reviewer"] = reviewer.strip() or DEFAULT_REVIEWER
    return RedirectResponse(_local_path(request, next), status_code=303)


# -- login -------------------------------------------------------------------------------------------
@router.get("/login")
def page_login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _local_path(request, next)})


@router.post("/login")
def page_login(request: Request, token: Annotated[str, Form()], next: Annotated[str | None, Form()] = None) -> Response:
    """Check the access token; on success start a signed session and go back where the user was heading.
    Too many wrong tokens from one address within a minute are answered 429 (``Retry-After``) for a while."""
    try:
        ok = auth.login(request, token)
    except auth.TooManyFailures as exc:
        context = {
            "next": _local_path(request, next),
            "login_error": f"Too many failed logins; try again in {exc.retry_after} s.",
        }
        response = render(request, "login.html", context, status=exc.status_code)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if not ok:
        context = {"next": _local_path(request, next), "login_error": "That token is not right."}
        return render(request, "login.html", context, status=401)
    return RedirectResponse(_local_path(request, next), status_code=303)


@router.post("/logout")
def page_logout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
    _check_csrf(request, csrf)
    auth.logout(request)
    return RedirectResponse(path_for(request, "page_login_form"), status_code=303)


# -- assets ------------------------------------------------------------------------------------------
@router.get("/static/{name}")
def page_static(name: str) -> Response:
    """One of the page's own CSS/JS files (a fixed list: no path from the URL reaches the file system)."""
    if name not in STATIC_FILES:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "max-age=300"})


@router.get("/labels.css")
def page_labels_css() -> Response:
    """The label colours of :data:`~threatevents.labels.LABEL_INFO` as CSS custom properties."""
    rules = [f".ev-{name},.hl-{name}{{--ev:{info.colour}}}" for name, info in LABEL_INFO.items()]
    return Response("\n".join(rules) + "\n", media_type="text/css", headers={"Cache-Control": "max-age=300"})
