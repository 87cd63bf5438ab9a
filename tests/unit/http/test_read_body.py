"""`read_body` reads `receive` directly; the definition it must match is Starlette's
`request.stream()` joined, under the size limit: the same body, or the same error, and the
request left in the same state (stream consumed, disconnect seen), for any sequence of
messages a server can send."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import ClientDisconnect, Request

from aigw.errors import PayloadTooLarge
from aigw.http.common import ClientClosed, read_body

Message = dict[str, Any]


def _request(messages: list[Message]) -> Request:
    pending = list(messages)

    async def receive() -> Message:
        if not pending:
            await asyncio.sleep(3600)  # a client that sends nothing more
        return pending.pop(0)

    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)


async def _definition(request: Request, limit: int) -> bytes:
    """What read_body did through Starlette's stream."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge("too large")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientClosed("closed") from None
    return b"".join(chunks)


async def _observe(reader: Any, messages: list[Message], limit: int) -> tuple[Any, ...]:
    request = _request(messages)
    try:
        async with asyncio.timeout(0.05):
            outcome: Any = await reader(request, limit)
    except TimeoutError:
        outcome = "timeout"
    except Exception as exc:
        outcome = type(exc).__name__
    return outcome, request._stream_consumed, request._is_disconnected


messages = st.lists(st.one_of(
    st.builds(lambda body, more: {"type": "http.request", "body": body, "more_body": more},
              st.binary(max_size=12), st.booleans()),
    st.just({"type": "http.request"}),  # no body key, no more_body: the end
    st.just({"type": "http.disconnect"})), max_size=6)


@settings(max_examples=300, deadline=None)
@given(messages=messages, limit=st.integers(0, 40))
def test_read_body_reads_what_starlette_s_stream_reads(messages: list[Message], limit: int) -> None:
    async def both() -> tuple[Any, Any]:
        ours = await _observe(lambda r, n: read_body(r, n), messages, limit)
        return ours, await _observe(_definition, messages, limit)

    ours, theirs = asyncio.run(both())
    assert ours == theirs


def test_a_body_read_before_is_read_again() -> None:
    async def run() -> tuple[bytes, bytes]:
        request = _request([{"type": "http.request", "body": b"{}", "more_body": False}])
        first = await request.body()
        return first, await read_body(request, 10)

    assert asyncio.run(run()) == (b"{}", b"{}")
    with pytest.raises(PayloadTooLarge):
        async def too_large() -> bytes:
            request = _request([{"type": "http.request", "body": b"{}" * 8, "more_body": False}])
            await request.body()
            return await read_body(request, 10)

        asyncio.run(too_large())


# ---- under the gateway's own server: a timer only while the body is still coming --------------

def _serve(monkeypatch: pytest.MonkeyPatch, chunks: list[bytes], timeout_s: float,
           pause_s: float = 0.1) -> tuple[list[bytes], int]:
    """The body read by an app under the gateway's protocol: the client's bytes arrive in
    `chunks`, the loop running a while after each; what the client got, and the timers made."""
    from aigw.http.common import BodyTimeout
    from aigw.http.server import GatewayHttpProtocol
    from tests.unit.http.server_harness import Transport, config_for

    timers: list[float | None] = []
    real_timeout = asyncio.timeout

    def counting(delay: float | None) -> Any:
        timers.append(delay)
        return real_timeout(delay)

    monkeypatch.setattr(asyncio, "timeout", counting)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            body = await read_body(Request(scope, receive, send), 1000, timeout_s)
            status, text = 200, str(len(body)).encode()
        except BodyTimeout:
            status, text = 408, b"late"
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(text)).encode())]})
        await send({"type": "http.response.body", "body": text})

    async def run() -> list[bytes]:
        from uvicorn.server import ServerState

        loop = asyncio.get_running_loop()
        protocol = GatewayHttpProtocol(config=config_for(app), server_state=ServerState(), app_state={}, _loop=loop)
        transport = Transport(loop)
        transport.protocol = protocol
        protocol.connection_made(transport)
        for chunk in chunks:
            protocol.data_received(chunk)
            await asyncio.sleep(pause_s)
        return transport.writes

    return asyncio.run(run()), len(timers)


HEAD = b"POST /x HTTP/1.1\r\nhost: h\r\ncontent-length: 5\r\n\r\n"


def test_a_body_the_server_holds_whole_is_read_without_a_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    writes, timers = _serve(monkeypatch, [HEAD + b"hello"], 0.05)
    assert writes[0].startswith(b"HTTP/1.1 200 ") and writes[0].endswith(b"\r\n\r\n5")
    assert timers == 0


def test_a_body_still_coming_is_read_under_the_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rest of the body on its way: the read is timed. It gets the body if it comes in
    time, and answers 408 if it stops coming."""
    writes, timers = _serve(monkeypatch, [HEAD, b"hello"], 1.0, pause_s=0.05)
    assert writes[0].startswith(b"HTTP/1.1 200 ") and writes[0].endswith(b"\r\n\r\n5") and timers == 1
    writes, timers = _serve(monkeypatch, [HEAD + b"he"], 0.05)
    assert writes[0].startswith(b"HTTP/1.1 408 ") and timers == 1
