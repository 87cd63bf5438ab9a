"""The gateway's HTTP server protocol: a response head leaves with its first body bytes, and
nothing else changes (interim 100 answers, HEAD, empty bodies, keep-alive, streams, closing)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aigw.http.server import _CONTINUE, KEEP_ALIVE_S, PROTOCOL, GatewayHttpProtocol, HeadWithBodyTransport
from aigw.local.environment import serve_in_thread

ROOT = Path(__file__).resolve().parents[3]
HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Recording:
    """The real transport's side: what was written, in calls."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.eof = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def write_eof(self) -> None:
        self.eof = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


class Loop:
    """The loop's side: callbacks scheduled for the end of the turn, run by `turn()`."""

    def __init__(self) -> None:
        self.soon: list[Any] = []

    def call_soon(self, callback: Any) -> None:
        self.soon.append(callback)

    def turn(self) -> None:
        soon, self.soon = self.soon, []
        for callback in soon:
            callback()


LOOP = Loop()


def wrapped() -> tuple[HeadWithBodyTransport, Recording]:
    real = Recording()
    LOOP.soon.clear()
    return HeadWithBodyTransport(real, LOOP), real  # type: ignore[arg-type]


def test_the_head_waits_for_the_body_and_both_go_in_one_write() -> None:
    transport, real = wrapped()
    transport.write(HEAD)
    assert real.writes == []
    transport.write(b"ok")
    assert real.writes == [HEAD + b"ok"]
    transport.write(b"more")  # later writes are passed straight on
    assert real.writes[-1] == b"more"
    LOOP.turn()  # the turn's end finds nothing held
    assert real.writes == [HEAD + b"ok", b"more"]


def test_a_head_with_nothing_after_it_in_its_turn_leaves_at_the_turn_end() -> None:
    """uvicorn answers HEAD with no body write at all, and a stream's first frame may come
    turns later: the head must not wait for it."""
    transport, real = wrapped()
    transport.write(HEAD)
    LOOP.turn()
    assert real.writes == [HEAD]
    transport.write(b"data: 1\n\n")
    assert real.writes == [HEAD, b"data: 1\n\n"]


def test_an_interim_100_continue_is_never_held() -> None:
    transport, real = wrapped()
    transport.write(_CONTINUE)
    assert real.writes == [_CONTINUE]


@pytest.mark.parametrize("end", ["close", "write_eof"])
def test_closing_sends_a_held_head_first(end: str) -> None:
    transport, real = wrapped()
    transport.write(HEAD)
    getattr(transport, end)()
    assert real.writes == [HEAD]
    assert real.closed or real.eof


def test_an_empty_body_write_releases_the_head() -> None:
    transport, real = wrapped()
    transport.write(HEAD)
    transport.write(b"")
    assert real.writes == [HEAD]
    assert transport.get_write_buffer_size() == 0


def test_everything_else_is_the_real_transport() -> None:
    transport, _ = wrapped()
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)
    transport.write(HEAD)
    assert transport.get_write_buffer_size() == len(HEAD)
    assert not transport.is_closing()


# ---- end to end, under uvicorn ----------------------------------------------------------------

WRITES: list[int] = []  # real-transport writes per connection, in order of connections


class Counting(GatewayHttpProtocol):
    """The gateway's protocol over a transport that counts the writes reaching the socket."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        index = len(WRITES)
        WRITES.append(0)
        real_write = transport.write  # type: ignore[attr-defined]

        def write(data: bytes) -> None:
            WRITES[index] += 1
            real_write(data)

        transport.write = write  # type: ignore[attr-defined]
        super().connection_made(transport)


async def json_answer(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"echo": body.decode(), "method": request.method})


async def stream_answer(_: Request) -> Response:
    async def frames() -> Any:
        for n in range(3):
            yield f"data: {n}\n\n".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(frames(), media_type="text/event-stream")


async def no_content(_: Request) -> Response:
    return Response(status_code=204)


APP = Starlette(routes=[Route("/json", json_answer, methods=["GET", "POST", "HEAD"]),
                        Route("/stream", stream_answer), Route("/empty", no_content)])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    handle = serve_in_thread(APP, http=Counting)
    yield handle.url
    handle.stop()


def test_a_json_answer_is_one_write_on_the_socket(server: str) -> None:
    WRITES.clear()
    with httpx.Client() as client:
        for n in range(5):  # keep-alive: five answers on one connection
            answer = client.post(server + "/json", content=f"hello {n}")
            assert answer.status_code == 200 and answer.json() == {"echo": f"hello {n}", "method": "POST"}
    assert WRITES == [5]


def test_a_stream_sends_its_head_with_the_first_frame(server: str) -> None:
    WRITES.clear()
    with httpx.Client() as client, client.stream("GET", server + "/stream") as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert b"".join(answer.iter_raw()) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert WRITES == [4]  # head + frame 0, frames 1 and 2, the chunked end (uvicorn: 5)


@pytest.mark.parametrize(("method", "path", "status"), [("HEAD", "/json", 200), ("GET", "/empty", 204)])
def test_answers_without_a_body_are_complete(server: str, method: str, path: str, status: int) -> None:
    with httpx.Client() as client:
        for _ in range(2):  # and the connection stays usable
            answer = client.request(method, server + path)
            assert answer.status_code == status and answer.content == b""
        assert client.post(server + "/json", content="after").json()["echo"] == "after"


def test_expect_100_continue_gets_its_interim_answer_before_the_body_is_sent(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /json HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n")
        interim = sock.recv(1024)
        assert interim == _CONTINUE  # the client may wait for exactly this before sending its body
        sock.sendall(b"hello")
        answer = b""
        deadline = time.monotonic() + 5
        while b'"method":"POST"' not in answer and time.monotonic() < deadline:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200 OK") and b'"echo":"hello"' in answer


def test_pipelined_requests_are_answered_in_order(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"".join(f"POST /json HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\n{n}".encode()
                              for n in range(3)))
        answer = b""
        deadline = time.monotonic() + 5
        while (answer.count(b"HTTP/1.1 200 OK") < 3 or not answer.endswith(b"}")) and time.monotonic() < deadline:
            answer += sock.recv(4096)
        assert [answer.index(f'"echo":"{n}"'.encode()) for n in range(3)] == sorted(
            answer.index(f'"echo":"{n}"'.encode()) for n in range(3))


def test_the_lambda_entry_serves_with_this_protocol() -> None:
    run = (ROOT / "functions" / "gateway" / "run.sh").read_text()
    assert f"--http {PROTOCOL}" in run
    assert "--no-proxy-headers" in run  # as bench/gateway_server.py runs it
    assert f"--timeout-keep-alive {KEEP_ALIVE_S} " in run


def test_an_idle_connection_outlasts_the_clients_pools() -> None:
    """The server must not be the first to close an idle connection (server.py KEEP_ALIVE_S):
    not before httpx's pool (the OpenAI and Anthropic SDKs'), nor the gateway's own toward a
    fake upstream served by serve_in_thread."""
    from aigw.services import default_http_client

    httpx_default = httpx.AsyncClient()._transport._pool._keepalive_expiry  # type: ignore[attr-defined]
    gateway_pool = default_http_client()._transport._expiry  # type: ignore[attr-defined]
    assert max(httpx_default, gateway_pool) < KEEP_ALIVE_S
