"""How the client's API frames an answer: the seam between the pipeline and a front door.

The pipeline and its stages work in one canonical shape (OpenAI Chat Completions); a
`ClientCodec` renders it in the client's own API at the last moment: stream chunks, the
end of a stream (with usage), a mid-stream error, and a complete response body. One codec
per request, so it may hold stream state (e.g. Anthropic's open content block).

    OpenAICodec       /v1/chat/completions (the default)
    AnthropicCodec    /v1/messages (aigw.translate.anthropic_client)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from aigw.errors import GatewayError
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatChunk

DONE = b"data: [DONE]\n\n"


def sse(payload: dict[str, Any], event: str | None = None) -> bytes:
    data = b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"
    return b"event: " + event.encode() + b"\n" + data if event else data


class ClientCodec(Protocol):
    def chunk(self, chunk: ChatChunk) -> bytes:
        """One canonical chunk, framed for the client (may be empty)."""
        ...

    def end(self, last: ChatChunk | None, usage: Callable[[], Usage]) -> bytes:
        """The end of a stream that completed; `usage()` gives the final (or estimated) usage."""
        ...

    def error(self, exc: GatewayError) -> bytes:
        """A failure after the stream started."""
        ...

    def body(self, body: dict[str, Any], usage: Usage | None) -> dict[str, Any]:
        """A complete `chat.completion`, rendered for the client."""
        ...


class OpenAICodec:
    def __init__(self, include_usage: bool) -> None:
        self.include_usage = include_usage

    def chunk(self, chunk: ChatChunk) -> bytes:
        return sse(chunk)

    def end(self, last: ChatChunk | None, usage: Callable[[], Usage]) -> bytes:
        if not self.include_usage:
            return DONE
        return sse(usage_chunk(last, usage())) + DONE

    def error(self, exc: GatewayError) -> bytes:
        return sse(exc.openai_body())

    def body(self, body: dict[str, Any], usage: Usage | None) -> dict[str, Any]:
        return body


def usage_chunk(last: ChatChunk | None, usage: Usage) -> ChatChunk:
    base = last or {}
    chunk: ChatChunk = {"id": base.get("id", ""), "object": "chat.completion.chunk",
                        "created": base.get("created", 0), "model": base.get("model", ""), "choices": [],
                        "usage": usage.to_openai()}
    if base.get("system_fingerprint"):
        chunk["system_fingerprint"] = base["system_fingerprint"]
    return chunk
