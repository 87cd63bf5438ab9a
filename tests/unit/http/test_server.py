"""The gateway's HTTP server protocol: a response head leaves with its first body bytes (a
stream's by the end of the loop turn at the latest), and nothing else changes (interim 100
answers, HEAD, empty bodies, keep-alive, streams, closing). That it answers as uvicorn's own
protocol does, byte for byte, is test_server_equivalence.py."""

from __future__ import annotations

import asyncio
import inspect
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

from aigw.http.exchange import CONTINUE
from aigw.http.server import KEEP_ALIVE_S, PROTOCOL, GatewayHttpProtocol
from aigw.local.environment import serve_in_thread
from tests.unit.http.server_harness import drive

ROOT = Path(__file__).resolve().parents[3]


def exchange(requests: bytes, app: Any) -> list[bytes]:
    """The transport writes the gateway's protocol makes answering `requests` with `app`, one
    turn of the loop after another until it is done (tests/unit/http/server_harness.py)."""
    return asyncio.run(drive(GatewayHttpProtocol, app, [requests])).writes


async def json_app(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def late_body_app(scope: Any, receive: Any, send: Any) -> None:
    """A stream whose first frame comes turns after its head."""
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(3):
        await asyncio.sleep(0)
    await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def failing_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
    await send({"type": "http.response.body", "body": b"too long"})


GET = b"GET /x HTTP/1.1\r\nhost: h\r\n\r\n"


def test_the_head_waits_for_the_body_and_both_go_in_one_write() -> None:
    writes = exchange(GET + GET, json_app)
    assert len(writes) == 2 and all(w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(b"\r\n\r\nok")
                                    for w in writes)


def test_a_stream_head_leaves_at_the_turn_end_when_its_first_frame_is_late() -> None:
    """A stream's first frame may come turns later (a slow model): its head must not wait,
    so that a client sees the answer start as soon as it does under uvicorn."""
    stream = exchange(GET, late_body_app)
    assert stream[0].endswith(b"transfer-encoding: chunked\r\n\r\n")
    assert stream[1:] == [b"9\r\ndata: 1\n\n\r\n", b"0\r\n\r\n"]


async def late_sized_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    for _ in range(3):
        await asyncio.sleep(0)
    await send({"type": "http.response.body", "body": b"ok"})


def test_a_sized_head_waits_for_its_body_however_late() -> None:
    """The one difference from uvicorn: a head with a Content-Length is of no use to a client
    without its body, which an ASGI app must send. Waiting for it, rather than for the turn's
    end, saves a turn of the loop on every JSON answer. HEAD is answered the same way."""
    assert exchange(GET, late_sized_app) == [exchange(GET, json_app)[0]]
    head = exchange(b"HEAD /x HTTP/1.1\r\nhost: h\r\n\r\n", json_app)
    assert len(head) == 1 and head[0].endswith(b"content-length: 2\r\n\r\n")


def test_an_interim_100_continue_is_never_held() -> None:
    writes = asyncio.run(drive(GatewayHttpProtocol, json_app, [
        b"POST /x HTTP/1.1\r\nhost: h\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n", b"hi"])).writes
    assert writes[0] == CONTINUE and writes[1].endswith(b"ok")


def test_a_failing_response_sends_its_held_head_before_closing() -> None:
    """As uvicorn: its head went out at the start; the body that broke the rule did not."""
    run = asyncio.run(drive(GatewayHttpProtocol, failing_app, [GET]))
    assert run.closed and b"".join(run.writes).endswith(b"content-length: 5\r\n\r\n")


# ---- end to end, under uvicorn ----------------------------------------------------------------

WRITES: list[int] = []  # real-transport writes per connection, in order of connections
PAUSES: list[int] = []  # times the transport told the protocol to stop writing
BUFFERED: list[int] = []  # the transport's write buffer after each write


class Counting(GatewayHttpProtocol):
    """The gateway's protocol over a transport that counts the writes reaching the socket."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        index = len(WRITES)
        WRITES.append(0)
        real_write = transport.write  # type: ignore[attr-defined]

        def write(data: bytes) -> None:
            WRITES[index] += 1
            real_write(data)
            BUFFERED.append(transport.get_write_buffer_size())  # type: ignore[attr-defined]

        transport.write = write  # type: ignore[attr-defined]
        super().connection_made(transport)

    def pause_writing(self) -> None:
        PAUSES.append(1)
        super().pause_writing()


async def json_answer(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"echo": body.decode(), "method": request.method})


async def stream_answer(_: Request) -> Response:
    async def frames() -> Any:
        for n in range(3):
            yield f"data: {n}\n\n".encode()
            await asyncio.sleep(0.01)

    return StreamingResponse(frames(), media_type="text/event-stream")


BIG = [bytes([65 + n % 26]) * 32_768 for n in range(400)]  # 12.8 MB: far past any socket buffer


async def big_stream(_: Request) -> Response:
    async def frames() -> Any:
        for frame in BIG:
            yield frame

    return StreamingResponse(frames(), media_type="application/octet-stream")


async def no_content(_: Request) -> Response:
    return Response(status_code=204)


APP = Starlette(routes=[Route("/json", json_answer, methods=["GET", "POST", "HEAD"]),
                        Route("/stream", stream_answer), Route("/empty", no_content), Route("/big", big_stream)])


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
        assert interim == CONTINUE  # the client may wait for exactly this before sending its body
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
    from aigw.services import UPSTREAM_POOL

    httpx_default = inspect.signature(httpx.AsyncClient).parameters["limits"].default.keepalive_expiry
    assert max(httpx_default, UPSTREAM_POOL.keepalive_expiry) < KEEP_ALIVE_S


def test_a_slow_reader_holds_the_writer_back_and_gets_every_byte(server: str) -> None:
    """The app's writes wait while the client's socket is full (the transport pauses the
    protocol, `send` waits to drain), and nothing is lost or reordered."""
    PAUSES.clear()
    BUFFERED.clear()
    with httpx.Client(timeout=30) as client, client.stream("GET", server + "/big") as answer:
        time.sleep(0.3)  # the server fills the socket buffers meanwhile, and must wait
        received = b"".join(answer.iter_bytes())
    assert received == b"".join(BIG)
    assert PAUSES  # the transport did push back
    assert max(BUFFERED) < 1 << 20  # and the writer waited: at most a frame or so past the high-water mark


def test_a_closed_connection_leaves_nothing_for_the_cyclic_collector() -> None:
    """A connection's protocol, parser and exchanges refer to each other; once it is gone
    nothing of it may wait for the collector (the gateway's loop pauses for every collection:
    tests/functional/test_no_cyclic_garbage.py)."""
    import gc

    handle = serve_in_thread(APP)
    try:
        # A JSON answer and a stream per connection. (A client leaving a Starlette
        # StreamingResponse leaves its anyio task group's exception and frames for the collector,
        # under uvicorn's protocol as under this one: the gateway streams with its own response.)
        for _ in range(20):
            with httpx.Client(base_url=handle.url, timeout=10) as client:
                assert client.post("/json", content=b"x").status_code == 200
                assert client.get("/stream").text.count("data:") == 3
        deadline = time.monotonic() + 10
        while handle._server.server_state.connections and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # the last tasks' ends
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            ours = handle._server.server_state  # other tests' servers may leave their own garbage
            left = sorted({type(o).__name__ for o in gc.garbage if getattr(o, "server_state", None) is ours
                           or getattr(getattr(o, "protocol", None), "server_state", None) is ours})
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert not left, left
    finally:
        handle.stop()
