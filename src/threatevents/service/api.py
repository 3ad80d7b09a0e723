"""The REST API (``/v1``) and the health probes. Thin: every route validates input, calls the
:class:`~threatevents.service.core.Workbench` and shapes the answer; errors map to 4xx/503 in ``app``.

Model-bound routes are ``async``: they pass the workbench's gate (refusing at once with 503 when it is
full) *before* handing the model call to the thread pool, so excess requests never pile up there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import pydantic
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..export import FORMAT_NAMES, FORMATS
from .auth import check_api_token
from .core import MAX_PAGE, Workbench
from .jobs import Job
from .views import (
    MAX_ID,
    Alive,
    ArgumentCreate,
    ArgumentUpdate,
    DocumentCreate,
    DocumentPage,
    DocumentView,
    ErrorBody,
    EventCreate,
    EventUpdate,
    EventView,
    Health,
    JobView,
    ReviewRequest,
    ReviewView,
    TagBatchRequest,
    TagBatchResponse,
    TaggedDocumentView,
    TagRequest,
)

T = TypeVar("T")
if TYPE_CHECKING:
    ExportFormatName = str
else:  # the registry's names, so that OpenAPI lists them and anything else is a 422
    ExportFormatName = Literal[FORMAT_NAMES]
DocId = Annotated[int, Path(ge=1, le=MAX_ID, description="document id")]
EventId = Annotated[int, Path(ge=1, le=MAX_ID, description="event id")]
ArgumentId = Annotated[int, Path(ge=1, le=MAX_ID, description="argument id")]
#: Who made a change where the request has no body (DELETE); bodies carry ``reviewer`` themselves.
ReviewerQuery = Annotated[str | None, Query(min_length=1, max_length=200, description="who makes the change")]
DEFAULT_REVIEWER = "analyst"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 413, 415, 422, 429, 503)
}

router = APIRouter(prefix="/v1", dependencies=[Depends(check_api_token)], responses=ERRORS)
health_router = APIRouter(tags=["health"])


def get_workbench(request: Request) -> Workbench:
    workbench: Workbench = request.app.state.workbench
    return workbench


WorkbenchDep = Annotated[Workbench, Depends(get_workbench)]


async def _run_model_work(workbench: Workbench, call: Callable[[], T]) -> T:
    with workbench.gate.admit():
        return await run_in_threadpool(call)


@router.post("/tag", response_model=TaggedDocumentView, tags=["tagging"])
async def tag_text(body: TagRequest, workbench: WorkbenchDep) -> dict[str, Any]:
    """Tag a text without storing it: every sentence with its labels, scores and indicators."""
    records = await _run_model_work(workbench, lambda: workbench.tag_text(body.text, body.title))
    return {"sentences": records}


@router.post("/tag/batch", response_model=TagBatchResponse, tags=["tagging"])
async def tag_batch(body: TagBatchRequest, workbench: WorkbenchDep) -> dict[str, Any]:
    """Tag several texts in one model call; answers in the same order. More than the server's ``max_batch``
    (64 by default, ``THREATEVENTS_MAX_BATCH``) is refused with 422."""
    results = await _run_model_work(workbench, lambda: workbench.tag_batch(body.items))
    return {"items": [{"sentences": records} for records in results]}


_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "additionalProperties": False,
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        "application/json": {"schema": DocumentCreate.model_json_schema()},
    },
}


async def _document_input(request: Request) -> dict[str, Any]:
    """The arguments of ``Workbench.add_document`` from a multipart upload or a JSON body."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:  # parsed like FastAPI parses the other bodies, so that errors name the same fields
            payload = DocumentCreate.model_validate(json.loads((await request.body()).decode("utf-8")))
        except UnicodeDecodeError:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the JSON body is not UTF-8") from None
        except (json.JSONDecodeError, RecursionError) as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"the body is not valid JSON: {exc}") from None
        except pydantic.ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False, include_input=False)
            raise RequestValidationError(errors) from None
        return {"text": payload.text, "title": payload.title, "name": payload.name}
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=8)
        except StarletteHTTPException as exc:
            if exc.status_code != status.HTTP_400_BAD_REQUEST:
                raise  # 413 from the body limit
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"malformed upload: {exc.detail}") from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or set(form.keys()) != {"file"}:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the upload takes exactly one part: 'file'")
        return {"data": await upload.read(), "filename": upload.filename or "upload"}
    raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send multipart/form-data with a 'file' part, or JSON")


@router.post(
    "/documents",
    status_code=201,
    response_model=DocumentView,
    tags=["documents"],
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={202: {"model": JobView, "description": "a large document: tagged by a background job"}},
)
async def create_document(request: Request, response: Response, workbench: WorkbenchDep) -> Any:
    """Store a document: upload a TXT/HTML/PDF/DOCX file (one ``file`` part; format read from its bytes)
    or send JSON ``{"text", "title"?, "name"?}``. It is ingested, tagged and stored in one transaction (201).

    A document of more sentences than the server tags while a client waits (``max_sync_sentences``, 1,000 by
    default) is tagged in the background instead: the answer is ``202 Accepted`` with the job
    (``Location: /v1/jobs/{id}``); poll it until ``status`` is ``done`` (it then names the document) or ``failed``.
    """
    arguments = await _document_input(request)
    if arguments.get("data") is not None and not arguments["data"].strip():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the uploaded file is empty")
    doc = await _run_model_work(workbench, lambda: workbench.ingest(**arguments))
    if len(doc.sentences) > workbench.settings.max_sync_sentences:
        job = workbench.submit_document(doc)
        url = f"/v1/jobs/{job.id}"
        return JSONResponse(
            _job_view(job).model_dump(mode="json"), status_code=202, headers={"Location": url, "Retry-After": "2"}
        )
    view = await _run_model_work(workbench, lambda: workbench.store_document(doc))
    response.headers["Location"] = f"/v1/documents/{view.id}"
    return view


def _job_view(job: Job) -> JobView:
    url = f"/v1/documents/{job.document_id}" if job.document_id is not None else None
    return JobView(**{**asdict(job), "document_url": url})


@router.get("/jobs/{job_id}", response_model=JobView, tags=["documents"])
def get_job(job_id: Annotated[str, Path(pattern="^[0-9a-f]{32}$")], workbench: WorkbenchDep) -> JobView:
    """A background job started by ``POST /v1/documents`` for a large document (jobs live in memory: a restart
    forgets them)."""
    return _job_view(workbench.job(job_id))


@router.get("/documents", response_model=DocumentPage, tags=["documents"])
def list_documents(
    workbench: WorkbenchDep,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> DocumentPage:
    """Stored documents, newest first, with review progress and event counts."""
    return workbench.list_documents(offset, limit)


@router.get("/documents/{doc_id}", response_model=DocumentView, tags=["documents"])
def get_document(doc_id: DocId, workbench: WorkbenchDep) -> DocumentView:
    """A stored document with every sentence's prediction, latest review and review history."""
    return workbench.get_document(doc_id)


@router.delete("/documents/{doc_id}", status_code=204, response_class=Response, tags=["documents"])
def delete_document(doc_id: DocId, workbench: WorkbenchDep) -> Response:
    """Delete a document with its sentences and reviews."""
    workbench.delete_document(doc_id)
    return Response(status_code=204)


@router.post(
    "/documents/{doc_id}/sentences/{index}/review", status_code=201, response_model=ReviewView, tags=["review"]
)
def review_sentence(
    doc_id: DocId, index: Annotated[int, Path(ge=0, le=MAX_ID)], body: ReviewRequest, workbench: WorkbenchDep
) -> ReviewView:
    """Accept a sentence's prediction or correct its labels. Stored (durably) before the answer; the newest
    review of a sentence wins and older ones stay in its history."""
    return workbench.review_sentence(doc_id, index, accept=body.accept, labels=body.labels, reviewer=body.reviewer)


@router.post("/documents/{doc_id}/events", status_code=201, response_model=EventView, tags=["events"])
async def create_event(doc_id: DocId, body: EventCreate, response: Response, workbench: WorkbenchDep) -> EventView:
    """Add an event the model missed: ``type``, ``realis``, the ``trigger`` span (document offsets, inside one
    sentence) and optional ``arguments`` (role and span each). Stored as origin ``analyst``, state ``accepted``.
    With ``suggest_arguments``, the model's arguments for the trigger come with it as proposals to review."""

    def add() -> EventView:
        return workbench.add_event(
            doc_id,
            type=body.type,
            realis=body.realis,
            trigger=(body.trigger.start, body.trigger.end),
            arguments=[(a.role, a.start, a.end) for a in body.arguments],
            reviewer=body.reviewer or DEFAULT_REVIEWER,
            suggest_arguments=body.suggest_arguments,
        )

    # the model runs only for suggestions (a model route then: through the gate before the thread pool)
    model_work = body.suggest_arguments and workbench.suggests_arguments
    view = await (_run_model_work(workbench, add) if model_work else run_in_threadpool(add))
    response.headers["Location"] = f"/v1/documents/{doc_id}/events/{view.id}"
    return view


@router.patch("/documents/{doc_id}/events/{event_id}", response_model=EventView, tags=["events"])
def update_event(doc_id: DocId, event_id: EventId, body: EventUpdate, workbench: WorkbenchDep) -> EventView:
    """Correct an event's ``type`` or ``realis``, or confirm it (``"state": "accepted"``, which also restores a
    deleted event). The event becomes ``accepted``, with the reviewer and time."""
    return workbench.update_event(
        doc_id,
        event_id,
        type=body.type,
        realis=body.realis,
        accept=body.state == "accepted",
        reviewer=body.reviewer or DEFAULT_REVIEWER,
    )


@router.delete("/documents/{doc_id}/events/{event_id}", response_model=EventView, tags=["events"])
def delete_event(
    doc_id: DocId, event_id: EventId, workbench: WorkbenchDep, reviewer: ReviewerQuery = None
) -> EventView:
    """Delete an event: its state becomes ``deleted`` (kept, and still listed, so that training learns from it)."""
    return workbench.delete_event(doc_id, event_id, reviewer=reviewer or DEFAULT_REVIEWER)


@router.post(
    "/documents/{doc_id}/events/{event_id}/arguments", status_code=201, response_model=EventView, tags=["events"]
)
def create_argument(doc_id: DocId, event_id: EventId, body: ArgumentCreate, workbench: WorkbenchDep) -> EventView:
    """Add an argument (``role``, ``start``, ``end`` in document offsets) to an event; answers the event."""
    return workbench.add_argument(
        doc_id, event_id, role=body.role, start=body.start, end=body.end, reviewer=body.reviewer or DEFAULT_REVIEWER
    )


@router.patch(
    "/documents/{doc_id}/events/{event_id}/arguments/{argument_id}", response_model=EventView, tags=["events"]
)
def update_argument(
    doc_id: DocId, event_id: EventId, argument_id: ArgumentId, body: ArgumentUpdate, workbench: WorkbenchDep
) -> EventView:
    """Change an argument's ``role``; answers the event."""
    return workbench.update_argument(
        doc_id, event_id, argument_id, role=body.role, reviewer=body.reviewer or DEFAULT_REVIEWER
    )


@router.delete(
    "/documents/{doc_id}/events/{event_id}/arguments/{argument_id}", response_model=EventView, tags=["events"]
)
def delete_argument(
    doc_id: DocId, event_id: EventId, argument_id: ArgumentId, workbench: WorkbenchDep, reviewer: ReviewerQuery = None
) -> EventView:
    """Delete an argument (state ``deleted``, kept); answers the event."""
    return workbench.delete_argument(doc_id, event_id, argument_id, reviewer=reviewer or DEFAULT_REVIEWER)


_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "; ".join(f"{f.name}: {f.description}" for f in FORMATS.values()),
        "content": {
            f.media_type: {"schema": {"type": "object" if f.media_type == "application/json" else "string"}}
            for f in FORMATS.values()
        },
    }
}


@router.get("/documents/{doc_id}/export", response_class=Response, responses=_EXPORT_RESPONSES, tags=["export"])
def export_document(doc_id: DocId, workbench: WorkbenchDep, format: ExportFormatName = "jsonl") -> Response:
    """The document with its effective labels (reviews applied) in any export format: JSONL, CSV, training
    text, a standalone HTML page or a STIX 2.1 bundle."""
    export = workbench.export_document(doc_id, format)
    return Response(
        export.content,
        media_type=export.media_type,
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@router.get(
    "/export/reviewed",
    response_class=Response,
    tags=["export"],
    responses={
        200: {
            "description": "corpus: the training text format; jsonl: one JSON object per document",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "application/jsonl": {"schema": {"type": "string"}},
            },
        }
    },
)
def export_reviewed(workbench: WorkbenchDep, format: Literal["corpus", "jsonl"] = "corpus") -> PlainTextResponse:
    """Everything reviewed in the store. ``format=corpus`` (default): every reviewed sentence in the corpus training
    format (``sentence | Label, Label``). ``format=jsonl``: one object per document with reviewed sentences or
    events (``document_id``, ``name``, ``sentences``, ``events``): the events an analyst accepted, corrected,
    added or deleted, each with its review state, in the shape of ``GET /v1/documents/{id}``."""
    if format == "jsonl":
        return PlainTextResponse(
            workbench.export_reviewed_events(),
            media_type="application/jsonl",
            headers={"Content-Disposition": 'attachment; filename="reviewed-events.jsonl"'},
        )
    return PlainTextResponse(
        workbench.export_reviewed_corpus(),
        headers={"Content-Disposition": 'attachment; filename="reviewed-corpus.txt"'},
    )


@health_router.get("/healthz", response_model=Alive)
def healthz() -> Alive:
    """The process is up and answering."""
    return Alive(status="ok")


@health_router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(workbench: WorkbenchDep) -> Any:
    """Ready to serve: model loaded and database reachable (503 otherwise)."""
    model, database = workbench.model is not None, workbench.database_ok()
    health = Health(status="ready" if model and database else "not ready", model=model, database=database)
    if model and database:
        return health
    return JSONResponse(health.model_dump(), status_code=503, headers={"Retry-After": "5"})
