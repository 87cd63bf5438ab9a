"""How the client's API frames an answer: the seam between the pipeline and a front door.

The pipeline and its stages work in one canonical shape (OpenAI Chat Completions); a
`ClientCodec` renders it in the client's own API at the last moment: stream chunks, the
end of a stream (with usage), a mid-stream error, a complete response, and the error
envelope. Every request has one, made by its front door (so it may hold stream state,
e.g. Anthropic's open content block); the pipeline never picks one itself.

    OpenAICodec       /v1/chat/completions, /v1/embeddings
    AnthropicCodec    /v1/messages (aigw.translate.anthropic_client)
    ResponsesCodec    /v1/responses (aigw.responses.codec)

A provider that spoke the client's own API returns the native answer beside the canonical
one (`ChatResult.native`, `NativeChunk.native`); the codec of that API sends it verbatim, but
for usage the gateway did not believe: the client sees the usage it is billed for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aigw.errors import GatewayError
from aigw.fastjson import dumps
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatChunk, ChatResult

DONE = b"data: [DONE]\n\n"


def sse(payload: dict[str, Any], event: str | None = None) -> bytes:
    data = b"data: " + dumps(payload) + b"\n\n"
    return b"event: " + event.encode() + b"\n" + data if event else data


class ClientCodec(Protocol):
    api: str  # "openai" | "anthropic" | "responses": names the client API in logs and metrics

    def chunk(self, chunk: ChatChunk) -> bytes:
        """One canonical chunk, framed for the client (may be empty)."""
        ...

    def end(self, last: ChatChunk | None, usage: Callable[[], Usage]) -> bytes:
        """The end of a stream that completed; `usage()` gives the final (or estimated) usage."""
        ...

    def error(self, exc: GatewayError) -> bytes:
        """A failure after the stream started."""
        ...

    def body(self, result: ChatResult, usage: Usage | None) -> dict[str, Any]:
        """A complete answer, rendered for the client."""
        ...

    def error_body(self, exc: GatewayError) -> dict[str, Any]:
        """The error envelope of the client's API."""
        ...

    def map_native_texts(self, body: Mapping[str, Any], fn: Callable[[str], str]) -> Mapping[str, Any]:
        """Rewrite every text of a native request body of this API (see RequestContext.rewrite_texts)."""
        ...


class OpenAICodec:
    api = "openai"

    def __init__(self, include_usage: bool = False) -> None:
        self.include_usage = include_usage

    def chunk(self, chunk: ChatChunk) -> bytes:
        return b"data: " + dumps(chunk) + b"\n\n"  # `sse(chunk)`, a call fewer per chunk

    def end(self, last: ChatChunk | None, usage: Callable[[], Usage]) -> bytes:
        if not self.include_usage:
            return DONE
        return sse(usage_chunk(last, usage())) + DONE

    def error(self, exc: GatewayError) -> bytes:
        return sse(exc.openai_body())

    def body(self, result: ChatResult, usage: Usage | None) -> dict[str, Any]:
        return result.body

    def error_body(self, exc: GatewayError) -> dict[str, Any]:
        return exc.openai_body()

    def map_native_texts(self, body: Mapping[str, Any], fn: Callable[[str], str]) -> Mapping[str, Any]:
        from aigw.pipeline.texts import map_chat_texts

        return map_chat_texts(body, fn)


def usage_chunk(last: ChatChunk | None, usage: Usage) -> ChatChunk:
    base = last or {}
    chunk: ChatChunk = {"id": base.get("id", ""), "object": "chat.completion.chunk",
                        "created": base.get("created", 0), "model": base.get("model", ""), "choices": [],
                        "usage": usage.to_openai()}
    if base.get("system_fingerprint"):
        chunk["system_fingerprint"] = base["system_fingerprint"]
    return chunk


def stop_chunk(last: ChatChunk | None, reason: str) -> ChatChunk:
    """The chunk that ends a filtered answer: `finish_reason` is the filter's reason."""
    base = last or {}
    return {"id": base.get("id", ""), "object": "chat.completion.chunk", "created": base.get("created", 0),
            "model": base.get("model", ""),
            "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": reason}]}


def stopped_body(body: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """A complete answer that a filter stopped: no content, `finish_reason` is the filter's reason."""
    choices = []
    for choice in body.get("choices") or [{"index": 0}]:
        choices.append({"index": choice.get("index", 0), "logprobs": None, "finish_reason": reason,
                        "message": {"role": "assistant", "content": "", "refusal": None}})
    return {**body, "choices": choices}
