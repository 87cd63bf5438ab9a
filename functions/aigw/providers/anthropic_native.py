"""Anthropic Messages client -> Anthropic Messages deployment: the client's own API end to end.

The request is the client's body as it sent it (`call.native`), model id aside, after the
governance checks of providers/anthropic_policy.py (server tools, `anthropic-beta` values);
cache_control, thinking, documents and citations survive. The answer is the upstream's, with
no round trip through the OpenAI shape: a complete body travels as `ChatResult.native`, and a
stream as `NativeChunk`s that carry each upstream SSE frame verbatim, but for the `model` the
client asked for (in the body and `message_start`). Usage the gateway does not believe
(negative, non-finite, absurd: see `Usage`) never reaches the client: such an event is marked
`unsettled` and the codec sends it with the gateway's usage, the settled one at the stream's
end (AnthropicCodec); a body gets the settled usage the same way. Beside it, each carries the
canonical (OpenAI-shaped) view that accounting, the cache and output filters work on.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from aigw.errors import UpstreamError, stream_truncated
from aigw.pricing.cost import Usage
from aigw.providers.anthropic import (
    AnthropicStreamState,
    anthropic_error,
    messages_request,
    openai_completion,
    usage_from_anthropic,
)
from aigw.providers.anthropic_policy import beta_header, check_body
from aigw.providers.base import ChatCall, ChatResult, NativeChunk, StreamEvent
from aigw.providers.http import HttpRequest
from aigw.providers.sse import SSEEvent, loads
from aigw.providers.usage import is_valid


def sse_frame(event: SSEEvent) -> bytes:
    """The event as the upstream framed it (Anthropic sends `event:` and one `data:` line)."""
    head = f"event: {event.event}\n" if event.event else ""
    lines = "".join(f"data: {line}\n" for line in event.data.split("\n"))
    return (head + lines + "\n").encode()


class AnthropicNativeTranslator:
    """The answer names the model the client asked for (as every front door does), not the
    upstream's id: that one field of the body and of `message_start` is rewritten."""

    def __init__(self) -> None:
        self.state = AnthropicStreamState()
        self._model: str | None = None  # the public model name the client sent

    def request(self, call: ChatCall, *, stream: bool) -> HttpRequest:
        if call.native is None:
            raise ValueError("the Anthropic-to-Anthropic translator needs the client's own body")
        d = call.deployment
        body = dict(call.native.body)
        self._model = str(body.get("model") or "") or None
        body["model"] = d.model
        check_body(body, d)
        headers: dict[str, str] = {}
        for name, value in call.native.headers.items():
            if name.lower() == "anthropic-beta":
                value = beta_header(value, d)
                if not value:
                    continue
            headers[name.lower()] = value
        return messages_request(call, body, headers, stream=stream)

    def response(self, body: Any) -> ChatResult:
        if not isinstance(body, dict) or body.get("type") != "message":
            raise ValueError("not a message")
        if self._model is not None:
            body = {**body, "model": self._model}
        result = openai_completion(body)
        result.native = body
        return result

    def stream_event(self, event: SSEEvent) -> list[StreamEvent]:
        data = loads(event.data)
        if not isinstance(data, dict):
            raise ValueError("event is not an object")
        translated = self.state.event(event.event or str(data.get("type")), data)
        chunks = [e for e in translated if not isinstance(e, Usage)]
        view = chunks[0] if chunks else {**self.state.base, "choices": []}
        usages = [e for e in translated if isinstance(e, Usage)]
        out: list[StreamEvent] = list(usages)
        frame = sse_frame(event)
        message = data.get("message")
        if self._model is not None and isinstance(message, dict) and message.get("model") != self._model:
            data = {**data, "message": {**message, "model": self._model}}
            frame = b""
        unsettled = any(not is_valid(u) for u in usages) or (
            isinstance(message, dict) and not is_valid(usage_from_anthropic(message.get("usage") or {})))
        if unsettled or not frame:  # (unsettled: the upstream's NaN or Infinity are no JSON to send)
            frame = sse_frame(SSEEvent(event.event, json.dumps(data, separators=(",", ":"))))
        out.append(NativeChunk(view, frame, data if unsettled else None))
        out.extend(chunks[1:])
        return out

    def ended(self) -> bool:
        return self.state.finished

    def stream_end(self) -> list[StreamEvent]:
        if not self.state.finished:
            raise stream_truncated("message_stop")
        return []

    def error(self, status: int, body: Any, headers: httpx.Headers) -> UpstreamError:
        return anthropic_error(status, body, headers)
