"""Canonical chunks as providers yield them, and the real openai SDK reading our bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import openai
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from aigw.pricing.cost import Usage
from aigw.responses.codec import ResponsesCodec
from aigw.responses.render import echo
from aigw.responses.request import parse_request

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "up",
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}


def text(piece: str) -> dict[str, Any]:
    return chunk({"content": piece})


def call(index: int, *, id: str | None = None, name: str | None = None, arguments: str = "") -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    if name is not None:
        function["name"] = name
    delta: dict[str, Any] = {"index": index, "function": function}
    if id is not None:
        delta.update(id=id, type="function")
    return chunk({"tool_calls": [delta]})


def codec_for(data: dict[str, Any] | None = None, response_id: str = "resp_test") -> ResponsesCodec:
    request = parse_request(data or {"model": "m", "input": "hi", "stream": True})
    return ResponsesCodec(response_id=response_id, created_at=1_700_000_000, model=request.model, echo=echo(request))


def encode(codec: ResponsesCodec, chunks: list[dict[str, Any]], usage: Usage | None = None,
           error: Exception | None = None) -> bytes:
    out = b"".join(codec.chunk(c) for c in chunks)
    if error is not None:
        return out + codec.error(error)  # type: ignore[arg-type]
    return out + codec.end(chunks[-1] if chunks else None, lambda: usage or Usage(7, 3))


def events_of(stream: bytes) -> list[dict[str, Any]]:
    """Parse SSE frames; every event must validate as one of the SDK's typed stream events,
    and its `event:` line must name its type."""
    events = []
    for frame in stream.decode().split("\n\n"):
        if not frame:
            continue
        name, data = frame.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert name == "event: " + event["type"]
        EVENTS.validate_python(event)
        events.append(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


def sdk(stream_or_body: bytes | dict[str, Any] | Callable[[httpx2.Request], httpx2.Response]) -> openai.OpenAI:
    """An OpenAI client whose every call is answered with these bytes (SSE) or this JSON body."""
    def handler(request: httpx2.Request) -> httpx2.Response:
        if callable(stream_or_body):
            return stream_or_body(request)
        if isinstance(stream_or_body, dict):
            return httpx2.Response(200, json=stream_or_body)
        return httpx2.Response(200, content=stream_or_body, headers={"content-type": "text/event-stream"})

    return openai.OpenAI(api_key="sk-test", base_url="http://gateway.test/v1", max_retries=0,
                         http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))


def validated(body: dict[str, Any]) -> Response:
    """The body validated (not just constructed) as the SDK's `Response` model."""
    return Response.model_validate(body)
