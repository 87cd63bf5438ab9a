"""The hot path, top to bottom (DESIGN.md §4).

Steps 1-2 (authenticate, validate, resolve the model) happen in the HTTP layer, which
builds the `RequestContext`. This module runs the rest:

    3-5  stages' `before`, in order: guardrails, cache, admission (any may short-circuit)
    6    route: pick a deployment, call it, retry and fall back (routing.Router)
    7    settle: usage and cost, stages' `after` in reverse, one log line and metrics

For a stream, step 7 runs when the stream ends, however it ends: completed, broken
upstream, or client gone (the upstream call is then cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio

from aigw.config.models import Deployment
from aigw.credentials import CredentialStore
from aigw.errors import GatewayError, UpstreamError
from aigw.observability import Observer
from aigw.pipeline.accounting import collect_stream_text, completion_text, settle_usage
from aigw.pipeline.codec import ClientCodec, OpenAICodec
from aigw.pipeline.context import RequestContext
from aigw.pipeline.outcome import JsonOutcome, Outcome, StreamOutcome
from aigw.pipeline.replay import completion_to_chunks
from aigw.pipeline.stages import ChunkFilter, Reject, Respond, Stage
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatCall, ChatChunk, ChatResult, Credential, EmbeddingsCall, StreamEvent
from aigw.providers.registry import ProviderRegistry
from aigw.routing.router import Router, Target


def codec_for(ctx: RequestContext) -> ClientCodec:
    """The client's framing: set by its front door (`ctx.codec`), else OpenAI's."""
    return ctx.codec if ctx.codec is not None else OpenAICodec(ctx.include_usage)


class Pipeline:
    def __init__(self, *, stages: Sequence[Stage], router: Router, providers: ProviderRegistry,
                 credentials: CredentialStore | None, observer: Observer) -> None:
        self.stages = list(stages)
        self._filters = [s for s in self.stages if isinstance(s, ChunkFilter)]
        self.router = router
        self.providers = providers
        self.credentials = credentials
        self.observer = observer

    # ---- entry -------------------------------------------------------------------------------
    async def handle(self, ctx: RequestContext) -> Outcome:
        ran: list[Stage] = []
        try:
            for stage in self.stages:
                ran.append(stage)
                short = await stage.before(ctx)
                if isinstance(short, Reject):
                    raise short.error
                if isinstance(short, Respond):
                    return await self._respond(ctx, short, ran)
            if ctx.api == "embeddings":
                return await self._embeddings(ctx, ran)
            if ctx.stream:
                first, events = await self.router.run(ctx, lambda t: self._open_stream(ctx, t))
                return StreamOutcome(self._client_stream(ctx, first, events, ran), self._headers(ctx))
            result = await self.router.run(ctx, lambda t: self._complete(ctx, t))
        except GatewayError as exc:
            await self._fail(ctx, exc, ran)
            raise
        except BaseException as exc:
            await self._fail(ctx, GatewayError(f"internal error: {type(exc).__name__}"), ran)
            raise
        ctx.usage = result.usage
        settle_usage(ctx, generated_text=completion_text(result.body) if result.usage is None else None)
        await self._finish(ctx, ran, result=result)
        headers = self._headers(ctx)
        headers["x-aigw-cost-usd"] = f"{ctx.cost_usd:.8f}"
        return JsonOutcome(codec_for(ctx).body(result.body, ctx.usage), headers)

    # ---- step 6: upstream calls ----------------------------------------------------------------
    async def _credential(self, deployment: Deployment) -> Credential | None:
        if deployment.credentials is None or self.credentials is None:
            return None
        return await self.credentials.get(deployment.credentials)

    async def _complete(self, ctx: RequestContext, target: Target) -> ChatResult:
        call = ChatCall(ctx.body, target.deployment, await self._credential(target.deployment), ctx.request_id,
                        native=ctx.native)
        provider = self.providers.chat(target.deployment.provider)
        started = time.perf_counter()
        try:
            return await provider.complete(call)
        finally:
            ctx.upstream_s += time.perf_counter() - started

    async def _open_stream(self, ctx: RequestContext, target: Target) -> tuple[StreamEvent,
                                                                                AsyncIterator[StreamEvent]]:
        """Start the upstream stream and wait for its first event, so a failure before the
        first byte can still fail over (and reach the client as a proper HTTP status)."""
        call = ChatCall(ctx.body, target.deployment, await self._credential(target.deployment), ctx.request_id,
                        native=ctx.native)
        events = self.providers.chat(target.deployment.provider).stream(call)
        started = time.perf_counter()
        try:
            first = await anext(events)
        except StopAsyncIteration:
            raise UpstreamError("upstream closed the stream without a response", status=502,
                                retryable=True) from None
        finally:
            ctx.upstream_s += time.perf_counter() - started
        ctx.first_token_s = ctx.elapsed_s()
        return first, events

    async def _embeddings(self, ctx: RequestContext, ran: list[Stage]) -> Outcome:
        async def attempt(target: Target) -> Any:
            provider = self.providers.embeddings(target.deployment.provider)
            call = EmbeddingsCall(ctx.body, target.deployment, await self._credential(target.deployment),
                                  ctx.request_id)
            started = time.perf_counter()
            try:
                return await provider.embed(call)
            finally:
                ctx.upstream_s += time.perf_counter() - started

        result = await self.router.run(ctx, attempt)
        ctx.usage = result.usage
        settle_usage(ctx)
        await self._finish(ctx, ran)
        headers = self._headers(ctx)
        headers["x-aigw-cost-usd"] = f"{ctx.cost_usd:.8f}"
        return JsonOutcome(result.body, headers)

    # ---- the client's stream ---------------------------------------------------------------------
    def _client_stream(self, ctx: RequestContext, first: StreamEvent, events: AsyncIterator[StreamEvent],
                       ran: list[Stage]) -> AsyncIterator[bytes]:
        return _SettlingStream(ctx, self._frames(ctx, first, events), lambda: self._end_stream(ctx, events, ran))

    async def _frames(self, ctx: RequestContext, first: StreamEvent,
                      events: AsyncIterator[StreamEvent]) -> AsyncIterator[bytes]:
        """The client's SSE frames, in its API's framing (`codec_for`); usage is lifted out and
        re-emitted only if the client's API or options ask for it."""
        last: ChatChunk | None = None
        codec = codec_for(ctx)
        try:
            event: StreamEvent | None = first
            while event is not None:
                if isinstance(event, Usage):
                    ctx.usage = event
                else:
                    chunk: ChatChunk | None = event
                    for f in self._filters:
                        chunk = f.on_chunk(ctx, chunk) if chunk is not None else None
                    if chunk is not None:
                        last = chunk
                        collect_stream_text(ctx, chunk)
                        framed = codec.chunk(chunk)
                        if framed:
                            yield framed
                event = await _next(events, ctx)
            yield codec.end(last, lambda: ctx.usage or _estimated_usage(ctx))
        except UpstreamError as exc:
            ctx.error, ctx.status = exc, exc.status
            self.router.stream_failed(ctx, exc)  # counts against the deployment's breaker
            yield codec.error(exc)
        except (GeneratorExit, asyncio.CancelledError):
            # The client went away mid-stream (or the server is shutting down).
            ctx.disconnected = True
            ctx.status = 499
            raise
        except Exception as exc:
            # A bug, not an upstream failure: end the client's stream with a clean error event
            # (the details go to the log), and settle as usual.
            self.observer.logger.exception("stream failed", extra={"request_id": ctx.request_id})
            error = GatewayError(f"internal error ({type(exc).__name__}); see the gateway log")
            ctx.error, ctx.status = error, error.status
            yield codec.error(error)

    async def _end_stream(self, ctx: RequestContext, events: AsyncIterator[StreamEvent], ran: list[Stage]) -> None:
        with anyio.CancelScope(shield=True):
            await _close(events)  # cancels the upstream call if it is still running
            settle_usage(ctx)
            await self._finish(ctx, ran)

    # ---- step 7: settle ----------------------------------------------------------------------------
    async def _respond(self, ctx: RequestContext, short: Respond, ran: list[Stage]) -> Outcome:
        ctx.cache = short.cache
        ctx.usage = short.result.usage
        ctx.headers.update(short.headers)
        await self._finish(ctx, ran, result=short.result)
        headers = self._headers(ctx)
        codec = codec_for(ctx)
        if not ctx.stream:
            headers["x-aigw-cost-usd"] = f"{ctx.cost_usd:.8f}"
            return JsonOutcome(codec.body(short.result.body, short.result.usage), headers)
        chunks = completion_to_chunks(short.result.body)

        async def replay() -> AsyncIterator[bytes]:
            for chunk in chunks:
                framed = codec.chunk(chunk)
                if framed:
                    yield framed
            yield codec.end(chunks[-1] if chunks else None, lambda: short.result.usage or Usage())

        return StreamOutcome(replay(), headers)

    async def _fail(self, ctx: RequestContext, exc: GatewayError, ran: list[Stage]) -> None:
        ctx.error, ctx.status = exc, exc.status
        settle_usage(ctx)
        await self._finish(ctx, ran)

    async def _finish(self, ctx: RequestContext, ran: list[Stage], *, result: ChatResult | None = None) -> None:
        """Stages' `after` in reverse order, then the log line and metrics. Never raises."""
        if result is not None:
            ctx.state["result"] = result
        for stage in reversed(ran):
            try:
                await stage.after(ctx)
            except Exception as exc:  # a failing stage must not lose the others' settlement
                self.observer.logger.exception("stage after() failed", extra={
                    "stage": stage.name, "request_id": ctx.request_id, "error": type(exc).__name__})
        try:
            self.observer.request_done(ctx)
        except Exception:
            self.observer.logger.exception("request log failed", extra={"request_id": ctx.request_id})

    def _headers(self, ctx: RequestContext) -> dict[str, str]:
        headers = {"x-request-id": ctx.request_id, "x-aigw-cache": ctx.cache}
        if ctx.deployment is not None and ctx.cache not in ("hit", "semantic-hit"):
            headers["x-aigw-provider"] = ctx.deployment.provider
            headers["x-aigw-deployment"] = ctx.deployment.deployment_id
            headers["x-aigw-attempts"] = str(len(ctx.attempts))
        if ctx.served_model and ctx.served_model != ctx.model.name:
            headers["x-aigw-model"] = ctx.served_model
        headers.update(ctx.headers)
        headers["x-aigw-overhead-ms"] = f"{ctx.overhead_ms():.3f}"
        return headers


class _SettlingStream:
    """The client's stream, settled exactly once however it ends: completed, broken, client
    gone mid-way, or never started (the client left before the first frame was sent)."""

    def __init__(self, ctx: RequestContext, frames: AsyncIterator[bytes],
                 end: Callable[[], Awaitable[None]]) -> None:
        self._ctx = ctx
        self._frames = frames
        self._end = end
        self._started = False
        self._ended = False

    def __aiter__(self) -> _SettlingStream:
        return self

    async def __anext__(self) -> bytes:
        self._started = True
        try:
            return await anext(self._frames)
        except BaseException:  # StopAsyncIteration included: the stream is over either way
            await self._settle()
            raise

    async def aclose(self) -> None:
        if not self._started and not self._ended:
            self._ctx.disconnected, self._ctx.status = True, 499
        with anyio.CancelScope(shield=True):
            await _close(self._frames)
        await self._settle()

    async def _settle(self) -> None:
        if not self._ended:
            self._ended = True
            await self._end()


async def _next(events: AsyncIterator[StreamEvent], ctx: RequestContext) -> StreamEvent | None:
    started = time.perf_counter()
    try:
        return await anext(events)
    except StopAsyncIteration:
        return None
    finally:
        ctx.upstream_s += time.perf_counter() - started


async def _close(events: AsyncIterator[Any]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):  # a broken upstream may fail again while closing
            await aclose()


def _estimated_usage(ctx: RequestContext) -> Usage:
    settle_usage(ctx)
    return ctx.usage or Usage()


