"""A bug inside the gateway mid-stream still ends the client's stream cleanly and settles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from aigw.providers.base import ChatCall, ChatResult, StreamEvent
from aigw.providers.mock import MockProvider


class FailsMidStream(MockProvider):
    async def complete(self, call: ChatCall) -> ChatResult:
        raise AssertionError("not used")

    async def stream(self, call: ChatCall) -> AsyncIterator[StreamEvent]:
        count = 0
        async for event in super().stream(call):
            yield event
            count += 1
            if count == 3:
                raise RuntimeError("a bug in an adapter")


def test_an_unexpected_exception_mid_stream_ends_with_an_error_event(make_gateway: Any) -> None:
    gw = make_gateway({"models": [{"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]}]},
                      providers={"mock": FailsMidStream()})
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    received = []
    with pytest.raises(openai.APIError) as failure:
        for chunk in client.chat.completions.create(model="mock-fast", stream=True,
                                                    messages=[{"role": "user", "content": "hello gateway"}]):
            received.append(chunk)
    assert len(received) == 3
    assert "internal error (RuntimeError)" in str(failure.value)
    assert "a bug in an adapter" not in str(failure.value)  # details go to the log only
    record = gw.last_record(1)
    assert record["status"] == 500 and record["disconnected"] is False
    assert record["output_tokens"] > 0  # what was generated is still counted
    assert "a bug in an adapter" in gw.log.getvalue()
