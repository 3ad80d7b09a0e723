"""Background jobs: large documents are tagged and stored off the request, one at a time.

``POST /v1/documents`` with more sentences than ``max_sync_sentences`` answers ``202 Accepted`` with a
``Location`` of ``/v1/jobs/{id}``; :class:`JobQueue` runs the work on its own thread and keeps each job's state.

The state lives in memory: a restart forgets every job (queued work is not done, and its id answers 404); a
document a finished job stored stays in the database. At most ``max_pending`` jobs wait (more are refused with
503 + ``Retry-After``) and the ``keep`` newest finished jobs are remembered.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from .db import utcnow
from .errors import Busy, WorkbenchError

log = logging.getLogger(__name__)
JobStatus = Literal["queued", "running", "done", "failed"]
#: The work of a job: given a progress callback (sentences tagged so far), returns the stored document's id.
JobWork = Callable[[Callable[[int], None]], int]


@dataclass(frozen=True)
class Job:
    id: str
    status: JobStatus
    sentences: int
    created_at: datetime
    tagged: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    document_id: int | None = None
    error: str | None = None


class QueueFull(Busy):
    retry_after = 30


@dataclass
class JobQueue:
    """Runs submitted work on ``workers`` threads; see the module docstring."""

    workers: int = 1
    max_pending: int = 8
    keep: int = 1000
    _jobs: OrderedDict[str, Job] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _executor: ThreadPoolExecutor | None = None
    stopping: threading.Event = field(default_factory=threading.Event)

    def submit(self, work: JobWork, sentences: int) -> Job:
        """Queue ``work`` (for a document of ``sentences`` sentences); raises :class:`QueueFull` when full."""
        with self._lock:
            if self.stopping.is_set():
                raise Busy("the server is shutting down")
            waiting = sum(1 for job in self._jobs.values() if job.status in ("queued", "running"))
            if waiting >= self.max_pending + self.workers:
                raise QueueFull(f"{waiting} large documents are already waiting to be tagged; retry later")
            job = Job(id=uuid.uuid4().hex, status="queued", sentences=sentences, created_at=utcnow())
            self._jobs[job.id] = job
            self._forget_old()
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="threatevents-job")
            self._executor.submit(self._run, job.id, work)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Stop taking jobs; queued ones are dropped, a running one stops at its next chunk."""
        self.stopping.set()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id] = replace(self._jobs[job_id], **changes)  # type: ignore[arg-type]

    def _run(self, job_id: str, work: JobWork) -> None:
        self._update(job_id, status="running", started_at=utcnow())
        try:
            document_id = work(lambda tagged: self._update(job_id, tagged=tagged))
        except WorkbenchError as exc:
            self._update(job_id, status="failed", error=str(exc), finished_at=utcnow())
        except Exception:  # reported as the job's state; the details go to the server log
            log.exception("background job %s failed", job_id)
            self._update(job_id, status="failed", error="internal error (see the server log)", finished_at=utcnow())
        else:
            self._update(job_id, status="done", document_id=document_id, finished_at=utcnow())

    def _forget_old(self) -> None:
        finished = [k for k, job in self._jobs.items() if job.status in ("done", "failed")]
        for key in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[key]
