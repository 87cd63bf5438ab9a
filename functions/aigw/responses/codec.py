"""`ResponsesCodec`: the pipeline's `ClientCodec` for `POST /v1/responses`.

One per request. It frames the canonical answer as the Responses API (complete bodies
through aigw.responses.render, streams through `ResponsesStreamEncoder`) and keeps the
final response object (`final`) so the front door can store it before the client sees the
end (aigw.responses.service.ResponsesService.persist_stream).

A verbatim native frame (`NativeChunk.native`) is never forwarded: the response id, item
ids and sequence numbers are the gateway's own, so every chunk is re-encoded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aigw.errors import GatewayError
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatChunk
from aigw.responses.items import ItemIds
from aigw.responses.render import render_completion, with_native_output
from aigw.responses.stream import Event, ResponsesStreamEncoder


def frame(events: list[Event]) -> bytes:
    """SSE frames with the event name on its own line, as OpenAI sends them."""
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " +
                    json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n" for e in events)


class ResponsesCodec:
    api = "responses"
    accepts_native_frames = False  # see the module docstring

    def __init__(self, *, response_id: str, created_at: int, model: str, echo: dict[str, Any],
                 ids: ItemIds | None = None) -> None:
        self.response_id = response_id
        self.created_at = created_at
        self.model = model
        self.echo = echo
        self._ids = ids or ItemIds(response_id)
        self._stream = ResponsesStreamEncoder(response_id=response_id, created_at=created_at, model=model,
                                              echo=echo, ids=self._ids)
        self._body: dict[str, Any] | None = None

    @property
    def final(self) -> dict[str, Any] | None:
        """The finished response object (completed, incomplete or failed), once rendered."""
        return self._body if self._body is not None else self._stream.final

    # ---- stream ----------------------------------------------------------------------------------
    def chunk(self, chunk: ChatChunk) -> bytes:
        return frame(self._stream.chunk(chunk))

    def end(self, last: ChatChunk | None, usage: Callable[[], Usage]) -> bytes:
        return frame(self._stream.finish(usage()))

    def error(self, exc: GatewayError) -> bytes:
        return frame(self._stream.fail(exc))

    # ---- complete bodies and errors -----------------------------------------------------------------
    def body(self, result: Any, usage: Usage | None = None) -> dict[str, Any]:
        """A complete answer: today's `(body, usage)` call, or a `ChatResult` (its `.body`,
        `.usage`, and `.native` when the upstream answered in the Responses API itself)."""
        native = None
        if hasattr(result, "body") and not isinstance(result, dict):
            body, usage, native = result.body, usage if usage is not None else result.usage, \
                getattr(result, "native", None)
        else:
            body = result
        self._body = render_completion(body, usage, response_id=self.response_id, created_at=self.created_at,
                                       model=self.model, echo=self.echo, ids=self._ids)
        if isinstance(native, dict) and native.get("object") == "response":
            self._body = with_native_output(self._body, native, self._ids)
        return self._body

    def error_body(self, exc: GatewayError) -> dict[str, Any]:
        """An error before any answer: the OpenAI envelope, as on every OpenAI route."""
        return exc.openai_body()

    def map_native_texts(self, body: Mapping[str, Any], fn: Callable[[str], str]) -> Mapping[str, Any]:
        """Rewrite every text of a native Responses body (a redaction reaching a passthrough)."""
        from aigw.responses.texts import map_responses_texts

        return map_responses_texts(body, fn)
