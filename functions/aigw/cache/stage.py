"""The cache stage: look up before the upstream call (exact, then semantic), store after it.

    before     plan (policy.py): skip, or namespace + exact key + semantic query; then
               exact lookup -> Respond(cache="hit"); semantic lookup above the threshold ->
               Respond(cache="semantic-hit", x-aigw-cache-similarity). The pipeline replays a
               hit as a stream when the client asked for one.
    on_chunk   (OutputFilter) assembles a streamed answer, only when it will be stored;
    on_body    keeps a complete answer, as the upstream gave it (before later filters)
    after      stores a complete, successful miss in each layer that is on

A hit costs the caller nothing (`ctx.cost_usd` stays 0, and admission never runs) but its
usage is reported and counted; `saved_cost_usd` in the log line prices it at the
deployment that produced it. A cache failure, or a lookup or store slower than
`cache.lookup_timeout_s`, never fails or holds a request: it is a miss, logged with `cache_error`.

Keys are per client API (`/v1/messages` and `/v1/chat/completions` answers are cached apart, as
an answer may be stored in its native shape); embeddings are not cached.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from aigw.cache.assemble import StreamAssembler
from aigw.cache.embedders import Embedder
from aigw.cache.entry import CachedResponse, replayable
from aigw.cache.exact import ExactStore
from aigw.cache.guard import same_question
from aigw.cache.policy import SIMILARITY_HEADER, CachePlan, Skip, plan_request
from aigw.cache.vectors import VectorIndex
from aigw.config.models import GatewayConfig
from aigw.errors import InvalidRequest
from aigw.pipeline.context import RequestContext
from aigw.pipeline.stages import Reject, Respond, ShortCircuit, Stop
from aigw.pricing.cost import Usage, cost_usd
from aigw.providers.base import ChatChunk, ChatResult
from aigw.tokens import LARGE_PROMPT_CHARS, text_chars

logger = logging.getLogger("aigw.cache")


@dataclass(slots=True)
class SemanticLayer:
    embedder: Embedder
    index: VectorIndex
    threshold: float
    k: int = 3  # a few candidates: the best may fail the guard and the next pass it
    guard: bool = True


@dataclass(slots=True)
class CacheState:
    """This stage's slot on the request (`ctx.slot(CacheState)`)."""

    plan: CachePlan
    vector: list[float] | None = None
    assembler: StreamAssembler | None = None
    answer: dict[str, Any] | None = None  # a complete answer as the upstream gave it
    stored: list[str] = field(default_factory=list)


class CacheStage:
    name = "cache"

    def __init__(self, config: GatewayConfig, *, exact: ExactStore | None, semantic: SemanticLayer | None) -> None:
        self.config = config
        self.exact = exact
        self.semantic = semantic

    def warm(self) -> None:
        """Cold-start work, for the init phase (before the first request): the table handle,
        the Bedrock client or the local model. Blocking; never on the event loop."""
        for part in (self.exact, self.semantic.embedder if self.semantic else None):
            warm = getattr(part, "warm", None)
            if callable(warm):
                warm()

    # ---- lookup -----------------------------------------------------------------------------
    async def before(self, ctx: RequestContext) -> ShortCircuit | None:
        if ctx.operation != "chat":
            return None
        log = ctx.log_for("cache")
        plan_for = functools.partial(plan_request, self.config.cache, ctx.key, ctx.body, ctx.request_headers,
                                     semantic_available=self.semantic is not None, api=ctx.api)
        try:
            # Normalizing and hashing a large body is CPU work: off the event loop.
            plan = await anyio.to_thread.run_sync(plan_for) if text_chars(ctx.body) > LARGE_PROMPT_CHARS \
                else plan_for()
        except InvalidRequest as exc:
            return Reject(exc)
        if isinstance(plan, Skip):
            ctx.cache = "skip"
            log["cache_skip"] = plan.reason
            return None
        state = CacheState(plan)
        ctx.put(state)
        if plan.store and ctx.stream:
            state.assembler = StreamAssembler()
        log["cache_key"] = plan.key[:16]
        if not plan.lookup:
            ctx.cache = "skip"
            log["cache_skip"] = "no-cache"
            return None
        started = time.perf_counter()
        try:
            with anyio.fail_after(self.config.cache.lookup_timeout_s):
                return await self._lookup(ctx, state)
        except TimeoutError:
            self._degraded(ctx, "lookup", TimeoutError("cache lookup timed out"))
            return None
        finally:
            log["cache_lookup_ms"] = round((time.perf_counter() - started) * 1000, 3)

    async def _lookup(self, ctx: RequestContext, state: CacheState) -> Respond | None:
        plan = state.plan
        if plan.exact and self.exact is not None:
            try:
                entry = await self.exact.get(plan.namespace, plan.key)
            except Exception as exc:
                self._degraded(ctx, "exact lookup", exc)
            else:
                if entry is not None:
                    return self._hit(ctx, entry, "hit")
        if plan.semantic is None or self.semantic is None:
            return None
        layer = self.semantic
        try:
            state.vector = (await layer.embedder.embed([plan.semantic.text]))[0]
            hits = await layer.index.query(plan.namespace, ctx.model.name, plan.semantic.scope, state.vector,
                                           layer.k)
        except Exception as exc:
            self._degraded(ctx, "semantic lookup", exc)
            return None
        if not hits:
            return None
        ctx.log_for("cache")["cache_similarity"] = round(max(h.score for h in hits), 6)
        for hit in sorted(hits, key=lambda h: -h.score):
            if hit.score < layer.threshold:
                break
            refused = same_question(plan.semantic.text, str(hit.payload.get("prompt") or "")) if layer.guard else None
            if refused is not None:
                ctx.log_for("cache")["cache_guard"] = refused
                continue
            try:
                entry = CachedResponse.from_text(hit.payload["response"])
            except Exception as exc:
                self._degraded(ctx, "semantic payload", exc)
                return None
            return self._hit(ctx, entry, "semantic-hit", {SIMILARITY_HEADER: f"{hit.score:.4f}"})
        return None

    def _hit(self, ctx: RequestContext, entry: CachedResponse, status: Any,
             headers: dict[str, str] | None = None) -> Respond:
        result = entry.to_result(ctx.request_id)
        saved = self._saved_cost(ctx, entry, result)
        log = ctx.log_for("cache")
        if saved is not None:
            log["saved_cost_usd"] = round(saved, 10)
        log["cache_age_s"] = round(max(time.time() - entry.created_at, 0.0), 3)
        return Respond(result, cache=status, headers=dict(headers or {}))

    def _saved_cost(self, ctx: RequestContext, entry: CachedResponse, result: ChatResult) -> float | None:
        deployments = [*ctx.model.deployments, *(d for m in self.config.models for d in m.deployments)]
        chosen = next((d for d in deployments if d.deployment_id == entry.deployment), ctx.model.deployments[0])
        if chosen.price is None or result.usage is None:
            return None
        return cost_usd(result.usage, chosen.price)

    # ---- store --------------------------------------------------------------------------------
    async def on_chunk(self, ctx: RequestContext, chunk: ChatChunk) -> Sequence[ChatChunk] | Stop:
        state = ctx.slot(CacheState)
        if state is not None and state.assembler is not None:
            state.assembler.add(chunk)
        return (chunk,)

    async def on_end(self, ctx: RequestContext) -> Sequence[ChatChunk] | Stop:
        return ()

    async def on_body(self, ctx: RequestContext, result: ChatResult) -> ChatResult | Stop:
        state = ctx.slot(CacheState)
        if state is not None and state.plan.store and ctx.cache not in ("hit", "semantic-hit"):
            state.answer = dict(result.body)
        return result

    async def after(self, ctx: RequestContext) -> None:
        state = ctx.slot(CacheState)
        if state is None or not state.plan.store or ctx.cache in ("hit", "semantic-hit"):
            return
        if ctx.status != 200 or ctx.error is not None or ctx.disconnected or ctx.deployment is None:
            return
        if ctx.stopped is not None:
            return  # an output filter stopped the answer: never replay it
        if ctx.served_model not in (None, ctx.model.name):
            return  # a fallback answered: never cache another model's answer under this model's name
        body = self._answer(ctx, state)
        if body is None or not replayable(body):
            return
        usage = ctx.usage or Usage()
        body["usage"] = usage.to_openai()
        entry = CachedResponse(body=body, usage=usage.to_openai(), deployment=ctx.deployment.deployment_id)
        # Bounded like the lookup: a slow store must not hold the response (or the stream's end).
        with anyio.move_on_after(self.config.cache.lookup_timeout_s) as scope:
            await self._store(ctx, state, entry)
        if scope.cancelled_caught:
            self._degraded(ctx, "store", TimeoutError("cache store timed out"))
        if state.stored:
            ctx.log_for("cache")["cache_stored"] = state.stored

    async def _store(self, ctx: RequestContext, state: CacheState, entry: CachedResponse) -> None:
        plan = state.plan
        if plan.exact and self.exact is not None:
            try:
                if await self.exact.put(plan.namespace, plan.key, entry, plan.exact_ttl_s):
                    state.stored.append("exact")
            except Exception as exc:
                self._degraded(ctx, "exact store", exc)
        if plan.semantic is not None and self.semantic is not None:
            layer = self.semantic
            try:
                vector = state.vector or (await layer.embedder.embed([plan.semantic.text]))[0]
                await layer.index.upsert(plan.namespace, ctx.model.name, plan.semantic.scope, vector,
                                         {"response": entry.to_text(), "prompt": plan.semantic.text},
                                         plan.semantic_ttl_s)
                state.stored.append("semantic")
            except Exception as exc:
                self._degraded(ctx, "semantic store", exc)

    def _answer(self, ctx: RequestContext, state: CacheState) -> dict[str, Any] | None:
        if ctx.stream:
            return state.assembler.completion() if state.assembler is not None else None
        return state.answer

    def _degraded(self, ctx: RequestContext, where: str, exc: BaseException) -> None:
        error = f"{where}: {type(exc).__name__}"
        log = ctx.log_for("cache")
        log["cache_error"] = f"{log['cache_error']}; {error}" if log.get("cache_error") else error
        logger.warning("cache %s failed; treated as a miss", where,
                       extra={"request_id": ctx.request_id, "error": repr(exc)[:300]})
