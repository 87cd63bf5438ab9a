"""The response tap: a pass-through output filter that notes what a streamed answer said
about itself (id, model, finish reasons) for the spans, since no request event carries it.

It is the first stage, so it sees the answer last, exactly as the client gets it: after every
other filter (a guardrail's redaction or stop), cache replays included. It changes nothing and
holds nothing back. It collects the stream's text only for a team that opted in to content
capture. Installed only when tracing is on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aigw.pipeline.context import RequestContext
from aigw.providers.base import ChatChunk, ChatResult

TAP_STAGE = "telemetry"


@dataclass(slots=True)
class ResponseSeen:
    id: str | None = None
    model: str | None = None
    finish_reasons: dict[int, str] = field(default_factory=dict)  # by choice index
    text: dict[int, list[str]] | None = None  # by choice index; only when content is captured


class ResponseTap:
    name = TAP_STAGE

    def __init__(self, capture_content: Callable[[RequestContext], bool]) -> None:
        self._capture = capture_content

    async def before(self, ctx: RequestContext) -> None:
        return None

    async def after(self, ctx: RequestContext) -> None:
        return None

    async def on_chunk(self, ctx: RequestContext, chunk: ChatChunk) -> Sequence[ChatChunk]:
        seen = ctx.slot(ResponseSeen)
        if seen is None:
            seen = ResponseSeen(text={} if self._capture(ctx) else None)
            ctx.put(seen)
        if seen.id is None and isinstance(chunk.get("id"), str):
            seen.id = chunk["id"]
        if seen.model is None and isinstance(chunk.get("model"), str):
            seen.model = chunk["model"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            raw_index = choice.get("index")
            index = raw_index if isinstance(raw_index, int) else 0
            reason = choice.get("finish_reason")
            if isinstance(reason, str):
                seen.finish_reasons[index] = reason
            if seen.text is not None:
                delta = choice.get("delta")
                if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                    seen.text.setdefault(index, []).append(delta["content"])
        return (chunk,)

    async def on_end(self, ctx: RequestContext) -> Sequence[ChatChunk]:
        return ()

    async def on_body(self, ctx: RequestContext, result: ChatResult) -> ChatResult:
        return result  # a complete body is read from ctx.result when the request is done
