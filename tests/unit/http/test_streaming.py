"""EventStreamResponse: its head built in one pass, held to what Starlette's `init_headers` makes
of the same headers (every header, its order, a caller's own Content-Type in any case); a
stream's last frame settled before it goes, and sent with the response's end in one write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import StreamingResponse

from aigw.http.server import GatewayHttpProtocol
from aigw.http.streaming import EventStreamResponse
from aigw.pipeline.frames import LastFrame, SettlingStream
from tests.unit.http.server_harness import drive


async def _nothing() -> AsyncIterator[bytes]:
    yield b""


def _starlettes(headers: dict[str, str] | None, status: int) -> list[tuple[bytes, bytes]]:
    """The head Starlette made for this response before (its own `init_headers`)."""
    response: Any = StreamingResponse(_nothing(), status_code=status, media_type="text/event-stream",
                                      headers={"cache-control": "no-cache", "x-accel-buffering": "no",
                                               **(headers or {})})
    return list(response.raw_headers)


names = st.sampled_from(["x-request-id", "Content-Type", "content-type", "Cache-Control", "cache-control",
                         "x-accel-buffering", "X-AIGW-Deployment", "retry-after"])


@settings(max_examples=300, deadline=None)
@given(headers=st.none() | st.dictionaries(names, st.text("abc/;= 0123456789", max_size=12), max_size=5),
       status=st.sampled_from([200, 201, 400, 429, 500]))
def test_the_same_head_as_starlettes(headers: dict[str, str] | None, status: int) -> None:
    response = EventStreamResponse(_nothing(), status_code=status, headers=headers)
    assert response.raw_headers == _starlettes(headers, status)
    assert response.status_code == status and response.background is None


def _stream_app(frames: list[bytes], seen: list[str]) -> Any:
    async def each() -> AsyncIterator[bytes]:
        for frame in frames:
            yield frame

    async def settle() -> None:
        seen.append("settled")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                seen.append(f"sent {message['body']!r} more={message['more_body']}")
            await send(message)

        stream = SettlingStream(SimpleNamespace(), each(), settle)  # type: ignore[arg-type]
        await EventStreamResponse(stream)(scope, receive, sending)

    return app


POST = b"POST /v1/chat/completions HTTP/1.1\r\nhost: h\r\ncontent-length: 2\r\n\r\n{}"


def test_the_last_frame_is_settled_then_sent_with_the_end_in_one_write() -> None:
    seen: list[str] = []
    run = asyncio.run(drive(GatewayHttpProtocol, _stream_app([b"data: 1\n\n", LastFrame(b"data: [DONE]\n\n")], seen),
                            [POST]))
    assert seen == ["sent b'data: 1\\n\\n' more=True", "settled", "sent b'data: [DONE]\\n\\n' more=False"]
    assert run.writes[-1] == b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"  # the frame and the end: one write
    assert run.writes[0].startswith(b"HTTP/1.1 200 OK") and b"data: 1" in run.writes[0]


def test_a_stream_without_a_last_frame_ends_after_its_settlement_as_before() -> None:
    seen: list[str] = []
    run = asyncio.run(drive(GatewayHttpProtocol, _stream_app([b"data: 1\n\n"], seen), [POST]))
    assert seen == ["sent b'data: 1\\n\\n' more=True", "settled", "sent b'' more=False"]
    assert run.writes[-1] == b"0\r\n\r\n"


def test_a_frame_after_the_last_one_is_a_bug_that_still_settles() -> None:
    seen: list[str] = []

    async def frames() -> AsyncIterator[bytes]:
        yield LastFrame(b"data: [DONE]\n\n")
        yield b"data: late\n\n"

    async def settle() -> None:
        seen.append("settled")

    async def run() -> None:
        stream = SettlingStream(SimpleNamespace(), frames(), settle)  # type: ignore[arg-type]
        await anext(stream)

    with pytest.raises(RuntimeError, match="a frame after the last one"):
        asyncio.run(run())
    assert seen == ["settled"]


def test_a_client_leaving_while_the_stream_settles_leaves_the_settlement_whole() -> None:
    """The guard holds the disconnect off (no anyio shield on this, the common, path): the
    settlement's awaits run to their end, and the last frame finds the client gone."""
    seen: list[str] = []

    async def frames() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        yield LastFrame(b"data: [DONE]\n\n")

    async def settle() -> None:
        for _ in range(60):  # the client hangs up some 40 turns in (server_harness.drive)
            await asyncio.sleep(0)
        seen.append("settled")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await EventStreamResponse(SettlingStream(SimpleNamespace(), frames(), settle))(  # type: ignore[arg-type]
            scope, receive, send)
        seen.append("returned")

    run = asyncio.run(drive(GatewayHttpProtocol, app, [POST], turns=[2]))
    assert seen == ["settled", "returned"]
    assert not any(b"[DONE]" in write for write in run.writes)  # the client had gone by then
