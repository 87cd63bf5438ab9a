"""The HTTP/1.1 protocol the gateway serves with under uvicorn's server, which keeps the
sockets, lifespan, signals, graceful shutdown and the Date header.

It answers exactly as uvicorn's own httptools protocol does: the same parser (llhttp), the
same scope, the same bytes on the wire, keep-alive, pipelining, `Expect: 100-continue`,
flow control, disconnects, and the same 400, 500 and 503 answers
(`tests/unit/http/test_server_equivalence.py` holds the two byte for byte over generated
traffic).

It differs in what one request costs. Per request, uvicorn's protocol builds an
`asyncio.Event` and arms and cancels a keep-alive timer. It runs two regexes per response
header. A done callback then takes one more turn of the event loop, with its `epoll_wait`.
Here a request is one small object, and its body waits on a future only when it has not
arrived. One timer per connection checks idleness. The header checks are one
`bytes.translate` pass over all names and one over all values (exchange.py); uvicorn's patterns
are single-character classes, so this finds what its per-header searches find. The task leaves
the server's set when it ends, with no callback.

A trivial app took 132 us of CPU per request under uvicorn's protocol and 104 under this
one. The gateway's core path runs 1,005k instructions per JSON request under uvicorn's and
959k under this one (docs/DESIGN.md §8).

A response's head is held until its first body bytes and goes out with them. uvicorn writes
them apart, and over TCP each write is a `send` and a wake-up of the client. A sized
response's head waits for its body, which an ASGI app must send, and the head alone is of no
use to a client. Starlette sends a JSON body in the same turn as its head. A stream's head
waits at most until the end of the loop turn, so a late first frame does not hold it.

    uvicorn --http aigw.http.server:GatewayHttpProtocol ...   (functions/gateway/run.sh)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import urllib.parse
from collections import deque
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT, FlowControl, service_unavailable
from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.protocols.utils import get_local_addr, get_remote_addr, is_ssl
from uvicorn.server import ServerState

from aigw.http.exchange import Exchange

# What `--http` takes: the protocol as an import string (run.sh spells it out; tests/unit/http/
# test_server.py checks that the two agree).
PROTOCOL = "aigw.http.server:GatewayHttpProtocol"

# How long an idle kept-alive connection stays open (uvicorn's `timeout_keep_alive`; run.sh's
# `--timeout-keep-alive`, checked by test_server.py). It must outlast the clients' own pool
# expiry: a server that closes an idle connection first races the client reusing it, and the
# request written in that moment fails with "Server disconnected without sending a response".
# uvicorn's 5 s equals httpx's (and so the OpenAI and Anthropic SDKs') 5 s pool expiry, and the
# race lost requests in this repository's tests whenever a loaded loop let the two drift apart.
# 75 s, nginx's default, outlasts httpx, aiohttp (15 s), Node (5 s) and the gateway's own pool
# (60 s, services.py).
KEEP_ALIVE_S = 75

_INVALID = "Invalid HTTP request received."


class GatewayHttpProtocol(asyncio.Protocol):
    """One client connection: parses requests, runs the app once per request, in order."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        if not config.loaded:
            config.load()
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.logger = logging.getLogger("uvicorn.error")
        self.access_logger = logging.getLogger("uvicorn.access")
        self.access_log = self.access_logger.hasHandlers()
        self.parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # httptools < 0.6.3 has no leniencies
            # answer the first of pipelined requests even when the client closes after sending them
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.root_path = config.root_path
        self.raw_root_path = config.root_path.encode("ascii")
        self.asgi_version = config.asgi_version
        self.limit_concurrency = config.limit_concurrency
        self.reset_contextvars = getattr(config, "reset_contextvars", False)
        self.keep_alive_s = config.timeout_keep_alive
        self.app_state = app_state
        self.server_state = server_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.flow: FlowControl = None  # type: ignore[assignment]
        self.server: tuple[str, int | None] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme = "http"
        self.pipeline: deque[tuple[Exchange, Any]] = deque()
        self.cycle: Exchange | None = None
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.expect_continue = False
        self.idle_since: float | None = None  # when the last response ended, while nothing new came
        self.idle_timer: asyncio.TimerHandle | None = None

    # ---- the connection ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connections.add(self)  # type: ignore[arg-type]
        self.transport = transport  # type: ignore[assignment]
        self.flow = FlowControl(self.transport)
        self.server = get_local_addr(self.transport)
        self.client = get_remote_addr(self.transport)
        self.scheme = "https" if is_ssl(self.transport) else "http"

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        cycle = self.cycle
        if cycle is not None:
            if not cycle.complete:
                cycle.disconnected = True
                if cycle.on_disconnect is not None:
                    cycle.on_disconnect()
            cycle.wake()
        if self.flow is not None:
            self.flow.resume_writing()
        if exc is None:
            self.transport.close()
        self._stop_idle_timer()
        # The connection's objects refer to each other (the parser and each exchange to this
        # protocol, this protocol to them); dropping this side leaves the collector nothing to
        # find when the connection goes (tests/unit/http/test_server.py).
        self.parser = None  # type: ignore[assignment]
        self.cycle = None
        self.pipeline.clear()

    def eof_received(self) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        self.idle_since = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.logger.warning(_INVALID)
            self._send_400(_INVALID)
        except httptools.HttpParserUpgrade:
            self.logger.warning("Unsupported upgrade request.")

    def shutdown(self) -> None:
        """The server is stopping: close now if idle, else after the response in flight."""
        cycle = self.cycle
        if cycle is None or cycle.complete:
            self.transport.close()
        else:
            cycle.keep_alive = False

    def pause_writing(self) -> None:
        self.flow.pause_writing()

    def resume_writing(self) -> None:
        self.flow.resume_writing()

    # ---- parser callbacks ------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.expect_continue = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        version = parser.get_http_version()
        url = httptools.parse_url(self.url)
        raw_path = url.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        scope = {
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": version,
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "root_path": self.root_path,
            "headers": self.headers,
            "state": self.app_state.copy(),
            "method": parser.get_method().decode("ascii"),
            "path": self.root_path + path,
            "raw_path": self.raw_root_path + raw_path,
            "query_string": url.query or b"",
        }
        app = self.app
        limit = self.limit_concurrency
        if limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit):
            app = service_unavailable
            self.logger.warning("Exceeded concurrency limit.")
        previous = self.cycle
        self.cycle = cycle = Exchange(self, scope, version != "1.0" and parser.should_keep_alive(),
                                       self.expect_continue)
        if previous is None or previous.complete:
            self._start(cycle, app)
        else:  # pipelined: runs when the one before it has answered
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, app))

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if cycle is None or cycle.complete:
            return
        cycle.body.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if cycle is None or cycle.complete:
            return
        cycle.more_body = False
        cycle.wake()

    # ---- between requests ------------------------------------------------------------------
    def _start(self, cycle: Exchange, app: Any) -> None:
        if self.reset_contextvars:  # uvicorn's opt-in: each request in a fresh context
            task = self.loop.create_task(cycle.run(app), context=contextvars.Context())
        else:
            task = self.loop.create_task(cycle.run(app))
        cycle.task = task
        self.tasks.add(task)  # the server waits for these on shutdown; `run` takes its own out

    def response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start(cycle, app)
            return
        self.idle_since = self.loop.time()
        if self.idle_timer is None:
            self.idle_timer = self.loop.call_later(self.keep_alive_s, self._idle_check)

    def _idle_check(self) -> None:
        """Close a connection idle for `timeout_keep_alive`: one timer per connection, moved on
        while requests keep coming, where uvicorn arms and cancels one per request."""
        self.idle_timer = None
        since = self.idle_since
        if since is None or self.transport.is_closing():
            return  # busy: the next response's end arms it again
        left = since + self.keep_alive_s - self.loop.time()
        if left > 0:
            self.idle_timer = self.loop.call_later(left, self._idle_check)
        else:
            self.transport.close()

    def _stop_idle_timer(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None

    def _send_400(self, message: str) -> None:
        content = [STATUS_LINE[400]]
        for name, value in self.server_state.default_headers:
            content.extend((name, b": ", value, b"\r\n"))
        text = message.encode("ascii")
        content.extend((b"content-type: text/plain; charset=utf-8\r\n",
                        b"content-length: " + str(len(text)).encode("ascii") + b"\r\n",
                        b"connection: close\r\n", b"\r\n", text))
        self.transport.write(b"".join(content))
        self.transport.close()
