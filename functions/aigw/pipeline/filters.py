"""Runs a request's output filters in order over chunks, the stream's end and whole bodies.

The order is the reverse of the stages' (the answer travels back out through them): a chunk
one filter emits is the input of the next; what a filter flushes at the end still passes
through the filters after it. The first `Stop` wins.
"""

from __future__ import annotations

from collections.abc import Sequence

from aigw.pipeline.context import RequestContext
from aigw.pipeline.stages import OutputFilter, Stage, Stop
from aigw.providers.base import ChatChunk, ChatResult


class FilterChain:
    __slots__ = ("_filters",)

    def __init__(self, filters: Sequence[OutputFilter]) -> None:
        self._filters = list(filters)

    @classmethod
    def of(cls, ran: Sequence[Stage]) -> FilterChain:
        return cls([s for s in reversed(ran) if isinstance(s, OutputFilter)])

    def __bool__(self) -> bool:
        return bool(self._filters)

    async def chunk(self, ctx: RequestContext, chunk: ChatChunk) -> Sequence[ChatChunk] | Stop:
        return await self._through(ctx, 0, (chunk,))

    async def end(self, ctx: RequestContext) -> Sequence[ChatChunk] | Stop:
        out: list[ChatChunk] = []
        for position, f in enumerate(self._filters):
            # chunks emitted by earlier filters' flushes pass through this one first
            flushed = await f.on_end(ctx)
            if isinstance(flushed, Stop):
                return flushed
            if not flushed:
                continue
            passed = await self._through(ctx, position + 1, flushed)
            if isinstance(passed, Stop):
                return passed
            out.extend(passed)
        return out

    async def body(self, ctx: RequestContext, result: ChatResult) -> ChatResult | Stop:
        for f in self._filters:
            verdict = await f.on_body(ctx, result)
            if isinstance(verdict, Stop):
                return verdict
            result = verdict
        return result

    async def _through(self, ctx: RequestContext, start: int,
                       chunks: Sequence[ChatChunk]) -> Sequence[ChatChunk] | Stop:
        current: Sequence[ChatChunk] = chunks
        for f in self._filters[start:]:
            nxt: list[ChatChunk] = []
            for chunk in current:
                out = await f.on_chunk(ctx, chunk)
                if isinstance(out, Stop):
                    return out
                nxt.extend(out)
            current = nxt
            if not current:
                break
        return current
