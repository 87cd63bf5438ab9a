"""Anthropic Messages as its API reference describes it.

A stream is named SSE events: `message_start` (the message with empty content and the input
usage), per block `content_block_start`, `content_block_delta`s (`text_delta`) and
`content_block_stop`, `ping`s anywhere, `message_delta` (stop_reason and the cumulative
output usage), and `message_stop`, the only end. Errors: `{"type": "error", "error":
{"type", "message"}}` (401 `authentication_error`, 429 `rate_limit_error`, 529 overloaded).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.adversarial.family import WORDS, dumps
from tests.fakes.adversarial.faults import Fault
from tests.fakes.adversarial.server import Received

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               429: "rate_limit_error", 500: "api_error"}


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {dumps({'type': name, **payload})}\n\n".encode()


class AnthropicFamily:
    name = "anthropic"
    reads_after_end = False

    def _message(self, request: Received, usage: Any, content: list[Any], stop: str | None) -> dict[str, Any]:
        body = request.body if isinstance(request.body, dict) else {}
        message = {"id": "msg_adv01", "type": "message", "role": "assistant", "model": body.get("model", "claude"),
                   "content": content, "stop_reason": stop, "stop_sequence": None,
                   "usage": {"input_tokens": 14 if usage is None else usage,
                             "output_tokens": 1 if usage is None else usage,
                             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
        searches = [t for t in body.get("tools") or () if str(t.get("type", "")).startswith("web_search_")]
        if searches:  # the model searched as often as the tool allows: billed per search
            message["usage"]["server_tool_use"] = {"web_search_requests": searches[0].get("max_uses", 1)}
        return message

    def stream_frames(self, request: Received, usage: Any) -> tuple[list[bytes], int]:
        frames = [_event("message_start", {"message": self._message(request, usage, [], None)}),
                  _event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
                  _event("ping", {})]
        frames += [_event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": w}})
                   for w in WORDS]
        frames.append(_event("content_block_stop", {"index": 0}))
        frames.append(_event("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                               "usage": {"output_tokens": len(WORDS) if usage is None else usage}}))
        frames.append(_event("message_stop", {}))
        return frames, len(frames)

    def body(self, request: Received, usage: Any) -> bytes:
        message = self._message(request, usage, [{"type": "text", "text": "".join(WORDS)}], "end_turn")
        if usage is None:
            message["usage"]["output_tokens"] = len(WORDS)
        return dumps(message).encode()

    def error(self, status: int, message: str) -> tuple[bytes, dict[str, str]]:
        body = {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}
        return dumps(body).encode(), {"request-id": "req_upstream"}

    def garbage(self, fault: Fault) -> tuple[bytes, bool]:
        if not fault.garbage_is_data:
            return f"{fault.garbage}\n\n".encode(), False
        # An object of no known type is an event added later: skipped, as the API asks of clients.
        return f"data: {fault.garbage}\n\n".encode(), fault.garbage != "{}"
