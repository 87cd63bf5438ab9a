"""The client's side of a stream: chunks through the output filters and the codec
(`ClientFrames`), and a stream that is settled exactly once however it ends (`SettlingStream`),
before its `LastFrame` goes.
Shared by upstream streams and cache replays (pipeline.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aigw.pipeline.accounting import carries_text
from aigw.pipeline.codec import stop_chunk
from aigw.pipeline.context import RequestContext
from aigw.pipeline.filters import FilterChain
from aigw.pipeline.stages import Stop
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatChunk, StreamEvent, StreamItem
from aigw.scopes import shielded


@dataclass(frozen=True, slots=True)
class Opened:
    """An upstream stream that has sent its first event; `marks`: it yields CAUGHT_UP marks."""

    first: StreamEvent
    events: AsyncIterator[StreamItem]
    marks: bool


class ClientFrames:
    """Chunks on their way to the client: through the output filters, framed by the codec, and
    ended by the codec's end or, when a filter stops the answer, the way the client's API ends
    a filtered answer. Shared by upstream streams and cache replays."""

    __slots__ = ("_chain", "_ctx", "_usage", "last", "stopped")

    def __init__(self, ctx: RequestContext, chain: FilterChain, usage: Callable[[], Usage]) -> None:
        self._ctx = ctx
        self._chain = chain
        self._usage = usage
        # The last chunk framed (the end's id and model come from it); with no output filter the
        # pipeline frames chunks itself (`codec.chunk`) and sets it.
        self.last: ChatChunk | None = None
        self.stopped = False

    async def feed(self, chunk: ChatChunk) -> bytes:
        out = await self._chain.chunk(self._ctx, chunk) if self._chain else (chunk,)
        return self._stop(out) if isinstance(out, Stop) else self._frame(out)

    async def finish(self) -> bytes:
        tail = await self._chain.end(self._ctx) if self._chain else ()
        if isinstance(tail, Stop):
            return self._stop(tail)
        return self._frame(tail) + self._ctx.codec.end(self.last, self._usage)

    def _frame(self, chunks: Sequence[ChatChunk]) -> bytes:
        codec = self._ctx.codec
        framed = b""
        for chunk in chunks:
            self.last = chunk
            framed += codec.chunk(chunk)
        return framed

    def _stop(self, stop: Stop) -> bytes:
        self.stopped = True
        self._ctx.stopped = stop
        codec = self._ctx.codec
        return codec.chunk(stop_chunk(self.last, stop.reason)) + codec.end(self.last, self._usage)


class HeldFrames:
    """Framed chunks waiting to go out in one write (pipeline.py `_frames`, cache replays): the
    first one with text goes at once, with what came before it (time to first token); the rest
    wait for `take` (at a caught-up mark, a stop, an error or the end)."""

    __slots__ = ("_first_text", "_held")

    def __init__(self) -> None:
        self._held: list[bytes] = []
        self._first_text = True  # still to come

    def __bool__(self) -> bool:
        return bool(self._held)

    def add(self, framed: bytes, chunk: ChatChunk) -> bytes | None:
        """Hold `framed`; what must be written now (the first text and what it follows), or None."""
        self._held.append(framed)
        if self._first_text and carries_text(chunk):
            self._first_text = False
            return self.take()
        return None

    def take(self) -> bytes:
        out = b"".join(self._held)
        self._held.clear()
        return out


class LastFrame(bytes):
    """A stream's last frame (its end, a mid-stream error, a filter's stop). The stream is
    settled before it goes, so the server sends it with the response's end in one write, where
    it was two: a `send` each (on loopback the sender's syscall runs the peer's receive path
    and wakes it) and a read more for the client. SDKs read past `[DONE]` to that end anyway."""

    __slots__ = ()


class SettlingStream:
    """The client's stream, settled exactly once however it ends: completed, broken, client
    gone mid-way, or never started (the client left before the first frame was sent)."""

    def __init__(self, ctx: RequestContext, frames: AsyncIterator[bytes],
                 end: Callable[[], Awaitable[None]]) -> None:
        self._ctx = ctx
        self._frames = frames
        self._end = end
        self._started = False
        self._ended = False

    def __aiter__(self) -> SettlingStream:
        return self

    async def __anext__(self) -> bytes:
        self._started = True
        try:
            frame = await anext(self._frames)
            if type(frame) is LastFrame:
                await self._run_out()
            return frame
        except BaseException:  # StopAsyncIteration included: the stream is over either way
            await self._settle()
            raise

    async def _run_out(self) -> None:
        """After the last frame: the frames to their end, then the settlement."""
        try:
            extra = await anext(self._frames)
        except StopAsyncIteration:
            pass
        else:
            raise RuntimeError(f"a frame after the last one: {extra[:60]!r}")
        await self._settle()

    async def aclose(self) -> None:
        if self._ended:  # settled when the frames ended (or failed): nothing is left to close
            return
        if not self._started:
            self._ctx.disconnected, self._ctx.status = True, 499
        with shielded():
            await close_quietly(self._frames)
        await self._settle()

    async def _settle(self) -> None:
        if not self._ended:
            self._ended = True
            with shielded():  # a client leaving now cuts nothing short (aigw/scopes.py)
                await self._end()


async def close_quietly(events: AsyncIterator[Any]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        # (not `contextlib.suppress`: three Python calls more at every stream's end)
        try:  # noqa: SIM105
            await aclose()
        except Exception:  # a broken upstream may fail again while closing
            pass
