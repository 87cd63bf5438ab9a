"""An upstream connection pool whose cost per request does not grow with its size.

httpcore's `AsyncConnectionPool` walks every pooled connection twice per request (when the
request is queued and when it is released) and asks each idle one whether its socket became
readable: a `poll` system call and an anyio attribute lookup per connection. With 16 warm
connections that was about a fifth of the gateway's CPU (docs/DESIGN.md §4). This pool keeps a
last-in-first-out stack of idle HTTP/1.1 connections per origin and checks only the one it is
about to reuse. Everything else (connecting, TLS, timeouts, framing, errors, cancellation) is
httpcore's own `AsyncHTTPConnection`, and httpx's transport still maps the exceptions, so
callers see exactly the errors they saw before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpcore
import httpx


class LifoPool:
    """HTTP/1.1 keep-alive connections, reused newest first; at most `max_connections` in use."""

    def __init__(self, *, ssl_context: Any, max_connections: int, max_keepalive: int,
                 keepalive_expiry: float | None) -> None:
        self._ssl_context = ssl_context
        self._max_keepalive = max_keepalive
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[_Key, list[httpcore.AsyncHTTPConnection]] = {}  # by origin
        self._idle_count = 0
        self._slots = asyncio.Semaphore(max_connections)

    def _reusable(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection | None:
        stack = self._idle.get(_key(origin))
        while stack:
            connection = stack.pop()
            self._idle_count -= 1
            if connection.is_idle() and not connection.has_expired():
                return connection
            self._discard(connection)
        return None

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        await self._slots.acquire()
        try:
            origin = request.url.origin
            connection = self._reusable(origin) or httpcore.AsyncHTTPConnection(
                origin=origin, ssl_context=self._ssl_context, keepalive_expiry=self._keepalive_expiry)
            try:
                response = await connection.handle_async_request(request)
            except BaseException:
                self._release(connection)  # httpcore has closed it, or left it idle and reusable
                raise
        except BaseException:
            self._slots.release()
            raise
        return httpcore.Response(status=response.status, headers=response.headers,
                                 content=_ReleasingStream(response.stream, self, connection),
                                 extensions=response.extensions)

    def _release(self, connection: httpcore.AsyncHTTPConnection) -> None:
        if connection.is_idle() and self._idle_count < self._max_keepalive:
            self._idle.setdefault(_key(connection._origin), []).append(connection)
            self._idle_count += 1
        elif not connection.is_closed():
            self._discard(connection)

    @staticmethod
    def _discard(connection: httpcore.AsyncHTTPConnection) -> None:
        # Closing an idle or expired HTTP/1.1 connection only closes its socket (no await point
        # that can block), so it is done now rather than left to the garbage collector.
        task = asyncio.get_running_loop().create_task(connection.aclose())
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)

    async def __aenter__(self) -> LifoPool:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        stacks, self._idle, self._idle_count = self._idle, {}, 0
        for stack in stacks.values():
            for connection in stack:
                await connection.aclose()


_Key = tuple[bytes, bytes, int]


def _key(origin: httpcore.Origin) -> _Key:
    return origin.scheme, origin.host, origin.port  # an httpcore Origin compares equal but has no hash


_PENDING: set[asyncio.Task[None]] = set()


class _ReleasingStream:
    """The response body; once closed, its connection goes back to the pool (or away)."""

    def __init__(self, stream: Any, pool: LifoPool, connection: httpcore.AsyncHTTPConnection) -> None:
        self._stream = stream
        self._pool = pool
        self._connection: httpcore.AsyncHTTPConnection | None = connection

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await self._stream.aclose()
        finally:
            self._pool._release(connection)
            self._pool._slots.release()


class LifoTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (request conversion, exception mapping) over a `LifoPool`."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, http1=True, http2=False, trust_env=False)
        ssl_context = self._pool._ssl_context  # the one httpx built for us
        self._pool = LifoPool(  # type: ignore[assignment]
            ssl_context=ssl_context, max_connections=limits.max_connections or 1 << 30,
            max_keepalive=1 << 30 if limits.max_keepalive_connections is None else limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry)
