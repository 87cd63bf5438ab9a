"""Bedrock: Converse request shape, error mapping, event-stream framing of the test fake
(checked against botocore's own parser), and a closed stream stopping its worker thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError

from aigw.config.models import Deployment
from aigw.providers.base import ChatCall
from aigw.providers.bedrock import BedrockProvider, bedrock_error
from aigw.providers.bedrock_converse import BedrockStreamState, converse_request
from tests.fakes.bedrock_upstream import event, exception

DEPLOYMENT = Deployment(provider="bedrock", model="amazon.nova-lite-v1:0", region="eu-west-1")


def call(body: dict[str, Any]) -> ChatCall:
    return ChatCall(body=body, deployment=DEPLOYMENT, credential=None, request_id="r")


def test_converse_request() -> None:
    request = converse_request(call({
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
        "max_completion_tokens": 9, "top_p": 0.5, "tool_choice": {"type": "function", "function": {"name": "f"}},
        "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                                                    "parameters": {"type": "object"}}}],
    }))
    assert request["modelId"] == "amazon.nova-lite-v1:0"
    assert request["system"] == [{"text": "s"}]
    assert request["messages"] == [{"role": "user", "content": [{"text": "u"}]}]
    assert request["inferenceConfig"] == {"maxTokens": 9, "topP": 0.5}
    assert request["toolConfig"]["toolChoice"] == {"tool": {"name": "f"}}
    assert request["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {"json": {"type": "object"}}


def test_frames_parse_with_botocore_byte_for_byte() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}})
                    + exception("throttlingException", "slow down"))
    first, second = list(buffer)
    assert first.headers == {":event-type": "contentBlockDelta", ":content-type": "application/json",
                             ":message-type": "event"}
    assert first.payload == b'{"contentBlockIndex": 0, "delta": {"text": "hi"}}'
    assert second.headers[":exception-type"] == "throttlingException"


@pytest.mark.parametrize(("code", "http", "status", "retryable"), [
    ("ThrottlingException", 429, 429, True), ("ValidationException", 400, 400, False),
    ("ServiceUnavailableException", 503, 502, True), ("modelStreamErrorException", 0, 502, True),
])
def test_error_mapping(code: str, http: int, status: int, retryable: bool) -> None:
    error = ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": http}},
                        "Converse")
    mapped = bedrock_error(error)
    assert (mapped.status, mapped.retryable) == (status, retryable)


def test_stream_state_reports_usage_last() -> None:
    state = BedrockStreamState("m")
    out = [e for ev in ({"messageStart": {"role": "assistant"}}, {"contentBlockDelta": {
        "contentBlockIndex": 0, "delta": {"text": "a"}}}, {"messageStop": {"stopReason": "max_tokens"}},
        {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 1}}}) for e in state.event(ev)]
    assert out[2]["choices"][0]["finish_reason"] == "length"  # type: ignore[index]
    assert state.finished and out[-1].output_tokens == 1  # type: ignore[union-attr]


class BlockingStream:
    """An EventStream stand-in: one event, then blocks like a socket read until closed."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.iteration_ended = threading.Event()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            yield {"messageStart": {"role": "assistant"}}
            self.released.wait(10)
        finally:
            self.iteration_ended.set()

    def close(self) -> None:
        self.released.set()


async def test_closing_the_stream_stops_the_worker_thread() -> None:
    stream = BlockingStream()

    class Client:
        def converse_stream(self, **_: Any) -> dict[str, Any]:
            return {"stream": stream}

    provider = BedrockProvider(client_factory=lambda d: Client())
    events = provider.stream(call({"messages": [{"role": "user", "content": "x"}]}))
    first = await anext(events)
    assert first["choices"][0]["delta"]["role"] == "assistant"  # type: ignore[index]
    await events.aclose()  # the client went away
    assert await asyncio.to_thread(stream.iteration_ended.wait, 2)


def test_cache_control_becomes_a_cache_point() -> None:
    request = converse_request(call({"messages": [
        {"role": "system", "content": [{"type": "text", "text": "long", "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": "u"}]}))
    assert request["system"] == [{"text": "long"}, {"cachePoint": {"type": "default"}}]
