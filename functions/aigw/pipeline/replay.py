"""Turn a complete `chat.completion` into the chunks a stream of it would have had.

Used to answer a streaming request from a complete result (a cache hit): the client gets a
well-formed stream either way.
"""

from __future__ import annotations

from typing import Any

from aigw.providers.base import ChatChunk


def completion_to_chunks(body: dict[str, Any]) -> list[ChatChunk]:
    base = {"id": body.get("id", "chatcmpl-replay"), "object": "chat.completion.chunk",
            "created": body.get("created", 0), "model": body.get("model", "")}
    if body.get("system_fingerprint"):
        base["system_fingerprint"] = body["system_fingerprint"]

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
        return {**base, "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    chunks: list[ChatChunk] = []
    for choice in body.get("choices") or []:
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        chunks.append(chunk(index, {"role": message.get("role", "assistant"), "content": ""}))
        if message.get("content"):
            chunks.append(chunk(index, {"content": message["content"]}))
        for position, call in enumerate(message.get("tool_calls") or []):
            chunks.append(chunk(index, {"tool_calls": [{"index": position, **call}]}))
        chunks.append(chunk(index, {}, choice.get("finish_reason") or "stop"))
    return chunks
