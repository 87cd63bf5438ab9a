"""The hot path, top to bottom (docs/DESIGN.md §4).

Steps 1-2 (authenticate, validate, resolve the model) happen in the front door, which
builds the `RequestContext` with its codec. This module runs the rest:

    3-5  stages' `before`, in order: guardrails, cache, admission (any may short-circuit)
    6    route: pick a deployment, call it, retry and fall back (routing.Router)
    7    the answer goes back out through the stages' output filters (reverse order), then
         settle: usage and cost, stages' `after` in reverse, one log line and metrics

For a stream, step 7 runs when the stream ends, however it ends: completed, stopped by a
filter, broken upstream, or client gone (the upstream call is then cancelled).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from time import perf_counter
from typing import Any

from aigw.config.models import Deployment
from aigw.credentials import CredentialStore
from aigw.errors import GatewayError, UpstreamError
from aigw.lambda_ext.deferred import defer
from aigw.observability import Observer
from aigw.pipeline.accounting import collect_stream_text, completion_text, settle_usage
from aigw.pipeline.codec import stopped_body
from aigw.pipeline.context import RequestContext
from aigw.pipeline.filters import FilterChain
from aigw.pipeline.frames import ClientFrames, HeldFrames, LastFrame, Opened, SettlingStream, close_quietly
from aigw.pipeline.headers import response_headers
from aigw.pipeline.outcome import JsonOutcome, Outcome, StreamOutcome
from aigw.pipeline.replay import completion_to_chunks
from aigw.pipeline.stages import Reject, Respond, Stage, Stop
from aigw.pricing.cost import Usage
from aigw.providers.base import CaughtUp, ChatCall, ChatResult, Credential, EmbeddingsCall, StreamItem
from aigw.providers.registry import ProviderRegistry
from aigw.routing.attempts import waiting_upstream
from aigw.routing.router import Router, Target


class Pipeline:
    def __init__(self, *, stages: Sequence[Stage], router: Router, providers: ProviderRegistry,
                 credentials: CredentialStore | None, observer: Observer) -> None:
        self.stages = list(stages)
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
                self.observer.stage_start(ctx, stage.name)
                short = await stage.before(ctx)
                self.observer.stage_end(ctx, stage.name, short)
                if isinstance(short, Reject):
                    raise short.error
                if isinstance(short, Respond):
                    return await self._respond(ctx, short, ran)
            if ctx.operation == "embeddings":
                return await self._embeddings(ctx, ran)
            if ctx.stream:
                opened = await self.router.run(ctx, lambda t: self._open_stream(ctx, t), streaming=True)
                return StreamOutcome(self._client_stream(ctx, opened, ran), response_headers(ctx))
            result = await self.router.run(ctx, lambda t: self._complete(ctx, t))
            ctx.usage = result.usage
            invalid = result.usage is None or result.usage.invalid is not None
            settle_usage(ctx, generated_text=completion_text(result.body) if invalid else None, body=result.body)
            result = await self._filtered(ctx, result, ran)
        except GatewayError as exc:
            await self._fail(ctx, exc, ran)
            raise
        except BaseException as exc:
            await self._fail(ctx, GatewayError(f"internal error: {type(exc).__name__}"), ran)
            raise
        await self._finish(ctx, ran)
        return JsonOutcome(ctx.codec.body(result, ctx.usage), response_headers(ctx, cost=True))

    # ---- step 6: upstream calls ----------------------------------------------------------------
    async def _credential(self, deployment: Deployment) -> Credential | None:
        if deployment.credentials is None or self.credentials is None:
            return None
        return await self.credentials.get(deployment.credentials)

    async def _call(self, ctx: RequestContext, target: Target, *, caught_up: bool = False) -> ChatCall:
        return ChatCall(ctx.body, target.deployment, await self._credential(target.deployment), ctx.request_id,
                        native=ctx.native, caught_up=caught_up)

    async def _complete(self, ctx: RequestContext, target: Target) -> ChatResult:
        call = await self._call(ctx, target)
        provider = self.providers.chat(target.deployment.provider)
        with waiting_upstream(ctx):
            return await provider.complete(call)

    async def _open_stream(self, ctx: RequestContext, target: Target) -> Opened:
        """Start the upstream stream and wait for its first event, so a failure before the
        first byte can still fail over (and reach the client as a proper HTTP status)."""
        provider = self.providers.chat(target.deployment.provider)
        marks = getattr(provider, "marks_caught_up", False) is True
        events = provider.stream(await self._call(ctx, target, caught_up=marks))
        try:
            with waiting_upstream(ctx):
                first = await anext(events)
                while isinstance(first, CaughtUp):  # a read that brought no whole event
                    first = await anext(events)
        except StopAsyncIteration:
            raise UpstreamError("upstream closed the stream without a response", status=502,
                                retryable=True, code="truncated") from None
        ctx.first_token_s = ctx.elapsed_s()
        return Opened(first, events, marks)

    async def _embeddings(self, ctx: RequestContext, ran: list[Stage]) -> Outcome:
        async def attempt(target: Target) -> Any:
            provider = self.providers.embeddings(target.deployment.provider)
            call = EmbeddingsCall(ctx.body, target.deployment, await self._credential(target.deployment),
                                  ctx.request_id)
            with waiting_upstream(ctx):
                return await provider.embed(call)

        try:
            result = await self.router.run(ctx, attempt)
        except GatewayError as exc:
            await self._fail(ctx, exc, ran)
            raise
        ctx.usage = result.usage
        settle_usage(ctx)
        await self._finish(ctx, ran)
        return JsonOutcome(result.body, response_headers(ctx, cost=True))

    # ---- step 7: the answer goes out through the filters ------------------------------------------
    async def _filtered(self, ctx: RequestContext, result: ChatResult, ran: list[Stage]) -> ChatResult:
        chain = FilterChain.of(ran)
        verdict = await chain.body(ctx, result) if chain else result
        if isinstance(verdict, Stop):
            ctx.stopped = verdict
            verdict = ChatResult(stopped_body(result.body, verdict.reason), result.usage)
        ctx.result = verdict
        return verdict

    def _client_stream(self, ctx: RequestContext, opened: Opened, ran: list[Stage]) -> AsyncIterator[bytes]:
        return SettlingStream(ctx, self._frames(ctx, opened, FilterChain.of(ran)),
                              lambda: self._end_stream(ctx, opened.events, ran))

    async def _frames(self, ctx: RequestContext, opened: Opened, chain: FilterChain) -> AsyncIterator[bytes]:
        """The client's SSE frames, in its API's framing; usage is lifted out and re-emitted only
        if the client's API or options ask for it. Generated text is kept (to bill it if the
        upstream never reports usage) before any filter sees it: with no filter (nothing then
        changes a chunk) as the chunks themselves, read only if settlement needs the text.

        From a provider that marks where it has caught up with its upstream (`CAUGHT_UP`: the
        next event needs a read), the frames of one upstream read go out together at the mark,
        and the first frame with text at once, with what came before it (time to first token):
        no frame waits on the upstream, and a burst of events costs one write, not one each (a
        send, a wake-up and a read on both sides). From any other provider, each goes at once."""
        codec = ctx.codec
        out = ClientFrames(ctx, chain, lambda: _final_usage(ctx))
        filtered = bool(chain)
        events, marks = opened.events, opened.marks
        held = HeldFrames()
        generated = ctx.output_chunks = [] if not filtered else None
        frame = codec.chunk  # with no filter, the chunk framed here (ClientFrames.last kept up)
        try:
            event: StreamItem | None = opened.first
            while event is not None:
                if isinstance(event, CaughtUp):
                    if held:
                        yield held.take()
                elif isinstance(event, Usage):
                    ctx.usage = event
                else:
                    if generated is not None:
                        generated.append(event)
                        out.last = event
                        framed = frame(event)
                    else:
                        collect_stream_text(ctx, event)
                        framed = await out.feed(event)
                        if out.stopped:
                            yield LastFrame(held.take() + framed)
                            return
                    if framed and not marks:
                        yield framed
                    elif framed:
                        now = held.add(framed, event)
                        if now is not None:
                            yield now
                started = perf_counter()  # (as `waiting_upstream`, inline: two calls fewer an event)
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    event = None
                finally:
                    ctx.upstream_s += perf_counter() - started
            yield LastFrame(held.take() + await out.finish())
        except UpstreamError as exc:
            ctx.error, ctx.status = exc, exc.status
            self.router.stream_failed(ctx, exc)  # counts against the deployment's breaker
            yield LastFrame(held.take() + codec.error(exc))
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
            yield LastFrame(held.take() + codec.error(error))

    async def _end_stream(self, ctx: RequestContext, events: AsyncIterator[StreamItem], ran: list[Stage]) -> None:
        """(Shielded by SettlingStream: it runs to its end however the client leaves.)"""
        await close_quietly(events)  # cancels the upstream call if it is still running
        settle_usage(ctx)
        self.router.stream_ended(ctx, ctx.usage)
        self.observer.stream_end(ctx)
        await self._finish(ctx, ran)

    # ---- short-circuits and settlement -----------------------------------------------------------
    async def _respond(self, ctx: RequestContext, short: Respond, ran: list[Stage]) -> Outcome:
        ctx.cache = short.cache
        ctx.usage = short.result.usage
        ctx.headers.update(short.headers)
        chain = FilterChain.of(ran)
        if not ctx.stream:
            result = await self._filtered(ctx, short.result, ran)
            await self._finish(ctx, ran)
            return JsonOutcome(ctx.codec.body(result, result.usage), response_headers(ctx, cost=True))
        chunks = completion_to_chunks(short.result.body)
        usage = short.result.usage or Usage()

        async def replay() -> AsyncIterator[bytes]:
            # As `_frames`: the first text at once with what came before it, then the rest (all here).
            out = ClientFrames(ctx, chain, lambda: usage)
            held = HeldFrames()
            for chunk in chunks:
                framed = await out.feed(chunk)
                if out.stopped:
                    yield LastFrame(held.take() + framed)
                    return
                if framed:
                    now = held.add(framed, chunk)
                    if now is not None:
                        yield now
            yield LastFrame(held.take() + await out.finish())

        async def settle() -> None:  # (shielded by SettlingStream)
            self.observer.stream_end(ctx)
            await self._finish(ctx, ran)

        headers = response_headers(ctx)
        return StreamOutcome(SettlingStream(ctx, replay(), settle), headers)

    async def _fail(self, ctx: RequestContext, exc: GatewayError, ran: list[Stage]) -> None:
        ctx.error, ctx.status = exc, exc.status
        settle_usage(ctx)
        await self._finish(ctx, ran)

    async def _finish(self, ctx: RequestContext, ran: list[Stage]) -> None:
        """Settle, or with `settings.settle_after_response` on, queue the settlement to run once
        the response has been sent (aigw/lambda_ext): a JSON answer's body, a stream's last
        frame and the chunk that ends it. (A stream's client waits for that end: the SDKs read
        on past `[DONE]` until the response closes.)"""
        if defer(ctx, lambda: self._settle(ctx, ran)):
            return
        await self._settle(ctx, ran)

    async def _settle(self, ctx: RequestContext, ran: list[Stage]) -> None:
        """Stages' `after` in reverse order, then the log line and metrics. Never raises."""
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


def _final_usage(ctx: RequestContext) -> Usage:
    """The usage the client's stream ends with: settled first, so an estimate or a corrected
    (invalid) upstream count is what the client sees, as it is what gets billed."""
    settle_usage(ctx)
    return ctx.usage or Usage()
