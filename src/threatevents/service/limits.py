"""Bounding model work: a fixed number of running calls, a short queue, immediate refusal beyond it."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import Busy

_ADMITTED: ContextVar[bool] = ContextVar("threatevents_admitted", default=False)


class FairSemaphore:
    """A counting semaphore that hands a released place to the longest waiter (first come, first served).

    ``threading.Semaphore`` lets the releasing thread take the place straight back, so a loop of short model
    calls (a large document tagged chunk by chunk) could starve the requests waiting for a place.
    """

    def __init__(self, value: int) -> None:
        self._value = value
        self._waiters: deque[threading.Lock] = deque()
        self._lock = threading.Lock()

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if self._value > 0 and not self._waiters:
                self._value -= 1
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True  # release() handed its place over
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return False
        return True  # handed over just as the wait timed out

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._value += 1


class Gate:
    """Bounds model work. ``admit()`` refuses at once when ``slots + queue`` calls are already inside;
    ``slot()`` then waits (at most ``timeout`` seconds, first come first served) for one of the ``slots``
    running places.

    An async caller should enter ``admit()`` *before* handing work to a thread, so that excess requests
    are refused rather than queued by the thread pool; a nested ``admit()`` in the same context is a no-op.
    """

    def __init__(self, slots: int, queue: int, timeout: float) -> None:
        self._slots = FairSemaphore(slots)
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
