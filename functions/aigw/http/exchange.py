"""One request on a connection of the gateway's HTTP protocol (aigw/http/server.py): the
ASGI `receive` and `send` of one app call, and how its response is framed on the wire, as
uvicorn's httptools protocol frames it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any, Protocol

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE, STATUS_LINE
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string
from uvicorn.server import ServerState

# uvicorn's own checks (HEADER_RE, HEADER_VALUE_RE), character classes both: a bad character
# is in the joined names (values) exactly when it is in one of them. Deleting every byte the
# class does not match leaves the bad ones: one C pass, a quarter of the regex search's cost
# over a response's headers.


def _good_bytes(bad: re.Pattern[bytes]) -> bytes:
    """Every byte the one-character class `bad` does not match."""
    return bytes(b for b in range(256) if not bad.match(bytes([b])))


_NAME_OK = _good_bytes(HEADER_RE)
_VALUE_OK = _good_bytes(HEADER_VALUE_RE)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"  # the client waits for it before sending the body
_SPLIT_WRITE = 1 << 16  # a held head is joined to a body up to this size; beyond, two writes


def _nothing() -> None:
    return None


class Connection(Protocol):
    """What an exchange uses of its connection (aigw/http/server.py's protocol)."""

    transport: asyncio.Transport
    flow: FlowControl
    loop: asyncio.AbstractEventLoop
    logger: logging.Logger
    access_logger: logging.Logger
    access_log: bool
    server_state: ServerState
    tasks: set[asyncio.Task[None]]

    def response_complete(self) -> None: ...


class Exchange:
    """One request and its response: the ASGI `receive` and `send` of one app call."""

    __slots__ = ("body", "buffered", "chunked", "complete", "disconnected", "expected", "flow", "head",
                 "keep_alive", "more_body", "on_disconnect", "on_response", "protocol", "ready", "scope",
                 "started", "task", "transport", "waiters", "waiting_for_continue")

    def __init__(self, protocol: Connection, scope: dict[str, Any], keep_alive: bool,
                 expect_continue: bool) -> None:
        self.protocol = protocol
        self.transport = protocol.transport
        self.flow = protocol.flow
        self.scope = scope
        self.keep_alive = keep_alive
        self.waiting_for_continue = expect_continue
        self.on_response: Callable[[], None] = protocol.response_complete
        self.disconnected = False
        # Called when the client goes before the response is complete: what a task waiting in
        # `receive` for `http.disconnect` learns, without the task (aigw/http/streaming.py).
        self.on_disconnect: Callable[[], None] | None = None
        self.body: list[bytes] = []
        self.buffered = 0
        self.more_body = True
        self.ready = False  # something for `receive` (body, its end, a disconnect) since it last looked
        self.waiters: list[asyncio.Future[None]] = []
        self.started = False
        self.complete = False
        self.chunked: bool | None = None
        self.expected = 0
        self.head: bytes | None = None
        self.task: asyncio.Task[None] | None = None

    def body_arrived(self) -> bool:
        """Whether the rest of the request body can be received without waiting for the
        client: it is all here, or the connection is gone (aigw/http/common.py's body read
        then needs no timer)."""
        return (self.ready and not self.more_body) or self.disconnected or self.complete

    def wake(self) -> None:
        self.ready = True
        waiters = self.waiters
        if waiters:
            self.waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def run(self, app: Any) -> None:
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            self.protocol.logger.error("Exception in ASGI application\n", exc_info=exc)
            if not self.started:
                await self._send_500()
            else:
                self._close()
        else:
            if result is not None:
                self.protocol.logger.error("ASGI callable should return None, but returned '%s'.", result)
                self._close()
            elif not self.started and not self.disconnected:
                self.protocol.logger.error("ASGI callable returned without starting response.")
                await self._send_500()
            elif not self.complete and not self.disconnected:
                self.protocol.logger.error("ASGI callable returned without completing response.")
                self._close()
        finally:
            self.on_response = _nothing
            # Here, not in a done callback: a callback is one more turn of the loop per request.
            # (Only a task cancelled before its first step skips this: uvicorn's forced shutdown,
            # after which nothing waits on the set.)
            self.protocol.tasks.discard(self.task)
            self.task = None  # the task refers to this exchange through its coroutine

    async def _send_500(self) -> None:
        await self.send({"type": "http.response.start", "status": 500, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21"),
            (b"connection", b"close")]})
        await self.send({"type": "http.response.body", "body": b"Internal Server Error", "more_body": False})

    # ---- ASGI ------------------------------------------------------------------------------
    async def receive(self) -> dict[str, Any]:
        if self.waiting_for_continue and not self.transport.is_closing():
            self.transport.write(CONTINUE)
            self.waiting_for_continue = False
        if not self.disconnected and not self.complete:
            self.flow.resume_reading()
            if not self.ready:
                waiter = self.protocol.loop.create_future()
                self.waiters.append(waiter)
                try:
                    await waiter
                finally:
                    if waiter in self.waiters:
                        self.waiters.remove(waiter)
            self.ready = False
        if self.disconnected or self.complete:
            return {"type": "http.disconnect"}
        body = self.body
        chunk = body[0] if len(body) == 1 else b"".join(body)
        self.body = []
        self.buffered = 0
        return {"type": "http.request", "body": chunk, "more_body": self.more_body}

    async def send(self, message: dict[str, Any]) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if not self.started:
            if message["type"] != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', but got '{message['type']}'.")
            self.started = True
            self.waiting_for_continue = False
            self._start_response(message)
        elif not self.complete:
            if message["type"] != "http.response.body":
                raise RuntimeError(f"Expected ASGI message 'http.response.body', but got '{message['type']}'.")
            self._body(message.get("body", b""), message.get("more_body", False))
        else:
            raise RuntimeError(f"Unexpected ASGI message '{message['type']}' sent, after response already completed.")

    def _start_response(self, message: dict[str, Any]) -> None:
        status = message["status"]
        scope = self.scope
        if self.protocol.access_log:
            self.protocol.access_logger.info('%s - "%s %s HTTP/%s" %d', get_client_addr(scope),  # type: ignore[arg-type]
                                             scope["method"], get_path_with_query_string(scope),  # type: ignore[arg-type]
                                             scope["http_version"], status)
        content = [STATUS_LINE[status]]
        names: list[bytes] = []
        values: list[bytes] = []
        close_asked = False
        for headers in (self.protocol.server_state.default_headers, message.get("headers", ())):
            for name, value in headers:
                names.append(name)
                values.append(value)
                name = name.lower()
                if name == b"content-length" and self.chunked is None:
                    self.expected = int(value.decode())
                    self.chunked = False
                elif name == b"transfer-encoding" and value.lower() == b"chunked":
                    self.expected = 0
                    self.chunked = True
                elif name == b"connection" and b"close" in [t.lower().strip() for t in value.split(b",")]:
                    self.keep_alive = False
                    close_asked = True
                content.extend((name, b": ", value, b"\r\n"))
        if b"".join(names).translate(None, _NAME_OK):
            raise RuntimeError("Invalid HTTP header name.")
        if b"".join(values).translate(None, _VALUE_OK):
            raise RuntimeError("Invalid HTTP header value.")
        if not self.keep_alive and not close_asked:
            content.append(b"connection: close\r\n")
        if self.chunked is None and scope["method"] != "HEAD" and status not in (204, 304):
            self.chunked = True
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        self.head = b"".join(content)
        if self.chunked:  # a stream's first frame may be turns away: its head leaves by the turn's end
            self.protocol.loop.call_soon(self._flush_head)

    def _body(self, body: bytes, more_body: bool) -> None:
        if self.scope["method"] == "HEAD":
            self.expected = 0
            data = b""
        elif self.chunked:
            data = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
            if not more_body:
                data += b"0\r\n\r\n"
        else:
            if len(body) > self.expected:
                raise RuntimeError("Response content longer than Content-Length")
            self.expected -= len(body)
            data = body
        head = self.head
        if head is not None:
            self.head = None
            if len(data) <= _SPLIT_WRITE:
                self.transport.write(head + data)
            else:
                self.transport.write(head)
                self.transport.write(data)
        elif data:
            self.transport.write(data)
        if not more_body:
            if self.expected != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.complete = True
            self.wake()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()

    def _flush_head(self) -> None:
        head = self.head
        if head is not None:
            self.head = None
            if not self.transport.is_closing():
                self.transport.write(head)

    def _close(self) -> None:
        self._flush_head()
        self.transport.close()
