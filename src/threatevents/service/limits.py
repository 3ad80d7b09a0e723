"""Bounding model work: a fixed number of running calls, a short queue, immediate refusal beyond it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import Busy

_ADMITTED: ContextVar[bool] = ContextVar("threatevents_admitted", default=False)


class Gate:
    """Bounds model work. ``admit()`` refuses at once when ``slots + queue`` calls are already inside;
    ``slot()`` then waits (at most ``timeout`` seconds) for one of the ``slots`` running places.

    An async caller should enter ``admit()`` *before* handing work to a thread, so that excess requests
    are refused rather than queued by the thread pool; a nested ``admit()`` in the same context is a no-op.
    """

    def __init__(self, slots: int, queue: int, timeout: float) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._capacity = slots + queue
        self._timeout = timeout
        self._inside = 0
        self._lock = threading.Lock()

    @property
    def inside(self) -> int:
        return self._inside

    @contextmanager
    def admit(self) -> Iterator[None]:
        if _ADMITTED.get():
            yield
            return
        with self._lock:
            if self._inside >= self._capacity:
                raise Busy(f"the server is busy ({self._inside} requests in progress); retry shortly")
            self._inside += 1
        token = _ADMITTED.set(True)
        try:
            yield
        finally:
            _ADMITTED.reset(token)
            with self._lock:
                self._inside -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self.admit():
            if not self._slots.acquire(timeout=self._timeout):
                raise Busy(f"no model slot became free within {self._timeout:g} s; retry shortly")
            try:
                yield
            finally:
                self._slots.release()
