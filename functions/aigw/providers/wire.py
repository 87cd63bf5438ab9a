"""The upstream HTTP/1.1 transport: asyncio protocols and the llhttp parser (httptools),
under httpx's client API.

Profiled on the core path, httpcore's connection (h11's pure-Python framing, anyio's stream
and cancel-scope layers on every read and write) was about a third of the gateway's CPU per
request (docs/DESIGN.md §4). This transport writes a request in one `write` and parses the
answer with the C parser uvicorn uses on the server side; each connection is an
`asyncio.Protocol`, so a pooled connection the server closed is known without polling it.
Idle connections are reused newest first, at O(1) per request.

What callers see does not change: an `httpx.Response` (httpx still decodes content
encodings) or the same httpx exception types httpcore's errors map to (ConnectError,
ConnectTimeout, ReadTimeout, WriteTimeout, PoolTimeout, RemoteProtocolError,
LocalProtocolError), pinned against httpx's own transport by
tests/unit/providers/test_wire.py. `exchange` is the same request with its answer read whole
and returned as an `Answer`, for `UpstreamClient.send_json` (no httpx objects per call).
Requests this transport does not frame itself (HEAD, a streamed request body, a scheme other
than http/https) go to the `LifoTransport` over httpcore. Without httptools installed,
`default_transport` is that transport alone.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator

import httpx

from aigw.names import ENV_UPSTREAM_TRANSPORT
from aigw.providers.slots import Slots

HIGH_WATER = 1 << 20  # buffered response bytes before the socket stops being read
LOW_WATER = 1 << 18
# What would let a header value or name end its line early or smuggle another header: in a
# value CR, LF or NUL; in a name those, a colon, a space or a tab, or no name at all. Deleting
# the bytes a name may hold leaves the ones it may not.
_NAME_OK = bytes(b for b in range(256) if b not in b"\r\n\0: \t")
_Key = tuple[str, str, int]
Place = tuple[bytes, _Key]  # a URL's request target and origin


def fast_available() -> bool:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return False
    return True


def default_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """This transport where httptools is installed (the gateway's Lambda layer has it), else
    the httpcore-based one; `AIGW_UPSTREAM_TRANSPORT=httpcore` chooses that one regardless (a
    way back, without a deploy of new code, should an upstream ever disagree with this one)."""
    if fast_available() and os.environ.get(ENV_UPSTREAM_TRANSPORT, "").strip().lower() != "httpcore":
        return WireTransport(limits=limits)
    from aigw.providers.pool import LifoTransport

    return LifoTransport(limits=limits)


class _Connection(asyncio.Protocol):
    """One keep-alive connection and the response being read on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, key: _Key) -> None:
        import httptools

        self.loop = loop
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._parser_error: type[Exception] = httptools.HttpParserError
        self._active = False
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False
        # The read timeout: one timer per connection, re-armed when it fires early (`_tick`).
        self._deadline: float | None = None  # when the current wait times out
        self._timed: httpx.Request | None = None  # the request a timeout error names
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.error: Exception | None = None
        self._interim = False
        self._framed = False  # a Content-Length or chunked body (else it ends when the connection does)
        self._chunks: deque[bytes] = deque()
        self._buffered = 0

    # ---- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self._active:  # bytes on an idle connection: it cannot be trusted for the next request
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except self._parser_error as exc:
            self._fail(httpx.RemoteProtocolError(f"upstream sent malformed HTTP: {exc}"))
            self.close()
        if self._buffered > HIGH_WATER and not self._read_paused and self.transport is not None:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._stop_timer()
        if self._active and not self.complete and self.error is None:
            if self.headers_done and not self._framed:
                self.complete = True  # a body delimited by the connection's end
            elif self.headers_done:
                self.error = httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body")
            else:
                self.error = httpx.RemoteProtocolError("Server disconnected without sending a response.")
        self._wake()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # ---- llhttp callbacks -------------------------------------------------------------------
    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue, 103 Early Hints): not the response
            self._interim = True
            self.headers, self.reason = [], b""
            return
        self.status = status
        self._framed = status in (204, 304) or _names_any(self.headers, b"content-length", b"transfer-encoding")
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        self.keep_alive = self._parser.should_keep_alive()
        self.complete = True

    # ---- the request ---------------------------------------------------------------------
    def _fail(self, error: Exception) -> None:
        if self.error is None and not self.complete:
            self.error = error

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, read_s: float | None, request: httpx.Request | None) -> None:
        """Until the protocol has news, or `read_s` without any (httpx's read timeout). Not a
        timer per wait, armed and cancelled (a stream waits half a dozen times): the wait sets
        its deadline, and the connection's one timer is armed only when none is, or for an
        earlier deadline."""
        waiter = self._waiter = self.loop.create_future()
        if read_s is None:
            self._deadline = None
        else:
            deadline = self._deadline = self.loop.time() + read_s
            self._timed = request
            if self._timer is None or deadline < self._timer_at:
                self._arm(deadline)
        try:
            await waiter
        finally:
            self._waiter = None

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self.loop.call_at(when, self._tick)

    def _tick(self) -> None:
        """The timer: a wait past its deadline fails (the error made only then); a wait that
        began after the timer was armed has a later one, for which it is armed again."""
        self._timer = None
        waiter, deadline = self._waiter, self._deadline
        if waiter is None or waiter.done() or deadline is None:
            return
        if deadline <= self._timer_at:
            waiter.set_exception(httpx.ReadTimeout("timed out", request=self._timed))
        else:
            self._arm(deadline)

    async def send(self, data: bytes, request: httpx.Request | None, timeouts: dict[str, float | None]) -> None:
        """Write the request and wait for the response's head."""
        assert self.transport is not None
        self._reset()
        self._active = True
        self.transport.write(data)
        if self._write_paused:
            self._drained = self.loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._drained), timeouts.get("write"))
            except TimeoutError:
                raise httpx.WriteTimeout("timed out", request=request) from None
            finally:
                self._drained = None
        while not self.headers_done:
            if self.error is not None:
                raise self.error
            if self.closed:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.",
                                                request=request)
            await self._wait(timeouts.get("read"), request)

    async def body(self, request: httpx.Request | None, read_s: float | None) -> AsyncIterator[bytes]:
        """The body as it arrives: what one read brought, in one piece. (llhttp reports a chunked
        body chunk by chunk, and an upstream stream sends one chunk per event: yielded one by one,
        each went through every iterator above for a few bytes.)"""
        while True:
            if self._chunks:
                yield self._take()
                continue
            if self.complete:
                return
            if self.error is not None:
                raise self.error
            await self._wait(read_s, request)

    async def read_all(self, request: httpx.Request | None, read_s: float | None) -> bytes:
        """`body` joined, without an async generator (each one is registered with the loop and
        unregistered again, per request)."""
        parts: list[bytes] = []
        while True:
            if self._chunks:
                parts.append(self._take())
                continue
            if self.complete:
                return parts[0] if len(parts) == 1 else b"".join(parts)
            if self.error is not None:
                raise self.error
            await self._wait(read_s, request)

    def _take(self) -> bytes:
        """What has arrived, in one piece; reading resumes once the buffer is low again."""
        chunks = self._chunks
        if len(chunks) == 1:
            chunk = chunks.popleft()
        else:
            chunk = b"".join(chunks)
            chunks.clear()
        self._buffered -= len(chunk)
        if self._read_paused and self._buffered < LOW_WATER and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        return chunk

    def reusable(self, now: float, expiry: float | None) -> bool:
        return not self.closed and (expiry is None or now - self.idle_since < expiry)

    def release(self) -> bool:
        """The response is over: True if the connection can carry another request."""
        self._active = False
        return self.complete and self.keep_alive and not self.closed and self.error is None

    def close(self) -> None:
        self.closed = True
        self._stop_timer()
        if self.transport is not None:
            self.transport.close()

    def _stop_timer(self) -> None:
        if self._timer is not None:  # (it refers to this connection until it fires)
            self._timer.cancel()
            self._timer = None


class _Head:
    """What an answer of this transport says of itself, as an `httpx.Response` would: the status,
    the head as received (names lowercased), the reason."""

    __slots__ = ("_headers", "raw_headers", "reason", "status_code")

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], reason: bytes) -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.reason = reason
        self._headers: httpx.Headers | None = None

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:  # made when asked (an error's Retry-After...), not per answer
            self._headers = httpx.Headers(self.raw_headers)
        return self._headers

    @property
    def reason_phrase(self) -> str:
        """As httpx's for a response of this transport: the reason the upstream sent."""
        return self.reason.decode("ascii", errors="ignore")

    def slow(self) -> bool:
        """A cookie to keep or a Content-Encoding to undo: for httpx's Response to do."""
        return _names_any(self.raw_headers, b"set-cookie", b"content-encoding")


class Answer(_Head):
    """A whole HTTP answer as `WireTransport.exchange` read it, the body as sent (any
    Content-Encoding still applied). Reads like the `httpx.Response` of a JSON call
    (`status_code`, `headers`, `content`)."""

    __slots__ = ("content",)

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], reason: bytes,
                 content: bytes) -> None:
        self.status_code = status_code  # (not `super().__init__`: a call fewer per JSON answer)
        self.raw_headers = raw_headers
        self.reason = reason
        self._headers = None
        self.content = content


class Streamed(_Head):
    """An answer whose head has come, its body read as it arrives (`WireTransport.open`): what
    `UpstreamClient.open_stream` hands a stream's reader in place of an httpx Response, with
    what such a reader uses of one (`status_code`, `headers`, `aread`, `aclose`, and iterating
    the body). An iterator object, not an async generator: a generator is registered with the
    loop (and finalized by it) per stream, and each of httpx's layers over the body is one.
    The connection goes back to the pool once the body has been read to its end, and is closed
    if the answer is let go before that (as `_Body.aclose`)."""

    __slots__ = ("_connection", "_pool", "_read_s")

    def __init__(self, pool: WireTransport, connection: _Connection, read_s: float | None) -> None:
        super().__init__(connection.status, connection.headers, connection.reason)
        self._pool = pool
        self._connection: _Connection | None = connection
        self._read_s = read_s

    def __aiter__(self) -> Streamed:
        return self

    async def __anext__(self) -> bytes:
        connection = self._connection
        if connection is None:
            raise StopAsyncIteration
        try:
            while True:
                if connection._chunks:
                    return connection._take()
                if connection.complete:
                    break
                if connection.error is not None:
                    raise connection.error
                await connection._wait(self._read_s, None)
        except BaseException:
            self.close()
            raise
        self.close()
        raise StopAsyncIteration

    def let_go_if_whole(self) -> bool:
        """If the whole answer has arrived, let it go unread (its connection back in the pool)
        and say so: what a drain of the rest comes to, without a wait, when the rest is here."""
        connection = self._connection
        if connection is not None and not connection.complete:
            return False
        self.close()
        return True

    async def aread(self) -> bytes:
        """The rest of the body, whole (an error's body)."""
        connection = self._connection
        if connection is None:
            return b""
        try:
            return await connection.read_all(None, self._read_s)
        finally:
            self.close()

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool._release(connection)

    async def aclose(self) -> None:
        self.close()


def _names_any(headers: list[tuple[bytes, bytes]], first: bytes, second: bytes) -> bool:
    """Whether a header is named either (a loop: `any()` over a generator resumes it per header)."""
    for name, _ in headers:  # noqa: SIM110 (the point: no generator)
        if name in (first, second):
            return True
    return False


class _Body(httpx.AsyncByteStream):
    def __init__(self, pool: WireTransport, connection: _Connection, request: httpx.Request,
                 timeout: float | None) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self._request = request
        self._timeout = timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        try:
            async for chunk in connection.body(self._request, self._timeout):
                yield chunk
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._pool._release(connection)


class WireTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections per origin, reused newest first; at most
    `max_connections` in use at once (a request waits up to the pool timeout for one)."""

    def __init__(self, *, limits: httpx.Limits, ssl_context: ssl.SSLContext | None = None) -> None:
        self._max_keepalive = 1 << 30 if limits.max_keepalive_connections is None else \
            limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._limits = limits
        self._slots = Slots(limits.max_connections or 1 << 30)
        self._idle: dict[_Key, list[_Connection]] = {}
        self._idle_count = 0
        self._ssl = ssl_context  # None: httpx's default (certifi), built on first use
        self._fallback: httpx.AsyncBaseTransport | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:  # built on the first https origin (certifi's bundle is not free)
            self._ssl = httpx.create_ssl_context(trust_env=False)
        return self._ssl

    def _other(self) -> httpx.AsyncBaseTransport:
        if self._fallback is None:
            from aigw.providers.pool import LifoTransport

            self._fallback = LifoTransport(limits=self._limits)
        return self._fallback

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        content = getattr(request, "_content", None)  # set once the body is read (json=, content=)
        if content is None or not self.frames(request.method, url):
            return await self._other().handle_async_request(request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout") or {}
        connection = await self._head(request.method, url, request.headers.raw, content, timeouts, request)
        return httpx.Response(connection.status, headers=connection.headers,
                              stream=_Body(self, connection, request, timeouts.get("read")),
                              extensions={"http_version": b"HTTP/1.1", "reason_phrase": connection.reason})

    def frames(self, method: str, url: httpx.URL) -> bool:
        """Whether `exchange` can carry this request (else it is httpx's, through `_other`)."""
        return method != "HEAD" and url.scheme in ("http", "https")

    async def exchange(self, method: str, url: httpx.URL, headers: list[tuple[bytes, bytes]], content: bytes,
                       timeouts: dict[str, float | None], place: Place | None = None) -> Answer:
        """A whole request and its whole answer, without httpx's Request and Response objects
        (about a tenth of a JSON call's CPU): what `handle_async_request` and reading the
        response to its end do, with the same errors (their `request` unset). Only for what
        `frames` accepts. `place`: `place_of(url)`, if the caller keeps it (UpstreamClient does)."""
        connection = await self._head(method, url, headers, content, timeouts, None, place)
        try:
            body = await connection.read_all(None, timeouts.get("read"))
        finally:  # kept for the next request only if the answer came whole (as `_Body.aclose`)
            self._release(connection)
        return Answer(connection.status, connection.headers, connection.reason, body)

    async def open(self, method: str, url: httpx.URL, headers: list[tuple[bytes, bytes]], content: bytes,
                   timeouts: dict[str, float | None], place: Place | None = None) -> Streamed:
        """A request and its answer's head, the body to be read as it comes (a stream): what
        `handle_async_request` does, without the Response (for `UpstreamClient.open_stream`)."""
        connection = await self._head(method, url, headers, content, timeouts, None, place)
        return Streamed(self, connection, timeouts.get("read"))



    def response(self, streamed: Streamed, request: httpx.Request) -> httpx.Response:
        """The httpx Response `handle_async_request` would have made of this answer (one httpx
        must finish: a cookie to keep, a Content-Encoding to undo); the body is the Response's."""
        connection, streamed._connection = streamed._connection, None
        assert connection is not None, "an answer already read or let go"
        return httpx.Response(connection.status, headers=connection.headers,
                              stream=_Body(self, connection, request, streamed._read_s),
                              extensions={"http_version": b"HTTP/1.1", "reason_phrase": connection.reason})

    async def _head(self, method: str, url: httpx.URL, headers: list[tuple[bytes, bytes]], content: bytes,
                    timeouts: dict[str, float | None], request: httpx.Request | None,
                    place: Place | None = None) -> _Connection:
        """Send the request on a connection of the pool and wait for the response's head; the
        connection (its slot held) is the caller's until `_release`."""
        raw_path, key = place or place_of(url)
        data = _frame(method, raw_path, headers, content, request)
        if not self._slots.take():
            try:
                await asyncio.wait_for(self._slots.wait(), timeouts.get("pool"))
            except TimeoutError:
                raise httpx.PoolTimeout("timed out waiting for a connection", request=request) from None
        connection: _Connection | None = None
        try:
            connection = self._reusable(key) or await self._connect(key, request, timeouts)
            await connection.send(data, request, timeouts)
        except BaseException:
            if connection is not None:
                connection.close()
            self._slots.release()
            raise
        return connection

    def _reusable(self, key: _Key) -> _Connection | None:
        stack = self._idle.get(key)
        now = time.monotonic()
        while stack:
            connection = stack.pop()
            self._idle_count -= 1
            if connection.reusable(now, self._expiry):
                return connection
            connection.close()
        return None

    async def _connect(self, key: _Key, request: httpx.Request | None,
                       timeouts: dict[str, float | None]) -> _Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        context = self._ssl_context() if scheme == "https" else None
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop, key), host, port, ssl=context,
                    server_hostname=host if context is not None else None)
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out connecting", request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from None
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection.release() and self._idle_count < self._max_keepalive:
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.key, []).append(connection)
            self._idle_count += 1
        else:
            connection.close()
        self._slots.release()

    async def aclose(self) -> None:
        stacks, self._idle, self._idle_count = self._idle, {}, 0
        for stack in stacks.values():
            for connection in stack:
                connection.close()
        if self._fallback is not None:
            await self._fallback.aclose()


def place_of(url: httpx.URL) -> Place:
    """The request target and the origin of `url` (five URL properties, each a Python call)."""
    scheme = url.scheme
    return url.raw_path, (scheme, url.host, url.port or (443 if scheme == "https" else 80))


def _frame(method: str, raw_path: bytes, headers: list[tuple[bytes, bytes]], content: bytes,
           request: httpx.Request | None) -> bytes:
    """The request's bytes: request line, headers as httpx prepared them, body. The checks are
    per character, so one pass over all names (values) finds what one per header does, at a
    third of the cost of a regex search per header."""
    names = [name for name, _ in headers]
    values = b"".join([value for _, value in headers])
    if (values.find(b"\r") >= 0 or values.find(b"\n") >= 0 or values.find(b"\0") >= 0  # (not `in`:
            or not all(names) or b"".join(names).translate(None, _NAME_OK)):  # see aigw/fastjson.py)
        raise httpx.LocalProtocolError("Illegal header name or value", request=request)
    lines = [b"%s %s HTTP/1.1\r\n" % (method.encode("ascii"), raw_path)]
    for name, value in headers:
        lines.append(name + b": " + value + b"\r\n")
    lines.append(b"\r\n")
    lines.append(content)
    return b"".join(lines)
