"""OpenAI -> Anthropic request translation, and Anthropic responses and streams -> OpenAI."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from aigw.errors import InvalidRequest, UpstreamError
from aigw.pricing import Usage
from aigw.providers.anthropic import AnthropicStreamState, anthropic_error, anthropic_request, openai_completion


def test_request_shape() -> None:
    body: dict[str, Any] = {
        "model": "claude", "temperature": 0.3, "stop": "END", "user": "u1", "parallel_tool_calls": False,
        "messages": [
            {"role": "system", "content": "sys one"},
            {"role": "developer", "content": [{"type": "text", "text": "sys two"}]},
            {"role": "user", "content": "hello"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAA"}},
                                         {"type": "image_url", "image_url": "https://x/y.png"}]},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "required",
    }
    out = anthropic_request(body, "claude-x", 1024)
    assert out["system"] == [{"type": "text", "text": "sys one"}, {"type": "text", "text": "sys two"}]
    assert out["max_tokens"] == 1024 and out["model"] == "claude-x"
    assert out["stop_sequences"] == ["END"] and out["temperature"] == 0.3
    assert out["metadata"] == {"user_id": "u1"}
    user = out["messages"][0]
    assert user["role"] == "user" and len(user["content"]) == 3  # two user turns merged
    assert user["content"][1] == {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                                              "data": "AAA"}}
    assert user["content"][2]["source"] == {"type": "url", "url": "https://x/y.png"}
    assert out["messages"][1]["content"] == [{"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}}]
    assert out["messages"][2]["content"] == [{"type": "tool_result", "tool_use_id": "c1", "content": "42"}]
    assert out["tools"] == [{"name": "f", "description": "", "input_schema": {"type": "object"}}]
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert body["messages"][2] == {"role": "user", "content": "hello"}  # the input is never mutated


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "x"}], "temperature": 1.5},
    {"messages": [{"role": "user", "content": "x"}], "n": 2},
    {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
])
def test_unsupported_input_is_a_400(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        anthropic_request(body, "m", 10)


def test_response_with_thinking_and_tool_use() -> None:
    result = openai_completion({"id": "msg_1", "type": "message", "model": "claude", "stop_reason": "tool_use",
                                "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                                            {"type": "text", "text": "calling"},
                                            {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}],
                                "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 3}})
    choice = result.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "calling" and choice["message"]["reasoning_content"] == "hmm"
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"a": 1}
    assert result.usage == Usage(input_tokens=13, output_tokens=5, cache_read_tokens=3)
    assert result.body["usage"]["prompt_tokens"] == 13


def test_stream_state_machine() -> None:
    state = AnthropicStreamState()
    events = [
        ("message_start", {"message": {"id": "msg_1", "model": "c", "usage": {"input_tokens": 7, "output_tokens": 1,
                                                                             "cache_read_input_tokens": 2}}}),
        ("ping", {}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ("content_block_stop", {"index": 0}),
        ("content_block_start", {"index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "f"}}),
        ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a"'}}),
        ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": ": 1}"}}),
        ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 12}}),
        ("message_stop", {}),
    ]
    out = [e for kind, data in events for e in state.event(kind, data)]
    chunks = [e for e in out if isinstance(e, dict)]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["delta"] == {"content": "Hi"}
    assert chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"] == {"name": "f", "arguments": ""}
    args = "".join(c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in chunks[3:5])
    assert args == '{"a": 1}'
    assert chunks[5]["choices"][0]["finish_reason"] == "tool_calls"
    assert out[-1] == Usage(input_tokens=9, output_tokens=12, cache_read_tokens=2)
    assert state.finished


def test_stream_error_event_raises() -> None:
    with pytest.raises(UpstreamError):
        AnthropicStreamState().event("error", {"error": {"type": "overloaded_error", "message": "busy"}})


def test_error_mapping() -> None:
    overloaded = anthropic_error(529, {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
                                 httpx.Headers())
    assert (overloaded.status, overloaded.retryable) == (502, True)
    limited = anthropic_error(429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}},
                              httpx.Headers({"retry-after": "7"}))
    assert (limited.status, limited.retryable, limited.retry_after_s, limited.code) == (429, True, 7.0,
                                                                                         "rate_limit_error")
    bad = anthropic_error(400, None, httpx.Headers())
    assert (bad.status, bad.retryable) == (400, False)


def test_response_format_becomes_a_forced_tool_and_comes_back_as_content() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    out = anthropic_request({"messages": [{"role": "user", "content": "x"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "place", "schema": schema}}}, "m", 10)
    assert out["tools"][0]["input_schema"] == schema
    assert out["tool_choice"] == {"type": "tool", "name": "json_response"}
    result = openai_completion({"type": "message", "stop_reason": "tool_use", "content": [
        {"type": "tool_use", "id": "t", "name": "json_response", "input": {"city": "Paris"}}], "usage": {}})
    choice = result.body["choices"][0]
    assert json.loads(choice["message"]["content"]) == {"city": "Paris"}
    assert choice["finish_reason"] == "stop" and "tool_calls" not in choice["message"]
    state = AnthropicStreamState()
    events = [("message_start", {"message": {"id": "m", "usage": {}}}),
              ("content_block_start", {"index": 0, "content_block": {"type": "tool_use", "id": "t",
                                                                     "name": "json_response"}}),
              ("content_block_delta", {"index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"ci'}}),
              ("content_block_delta", {"index": 0, "delta": {"type": "input_json_delta", "partial_json": 'ty": 1}'}}),
              ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 3}})]
    chunks = [e for kind, data in events for e in state.event(kind, data) if isinstance(e, dict)]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == '{"city": 1}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
