"""The Anthropic front door's translation: its request into the canonical body, and the
canonical answer back into Anthropic's message and stream events."""

from __future__ import annotations

import json
from typing import Any

from aigw.errors import UpstreamError
from aigw.pricing import Usage
from aigw.translate.anthropic_client import AnthropicCodec, anthropic_message, openai_body


def test_request_to_canonical_body() -> None:
    data: dict[str, Any] = {
        "model": "m", "max_tokens": 100, "system": "be brief", "stop_sequences": ["X"], "temperature": 0.1,
        "metadata": {"user_id": "u"}, "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
        "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}},
                  {"type": "web_search_20250305", "name": "web_search"}],
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "..", "signature": "s"},
                                              {"type": "text", "text": "ok"},
                                              {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"},
                                         {"type": "text", "text": "thanks"},
                                         {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                      "data": "AAA"}}]},
        ],
    }
    body = openai_body(data)
    assert body["messages"][0] == {"role": "system", "content": "be brief"}
    assert body["messages"][2]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"a": 1}'}
    assert body["messages"][2]["content"] == "ok"
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "t1", "content": "42"}
    assert body["messages"][4]["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}
    assert [t["function"]["name"] for t in body["tools"]] == ["f"]  # server tools stay Anthropic-only
    assert body["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert body["parallel_tool_calls"] is False
    assert (body["max_tokens"], body["stop"], body["user"]) == (100, ["X"], "u")


def _events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in raw.decode().strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_codec_stream_text_then_tool_use() -> None:
    codec = AnthropicCodec("my-model", lambda: 11)
    raw = b"".join([
        codec.chunk(chunk({"role": "assistant", "content": ""})),
        codec.chunk(chunk({"content": "Hel"})), codec.chunk(chunk({"content": "lo"})),
        codec.chunk(chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}]})),
        codec.chunk(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]})),
        codec.chunk(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]})),
        codec.chunk(chunk({}, "tool_calls")),
        codec.end(None, lambda: Usage(input_tokens=20, output_tokens=5, cache_read_tokens=4, cache_write_tokens=6)),
    ])
    events = _events(raw)
    kinds = [k for k, _ in events]
    assert kinds == ["message_start", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop", "message_delta", "message_stop"]
    assert events[0][1]["message"]["usage"] == {"input_tokens": 11, "output_tokens": 0}
    assert events[0][1]["message"]["model"] == "my-model"
    assert events[5][1]["content_block"] == {"type": "tool_use", "id": "c1", "name": "f", "input": {}}
    assert events[6][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"a":'}
    assert events[9][1]["delta"]["stop_reason"] == "tool_use"
    assert events[9][1]["usage"] == {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 4,
                                     "cache_creation_input_tokens": 6}


def test_codec_error_and_empty_stream() -> None:
    codec = AnthropicCodec("m", lambda: 1)
    assert _events(codec.error(UpstreamError("boom", status=502))) == [
        ("error", {"type": "error", "error": {"type": "api_error", "message": "boom"}})]
    kinds = [k for k, _ in _events(AnthropicCodec("m", lambda: 1).end(None, Usage))]
    assert kinds == ["message_start", "message_delta", "message_stop"]


def test_complete_body_to_message() -> None:
    body = {"id": "chatcmpl-abc", "choices": [{"index": 0, "finish_reason": "length", "message": {
        "role": "assistant", "content": "cut", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 2}'}}]}}]}
    message = anthropic_message(body, Usage(input_tokens=9, output_tokens=3, cache_read_tokens=4), "m")
    assert message["id"] == "msg_abc" and message["stop_reason"] == "max_tokens"
    assert message["content"] == [{"type": "text", "text": "cut"},
                                  {"type": "tool_use", "id": "c1", "name": "f", "input": {"x": 2}}]
    assert message["usage"] == {"input_tokens": 5, "output_tokens": 3, "cache_read_input_tokens": 4,
                                "cache_creation_input_tokens": 0}
