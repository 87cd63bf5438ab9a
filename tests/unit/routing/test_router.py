"""Routing choice, retries, backoff, cool-down and fallbacks, with an injected clock,
sleep and random source (no network, no real waiting)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from aigw.auth.records import KeyRecord
from aigw.config import load_config
from aigw.errors import GatewayError, UpstreamError
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import RequestContext
from aigw.routing.router import Router, Target
from tests.fakes.clock import FakeTime


def deployment(model: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "mock", "model": model, "price": {"input_per_mtok": 1, "output_per_mtok": 2}, **extra}


def make(models: list[dict[str, Any]], seed: int = 7, **routing: Any) -> tuple[Router, FakeTime]:
    config = load_config({"models": models, "routing": {"backoff_base_s": 0.5, "backoff_max_s": 4,
                                                        "cooldown_failures": 3, "cooldown_s": 30, **routing}})
    t = FakeTime()
    return Router(config, clock=t.clock, sleep=t.sleep, rng=random.Random(seed)), t


def ctx_for(router: Router, name: str) -> RequestContext:
    model = router._config.model(name)
    assert model is not None
    key = KeyRecord(key_hash="h", key_id="key_1", team_id="t")
    return RequestContext(request_id="req_1", operation="chat", codec=OpenAICodec(), key=key, model=model, body={})


class Upstreams:
    """attempt() stand-in: each deployment id answers from a script of outcomes (then succeeds)."""

    def __init__(self, scripts: dict[str, list[Exception]] | None = None, t: FakeTime | None = None,
                 latency: dict[str, float] | None = None) -> None:
        self.scripts = scripts or {}
        self.calls: list[str] = []
        self.t = t
        self.latency = latency or {}

    async def __call__(self, target: Target) -> str:
        key = target.deployment.deployment_id
        self.calls.append(key)
        if self.t is not None:
            self.t.now += self.latency.get(key, 0.0)
        script = self.scripts.get(key)
        if script:
            raise script.pop(0)
        return key


def err(status: int = 500, retry_after: float | None = None) -> UpstreamError:
    return UpstreamError(f"fail {status}", status=502 if status >= 500 else status, upstream_status=status,
                         retryable=status >= 500 or status == 429, retry_after_s=retry_after)


async def test_priority_uses_config_order_and_fails_over_without_waiting() -> None:
    router, t = make([{"name": "m", "deployments": [deployment("a"), deployment("b")]}])
    ups = Upstreams({"mock/a": [err(500)]})
    ctx = ctx_for(router, "m")
    assert await router.run(ctx, ups) == "mock/b"
    assert ups.calls == ["mock/a", "mock/b"]
    assert t.slept == []
    assert [(a.deployment, a.status) for a in ctx.attempts] == [("mock/a", 502), ("mock/b", 200)]


async def test_single_deployment_retries_with_exponential_backoff_and_jitter() -> None:
    router, t = make([{"name": "m", "deployments": [deployment("a")]}], max_retries=2)
    ups = Upstreams({"mock/a": [err(503), err(500)]})
    assert await router.run(ctx_for(router, "m"), ups) == "mock/a"
    assert len(t.slept) == 2
    assert 0.25 <= t.slept[0] < 0.5  # base 0.5 * 2^0, jitter factor [0.5, 1)
    assert 0.5 <= t.slept[1] < 1.0  # base 0.5 * 2^1


async def test_retry_after_is_honoured_and_a_long_one_skips_the_deployment() -> None:
    router, t = make([{"name": "m", "deployments": [deployment("a")]}], max_retries=2)
    ups = Upstreams({"mock/a": [err(429, retry_after=1.5)]})
    assert await router.run(ctx_for(router, "m"), ups) == "mock/a"
    assert t.slept == [1.5]

    router, t = make([{"name": "m", "deployments": [deployment("a")], "fallbacks": ["f"]},
                      {"name": "f", "deployments": [deployment("fb")]}])
    ups = Upstreams({"mock/a": [err(429, retry_after=60)]})
    ctx = ctx_for(router, "m")
    assert await router.run(ctx, ups) == "mock/fb"
    assert t.slept == []  # 60 s > backoff_max_s: no sleeping, straight to the fallback
    assert ctx.served_model == "f"
    assert router.health.cooldown_remaining_s("mock/a") == 60  # and other requests skip it meanwhile


async def test_non_retryable_error_reaches_the_client_at_once() -> None:
    router, _ = make([{"name": "m", "deployments": [deployment("a"), deployment("b")]}])
    ups = Upstreams({"mock/a": [UpstreamError("bad", status=400, retryable=False)]})
    with pytest.raises(UpstreamError) as info:
        await router.run(ctx_for(router, "m"), ups)
    assert info.value.status == 400
    assert ups.calls == ["mock/a"]


async def test_fallback_chain_after_the_models_retries() -> None:
    router, _ = make([{"name": "m", "deployments": [deployment("a")], "fallbacks": ["f1", "f2"]},
                      {"name": "f1", "deployments": [deployment("b")]},
                      {"name": "f2", "deployments": [deployment("c")]}], max_retries=1)
    ups = Upstreams({"mock/a": [err(), err()], "mock/b": [err(), err()]})
    ctx = ctx_for(router, "m")
    assert await router.run(ctx, ups) == "mock/c"
    assert ups.calls == ["mock/a", "mock/a", "mock/b", "mock/b", "mock/c"]
    assert ctx.served_model == "f2"
    assert len(ctx.attempts) == 5


async def test_all_fail_raises_the_last_error() -> None:
    router, _ = make([{"name": "m", "deployments": [deployment("a")]}], max_retries=1)
    ups = Upstreams({"mock/a": [err(500), err(503)]})
    with pytest.raises(UpstreamError) as info:
        await router.run(ctx_for(router, "m"), ups)
    assert info.value.message == "fail 503"


async def test_cooldown_after_repeated_failures_then_probe_and_recovery() -> None:
    router, t = make([{"name": "m", "deployments": [deployment("a"), deployment("b")]}], max_retries=0)
    failing = Upstreams({"mock/a": [err()] * 10})
    for _ in range(3):  # a fails 3 times in a row (b answers each time)
        assert await router.run(ctx_for(router, "m"), failing) == "mock/b"
    assert not router.health.available("mock/a")
    failing.calls.clear()
    ctx = ctx_for(router, "m")
    assert await router.run(ctx, failing) == "mock/b"
    assert failing.calls == ["mock/b"]  # a is skipped while cooling down
    assert ctx.log["skipped_cooling_down"] == ["mock/a"]

    t.now += 31  # the cool-down is over: a gets one probe; one failure cools it down again at once
    failing.calls.clear()
    assert await router.run(ctx_for(router, "m"), failing) == "mock/b"
    assert failing.calls == ["mock/a", "mock/b"]
    assert not router.health.available("mock/a")

    t.now += 31  # recovered upstream: the probe succeeds and a serves again
    healthy = Upstreams()
    assert await router.run(ctx_for(router, "m"), healthy) == "mock/a"
    assert router.health.get("mock/a").consecutive_failures == 0


async def test_every_deployment_cooling_down_is_a_503_with_retry_after() -> None:
    router, t = make([{"name": "m", "deployments": [deployment("a")]}], max_retries=2, cooldown_failures=3)
    with pytest.raises(UpstreamError):
        await router.run(ctx_for(router, "m"), Upstreams({"mock/a": [err()] * 3}))
    t.now += 10
    with pytest.raises(UpstreamError) as info:
        await router.run(ctx_for(router, "m"), Upstreams())
    assert info.value.status == 503
    assert info.value.code == "deployments_cooling_down"
    assert info.value.headers["retry-after"] == "20"


async def test_a_gateway_error_from_one_deployment_fails_over() -> None:
    router, _ = make([{"name": "m", "deployments": [deployment("a"), deployment("b")]}])
    ups = Upstreams({"mock/a": [GatewayError("credential 'x' is not available", status=502)]})
    assert await router.run(ctx_for(router, "m"), ups) == "mock/b"


async def test_weighted_three_to_one_over_400_calls() -> None:
    """Tolerance: the share of the weight-3 deployment is 75% +/- 7 percentage points."""
    router, _ = make([{"name": "m", "routing": "weighted",
                       "deployments": [deployment("a", weight=3), deployment("b", weight=1)]}], seed=1234)
    ups = Upstreams()
    counts = Counter([await router.run(ctx_for(router, "m"), ups) for _ in range(400)])
    share = counts["mock/a"] / 400
    assert abs(share - 0.75) <= 0.07, counts


@pytest.mark.parametrize("seed", range(20))
def test_weighted_share_holds_for_many_seeds(seed: int) -> None:
    router, _ = make([{"name": "m", "routing": "weighted",
                       "deployments": [deployment("a", weight=3), deployment("b", weight=1)]}], seed=seed)
    model = router._config.model("m")
    assert model is not None
    firsts = Counter(router.order(model)[0].deployment_id for _ in range(400))
    assert abs(firsts["mock/a"] / 400 - 0.75) <= 0.07, firsts


async def test_latency_moves_traffic_off_a_deployment_that_slows_down() -> None:
    router, t = make([{"name": "m", "routing": "latency",
                       "deployments": [deployment("a"), deployment("b")]}])
    ups = Upstreams(t=t, latency={"mock/a": 0.1, "mock/b": 0.3})
    first = Counter([await router.run(ctx_for(router, "m"), ups) for _ in range(100)])
    assert first["mock/a"] >= 85, first
    ups.latency["mock/a"] = 2.0  # a slows down
    later = Counter([await router.run(ctx_for(router, "m"), ups) for _ in range(100)])
    assert later["mock/b"] >= 85, later


def test_cost_orders_by_price() -> None:
    router, _ = make([{"name": "m", "routing": "cost", "deployments": [
        deployment("dear", price={"input_per_mtok": 3, "output_per_mtok": 15}),
        deployment("cheap", price={"input_per_mtok": 0.25, "output_per_mtok": 1.25}),
        deployment("mid", price={"input_per_mtok": 1, "output_per_mtok": 5})]}])
    model = router._config.model("m")
    assert model is not None
    assert [d.model for d in router.order(model)] == ["cheap", "mid", "dear"]


def test_candidates_lists_every_deployment_of_the_chain() -> None:
    router, _ = make([{"name": "m", "deployments": [deployment("a"), deployment("b")], "fallbacks": ["f"]},
                      {"name": "f", "deployments": [deployment("c")]}])
    model = router._config.model("m")
    assert model is not None
    assert [t.deployment.model for t in router.candidates(model)] == ["a", "b", "c"]


def test_a_stream_broken_after_its_first_byte_counts_against_the_breaker() -> None:
    router, _ = make([{"name": "m", "deployments": [deployment("a")]}], cooldown_failures=2)
    ctx = ctx_for(router, "m")
    ctx.deployment = router._config.model("m").deployments[0]  # type: ignore[union-attr]
    for _ in range(2):
        router.stream_failed(ctx, err(500))
    assert not router.health.available("mock/a")


async def test_everything_rate_limited_upstream_is_a_429_with_retry_after() -> None:
    router, t = make([{"name": "m", "deployments": [deployment("a")]}], max_retries=0)
    with pytest.raises(UpstreamError) as first:
        await router.run(ctx_for(router, "m"), Upstreams({"mock/a": [err(429, retry_after=20)]}))
    assert first.value.status == 429
    t.now += 5
    with pytest.raises(UpstreamError) as info:
        await router.run(ctx_for(router, "m"), Upstreams())
    assert (info.value.status, info.value.code, info.value.headers["retry-after"]) == (429, "upstream_rate_limited",
                                                                                       "15")
