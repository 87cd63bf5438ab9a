"""EventStreamResponse builds its head in one pass: held to what Starlette's `init_headers`
makes of the same headers (every header, its order, a caller's own Content-Type in any case)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import StreamingResponse

from aigw.http.streaming import EventStreamResponse


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
