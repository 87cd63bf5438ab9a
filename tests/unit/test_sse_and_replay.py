from __future__ import annotations

from collections.abc import AsyncIterator

from aigw.pipeline.replay import completion_to_chunks
from aigw.providers.sse import SSEEvent, iter_sse


async def lines(items: list[str]) -> AsyncIterator[str]:
    for item in items:
        yield item


async def test_sse_parsing_follows_the_spec() -> None:
    raw = [": comment", "event: message_start", "data: {\"a\":", "data: 1}", "", "data:[DONE]", "", "data: tail"]
    events = [e async for e in iter_sse(lines(raw))]
    assert events == [SSEEvent("message_start", '{"a":\n1}'), SSEEvent(None, "[DONE]"), SSEEvent(None, "tail")]


def test_replay_turns_a_completion_into_a_stream() -> None:
    body = {"id": "c1", "created": 5, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi there"}, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
         "finish_reason": "tool_calls"}]}
    chunks = completion_to_chunks(body)
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "c1" for c in chunks)
    first = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == 0]
    assert "".join(ch["delta"].get("content") or "" for ch in first) == "hi there"
    assert first[-1]["finish_reason"] == "stop"
    second = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == 1]
    assert second[1]["delta"]["tool_calls"][0]["function"]["name"] == "f"
    assert second[-1]["finish_reason"] == "tool_calls"


def test_upstream_json_is_made_safe_to_render() -> None:
    import json

    from aigw.providers.sse import loads

    value = loads('{"a": NaN, "b": [Infinity, -Infinity], "t": "x\\ud800y", "e": "\\ud83d\\ude00"}')
    assert value == {"a": "NaN", "b": ["Infinity", "-Infinity"], "t": "x\ufffdy", "e": "\U0001F600"}
    json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")  # no ValueError, no UnicodeEncodeError
    assert loads(b'{"t": "\\udfff"}') == {"t": "\ufffd"}
