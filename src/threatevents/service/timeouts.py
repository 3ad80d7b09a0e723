"""Read timeouts: a client that starts a request and never finishes it (slow loris) is cut off.

uvicorn bounds only the idle time *between* requests (``timeout_keep_alive``). Two more bounds are added here:

* :class:`BodyTimeoutMiddleware` (ASGI, part of the app): while a request body is being read, each chunk must
  arrive within ``idle`` seconds and the whole body within ``total`` seconds of the first read; otherwise the
  request is answered ``408 Request Timeout`` and the connection closed. Bodies already complete, and the
  ``http.disconnect`` wait after them, are not timed.
* :func:`header_timeout_protocol` (uvicorn's h11 protocol, used by ``serve``): the request line and headers must
  arrive within ``timeout`` seconds of the connection opening (or of the previous response), else the
  connection is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTimeoutMiddleware:
    """Answer 408 when a request body stalls for ``idle`` seconds or takes more than ``total`` seconds."""

    def __init__(self, app: ASGIApp, *, idle: float, total: float) -> None:
        self.app, self.idle, self.total = app, idle, total

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        body_done = False

        async def timed_receive() -> Message:
            nonlocal deadline, body_done
            if body_done:
                return await receive()
            now = loop.time()
            deadline = deadline if deadline is not None else now + self.total
            wait = min(self.idle, deadline - now)
            try:
                if wait <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), wait)
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"the request body did not arrive in time (each part within {self.idle:g} s, "
                    f"all of it within {self.total:g} s)",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, timed_receive, send)


def header_timeout_protocol(timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol class, closing a connection whose request head is not complete within ``timeout``
    seconds (of the connection opening, or of the previous response on a kept-alive connection)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(timeout, self._head_timed_out)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.cycle is None or self.cycle.response_complete:  # still waiting for a request head
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # a request head arrived; BodyTimeoutMiddleware times its body

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutH11Protocol
