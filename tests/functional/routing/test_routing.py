"""Routing through the running gateway: strategies, retries with Retry-After, failover
before the first byte, cool-down and recovery, and well-formed errors when all fails."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from typing import Any

import anthropic
import httpx
import openai
import pytest

from aigw.routing.router import Router
from tests.fakes.clock import FakeTime
from tests.fakes.provider_fixtures import last_record

PRICE = {"input_per_mtok": 3, "output_per_mtok": 15}


def claude(url: str, upstream: str, id: str, **extra: Any) -> dict[str, Any]:
    return {"provider": "anthropic", "model": upstream, "api_base": url, "credentials": "anthropic-test", "id": id,
            "price": PRICE, **extra}


def oai(gw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)


def ask(gw: Any, model: str, stream: bool = False) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body["stream"] = True
    response = httpx.post(gw.base_url + "/chat/completions", json=body, timeout=10,
                          headers={"authorization": f"Bearer {gw.key}"})
    return response


def test_weighted_three_to_one_over_400_requests(provider_gateway: Any) -> None:
    """Tolerance: the weight-3 deployment serves 75% +/- 7 points of 400 requests (binomial
    sd 2.2 points: 3.2 sd). Stages off: this measures routing, not admission."""
    gw = provider_gateway({"models": [{"name": "w", "routing": "weighted", "deployments": [
        {"provider": "mock", "model": "mock-fast", "id": "heavy", "weight": 3},
        {"provider": "mock", "model": "mock-fast", "id": "light", "weight": 1}]}]}, stages=[])
    gw.services.pipeline.router = Router(gw.services.config, rng=random.Random(2026))

    async def run() -> Counter[str]:
        async with httpx.AsyncClient(base_url=gw.base_url, headers={"authorization": f"Bearer {gw.key}"},
                                     timeout=10) as client:
            async def one() -> str:
                response = await client.post("/chat/completions", json={
                    "model": "w", "messages": [{"role": "user", "content": "hi"}]})
                return str(response.headers["x-aigw-deployment"])

            served: Counter[str] = Counter()
            for _ in range(8):  # 8 waves of 50 concurrent requests
                served.update(await asyncio.gather(*(one() for _ in range(50))))
            return served

    served = asyncio.run(run())
    assert sum(served.values()) == 400
    assert abs(served["heavy"] / 400 - 0.75) <= 0.07, served


def test_latency_routing_moves_traffic_off_a_deployment_that_slows_down(provider_gateway: Any,
                                                                         fake_anthropic: Any) -> None:
    url = fake_anthropic.url
    gw = provider_gateway({"models": [{"name": "fastest", "routing": "latency", "deployments": [
        claude(url, "claude-sonnet-4-5-a", "a"), claude(url, "claude-sonnet-4-5-b", "b")]}]}, stages=[])
    gw.services.pipeline.router = Router(gw.services.config, rng=random.Random(1))
    delays = fake_anthropic.fake.delays
    delays.update({"claude-sonnet-4-5-a": 0.0, "claude-sonnet-4-5-b": 0.3})  # gaps far above scheduling noise
    before = Counter(ask(gw, "fastest", stream=True).headers["x-aigw-deployment"] for _ in range(12))
    assert before["a"] >= 10, before
    delays["claude-sonnet-4-5-a"] = 1.0  # a's first byte slows down
    after = [ask(gw, "fastest", stream=True).headers["x-aigw-deployment"] for _ in range(14)]
    assert Counter(after[2:])["b"] >= 11, after  # after a sample or two, b takes the traffic


def test_cooldown_and_recovery(provider_gateway: Any, fake_anthropic: Any) -> None:
    url = fake_anthropic.url
    gw = provider_gateway({"models": [{"name": "ha", "deployments": [
        claude(url, "claude-sonnet-4-5-primary", "primary"), claude(url, "claude-sonnet-4-5-backup", "backup")]}],
        "routing": {"max_retries": 0, "cooldown_failures": 2, "cooldown_s": 30}})
    t = FakeTime(advance_on_sleep=False)
    gw.services.pipeline.router = Router(gw.services.config, clock=t.clock, sleep=t.sleep)
    fake_anthropic.fake.failing.add("claude-sonnet-4-5-primary")
    for _ in range(2):
        response = ask(gw, "ha")
        assert (response.headers["x-aigw-deployment"], response.headers["x-aigw-attempts"]) == ("backup", "2")
    response = ask(gw, "ha")  # primary is cooling down: not even tried
    assert (response.headers["x-aigw-deployment"], response.headers["x-aigw-attempts"]) == ("backup", "1")
    assert last_record(gw, 3)["skipped_cooling_down"] == ["primary"]
    fake_anthropic.fake.failing.clear()
    t.now += 31
    response = ask(gw, "ha")  # the cool-down is over and primary recovered: it serves again
    assert (response.headers["x-aigw-deployment"], response.headers["x-aigw-attempts"]) == ("primary", "1")


def test_retry_after_is_honoured_then_the_client_gets_a_429(provider_gateway: Any, fake_anthropic: Any) -> None:
    gw = provider_gateway({"models": [{"name": "limited", "deployments": [
        claude(fake_anthropic.url, "claude-sonnet-4-5-fail-429", "limited")]}],
        "routing": {"max_retries": 2, "backoff_max_s": 5, "cooldown_failures": 10}})
    t = FakeTime(advance_on_sleep=False)
    gw.services.pipeline.router = Router(gw.services.config, clock=t.clock, sleep=t.sleep)
    with pytest.raises(openai.RateLimitError) as info:
        oai(gw).chat.completions.create(model="limited", messages=[{"role": "user", "content": "hi"}])
    assert t.slept == [1.0, 1.0]  # the upstream's Retry-After: 1, twice
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.response.headers["x-aigw-attempts"] == "3"
    assert len(last_record(gw)["path"]) == 3


def test_slow_first_byte_times_out_and_the_stream_fails_over(provider_gateway: Any, fake_anthropic: Any) -> None:
    url = fake_anthropic.url
    gw = provider_gateway({"models": [
        {"name": "primary", "deployments": [claude(url, "claude-sonnet-4-5-slow", "slow", timeout_s=0.3)],
         "fallbacks": ["backup"]},
        {"name": "backup", "deployments": [claude(url, "claude-haiku-4-5", "haiku")]}],
        "routing": {"max_retries": 0}})
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    started = time.monotonic()
    with client.messages.stream(model="primary", max_tokens=20, messages=[{"role": "user", "content": "hi"}]) as s:
        text = "".join(s.text_stream)
    assert text == "Claude claude-haiku-4-5 heard: hi"
    assert time.monotonic() - started < 5  # the slow upstream (1.5 s) was not waited for twice
    record = last_record(gw)
    assert record["path"] == ["primary:slow:504", "backup:haiku:200"]
    assert record["served_model"] == "backup"


def test_everything_failing_gives_well_formed_errors_in_both_envelopes(provider_gateway: Any,
                                                                       fake_anthropic: Any) -> None:
    gw = provider_gateway({"models": [{"name": "down", "deployments": [
        claude(fake_anthropic.url, "claude-sonnet-4-5-fail-500", "down")]}],
        "routing": {"max_retries": 1, "backoff_base_s": 0.01}})
    response = ask(gw, "down")
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"
    assert response.headers["x-aigw-attempts"] == "2"
    with pytest.raises(anthropic.InternalServerError) as info:
        anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0).messages.create(
            model="down", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert info.value.body == {"type": "error", "error": {"type": "api_error",
                                                          "message": "upstream error (500): fake failure 500"}}


def test_connection_refused_fails_over(provider_gateway: Any, fake_anthropic: Any) -> None:
    gw = provider_gateway({"models": [{"name": "m", "deployments": [
        {"provider": "openai-compatible", "model": "llama", "api_base": "http://127.0.0.1:9/v1", "id": "nowhere",
         "price": PRICE},
        claude(fake_anthropic.url, "claude-sonnet-4-5", "claude")]}]}, stages=[])
    response = ask(gw, "m")
    assert response.status_code == 200
    assert (response.headers["x-aigw-deployment"], response.headers["x-aigw-attempts"]) == ("claude", "2")
    assert last_record(gw)["path"] == ["m:nowhere:502", "m:claude:200"]
