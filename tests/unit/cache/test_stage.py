"""The cache stage on its own: plans, per-request controls, degradation to a miss, the
semantic threshold and guard, and what gets stored."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from aigw.auth.records import KeyRecord
from aigw.cache.entry import CachedResponse
from aigw.cache.exact import MemoryExactStore
from aigw.cache.stage import CacheStage, CacheState, SemanticLayer
from aigw.cache.vectors import LocalVectorIndex, unit
from aigw.config import load_config
from aigw.config.models import GatewayConfig
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import RequestContext
from aigw.pipeline.stages import Reject, Respond
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatResult

ANSWER = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."}, "logprobs": None,
                       "finish_reason": "stop"}]}


def gateway_config(**cache: Any) -> GatewayConfig:
    return load_config({"models": [{"name": "gpt-4o-mini", "deployments": [{"provider": "openai",
                                                                             "model": "gpt-4o-mini"}]}],
                        "cache": {"exact": True, **cache}})


def context(config: GatewayConfig, text: str = "What is the capital of France?", *, team: str = "a",
            headers: dict[str, str] | None = None, **body: Any) -> RequestContext:
    key = KeyRecord(key_hash="h" + team, key_id="key_" + team, team_id=team)
    payload = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], "temperature": 0, **body}
    return RequestContext(request_id="req_1", operation="chat", codec=OpenAICodec(), key=key,
                          model=config.models[0], body=payload, request_headers=headers or {})


async def answered(ctx: RequestContext, config: GatewayConfig, body: dict[str, Any] = ANSWER,
                   stage: CacheStage | None = None) -> None:
    """What the pipeline does after a successful upstream call: the answer passes the stage's
    output filter on its way out."""
    ctx.deployment = config.models[0].deployments[0]
    ctx.served_model = ctx.model.name
    ctx.usage = Usage(input_tokens=10, output_tokens=2)
    result = ChatResult(body=dict(body), usage=ctx.usage)
    state = ctx.slot(CacheState)
    if state is not None:
        assert await CacheStage.on_body(stage or _ANY_STAGE, ctx, result) is result
    ctx.result = result


_ANY_STAGE: Any = None  # on_body uses only the request's own slot


class WordEmbedder:
    """Bag-of-words vectors: enough to exercise thresholds without a model."""

    name = "test/words"
    dimensions = 64

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self.dimensions
            for word in text.lower().replace("?", "").split():
                vector[hash(word) % self.dimensions] += 1.0
            vectors.append(unit(vector))
        return vectors


class Broken:
    name = "broken"
    dimensions = 4

    async def get(self, *args: Any) -> Any:
        raise ConnectionError("store down")

    async def put(self, *args: Any) -> Any:
        raise ConnectionError("store down")

    async def embed(self, texts: Sequence[str]) -> Any:
        raise ConnectionError("embedder down")


async def miss_then_store(stage: CacheStage, ctx: RequestContext, config: GatewayConfig) -> None:
    assert await stage.before(ctx) is None
    await answered(ctx, config)
    await stage.after(ctx)


async def test_exact_hit_after_a_stored_miss_costs_nothing_and_reports_the_saving() -> None:
    config = gateway_config()
    stage = CacheStage(config, exact=MemoryExactStore(), semantic=None)
    await miss_then_store(stage, first := context(config), config)
    assert first.log["cache_stored"] == ["exact"]
    ctx = context(config)
    short = await stage.before(ctx)
    assert isinstance(short, Respond) and short.cache == "hit"
    assert short.result.body["choices"] == ANSWER["choices"] and short.result.body["id"] != ANSWER["id"]
    assert short.result.usage is not None and short.result.usage.input_tokens == 10
    assert ctx.log["saved_cost_usd"] == pytest.approx((10 * 0.15 + 2 * 0.60) / 1e6)


async def test_teams_never_share_entries() -> None:
    config = gateway_config()
    stage = CacheStage(config, exact=MemoryExactStore(), semantic=None)
    await miss_then_store(stage, context(config, team="a"), config)
    assert await stage.before(context(config, team="b")) is None
    assert isinstance(await stage.before(context(config, team="a")), Respond)


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, None), ({"x-aigw-cache": "no-cache"}, "no-cache"), ({"x-aigw-cache": "no-store"}, None)])
async def test_per_request_directives(headers: dict[str, str], reason: str | None) -> None:
    config = gateway_config()
    store = MemoryExactStore()
    stage = CacheStage(config, exact=store, semantic=None)
    await miss_then_store(stage, context(config), config)
    ctx = context(config, headers=headers)
    short = await stage.before(ctx)
    assert isinstance(short, Respond) == (reason is None)
    assert ctx.log.get("cache_skip") == reason


async def test_no_store_does_not_store_and_ttl_header_sets_the_ttl() -> None:
    config = gateway_config()
    now = [1000.0]
    store = MemoryExactStore(clock=lambda: now[0])
    stage = CacheStage(config, exact=store, semantic=None)
    await miss_then_store(stage, context(config, headers={"x-aigw-cache": "no-store"}), config)
    assert await stage.before(context(config)) is None
    await miss_then_store(stage, context(config, headers={"x-aigw-cache-ttl": "5"}), config)
    assert isinstance(await stage.before(context(config)), Respond)
    now[0] += 6
    assert await stage.before(context(config)) is None


@pytest.mark.parametrize("headers", [{"x-aigw-cache": "maybe"}, {"x-aigw-cache-ttl": "soon"},
                                     {"x-aigw-cache-ttl": "0"}, {"x-aigw-cache-ttl": str(10**9)}])
async def test_malformed_controls_are_a_400(headers: dict[str, str]) -> None:
    config = gateway_config()
    short = await CacheStage(config, exact=MemoryExactStore(), semantic=None).before(context(config, headers=headers))
    assert isinstance(short, Reject) and short.error.status == 400


@pytest.mark.parametrize(("body", "cache_config", "reason"), [
    ({"temperature": 0.7}, {}, "nondeterministic"),
    ({"temperature": None}, {}, "nondeterministic"),
    ({}, {"exact": False}, "disabled"),
    ({}, {"teams": {"a": {"exact": False}}}, "disabled"),
    ({}, {"keys": {"key_a": {"exact": False}}}, "disabled"),
])
async def test_requests_that_skip_the_cache(body: dict[str, Any], cache_config: dict[str, Any], reason: str) -> None:
    config = gateway_config(**cache_config)
    ctx = context(config, **body)
    assert await CacheStage(config, exact=MemoryExactStore(), semantic=None).before(ctx) is None
    assert ctx.cache == "skip" and ctx.log["cache_skip"] == reason


async def test_nondeterministic_requests_are_cached_when_configured() -> None:
    config = gateway_config(deterministic_only=False)
    stage = CacheStage(config, exact=MemoryExactStore(), semantic=None)
    await miss_then_store(stage, context(config, temperature=0.7), config)
    assert isinstance(await stage.before(context(config, temperature=0.7)), Respond)


@pytest.mark.parametrize("finish", ["content_filter", None])
async def test_unreplayable_answers_are_not_stored(finish: str | None) -> None:
    config = gateway_config()
    stage = CacheStage(config, exact=MemoryExactStore(), semantic=None)
    ctx = context(config)
    await stage.before(ctx)
    await answered(ctx, config, {**ANSWER, "choices": [{**ANSWER["choices"][0], "finish_reason": finish}]})
    await stage.after(ctx)
    assert "cache_stored" not in ctx.log


async def test_failures_and_fallbacks_are_not_stored() -> None:
    config = gateway_config()
    stage = CacheStage(config, exact=(store := MemoryExactStore()), semantic=None)
    for change in ({"status": 502}, {"disconnected": True}, {"served_model": "other"}):
        ctx = context(config)
        await stage.before(ctx)
        await answered(ctx, config)
        for name, value in change.items():
            setattr(ctx, name, value)
        await stage.after(ctx)
    assert await store.get(ctx.slot(CacheState).plan.namespace, ctx.slot(CacheState).plan.key) is None


async def test_a_broken_store_degrades_to_a_miss_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    config = gateway_config(semantic={"enabled": True})
    stage = CacheStage(config, exact=Broken(), semantic=SemanticLayer(Broken(), LocalVectorIndex(), 0.9))
    ctx = context(config)
    assert await stage.before(ctx) is None
    assert ctx.log["cache_error"] == "exact lookup: ConnectionError; semantic lookup: ConnectionError"
    await answered(ctx, config)
    await stage.after(ctx)  # must not raise
    assert ctx.log["cache_error"].endswith("exact store: ConnectionError; semantic store: ConnectionError")
    assert "cache exact lookup failed" in caplog.text


async def test_a_slow_store_is_a_miss_after_the_lookup_timeout() -> None:
    class Slow(MemoryExactStore):
        async def get(self, namespace: str, key: str) -> CachedResponse | None:
            await asyncio.sleep(5)
            return None

    config = gateway_config(lookup_timeout_s=0.05)
    ctx = context(config)
    assert await CacheStage(config, exact=Slow(), semantic=None).before(ctx) is None
    assert ctx.log["cache_error"] == "lookup: TimeoutError"
    assert ctx.log["cache_lookup_ms"] < 1000


async def test_semantic_hit_above_threshold_with_similarity_header() -> None:
    config = gateway_config(exact=False, semantic={"enabled": True})
    stage = CacheStage(config, exact=None, semantic=SemanticLayer(WordEmbedder(), LocalVectorIndex(), 0.8))
    await miss_then_store(stage, context(config, "What is the capital of France?"), config)
    ctx = context(config, "what is the capital of France")
    short = await stage.before(ctx)
    assert isinstance(short, Respond) and short.cache == "semantic-hit"
    assert float(short.headers["x-aigw-cache-similarity"]) >= 0.8
    assert await stage.before(context(config, "Tell me a joke about cats")) is None


async def test_semantic_guard_refuses_a_near_duplicate_with_another_number() -> None:
    config = gateway_config(exact=False, semantic={"enabled": True})
    stage = CacheStage(config, exact=None, semantic=SemanticLayer(WordEmbedder(), LocalVectorIndex(), 0.5))
    await miss_then_store(stage, context(config, "Convert 5 miles to kilometers"), config)
    ctx = context(config, "Convert 50 miles to kilometers")
    assert await stage.before(ctx) is None
    assert ctx.log["cache_guard"] == "numbers"


async def test_semantic_layer_is_isolated_by_team_and_system_prompt() -> None:
    config = gateway_config(exact=False, semantic={"enabled": True})
    stage = CacheStage(config, exact=None, semantic=SemanticLayer(WordEmbedder(), LocalVectorIndex(), 0.5))
    await miss_then_store(stage, context(config, team="a"), config)
    assert await stage.before(context(config, team="b")) is None
    system = [{"role": "system", "content": "answer in French"},
              {"role": "user", "content": "What is the capital of France?"}]
    assert await stage.before(context(config, messages=system)) is None
    assert isinstance(await stage.before(context(config, team="a")), Respond)


async def test_long_prompts_never_match_semantically() -> None:
    config = gateway_config(exact=False, semantic={"enabled": True, "max_prompt_chars": 40})
    stage = CacheStage(config, exact=None, semantic=SemanticLayer(WordEmbedder(), LocalVectorIndex(), 0.5))
    long_text = "Please review this paragraph of text carefully for me"
    await miss_then_store(stage, ctx := context(config, long_text), config)
    assert ctx.cache == "skip" and ctx.log["cache_skip"] == "not eligible for the semantic layer"
    assert await stage.before(context(config, long_text)) is None


async def test_a_slow_store_does_not_hold_the_response() -> None:
    class SlowPut(MemoryExactStore):
        async def put(self, namespace: str, key: str, entry: CachedResponse, ttl_s: int) -> bool:
            await asyncio.sleep(5)
            return True

    config = gateway_config(lookup_timeout_s=0.05)
    stage = CacheStage(config, exact=SlowPut(), semantic=None)
    ctx = context(config)
    await stage.before(ctx)
    await answered(ctx, config)
    await asyncio.wait_for(stage.after(ctx), timeout=1)
    assert ctx.log["cache_error"] == "store: TimeoutError"
