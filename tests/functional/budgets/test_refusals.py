"""Refusals clients can act on, through the official SDKs at their default retry settings:
a budget refusal (or a request that can never fit) says `x-should-retry: false`, so the SDK
raises at once instead of sleeping until the period ends; a rate-window refusal keeps a
short Retry-After; responses carry OpenAI's x-ratelimit-* headers. And budget-aware
max_tokens: a tight token budget lowers an unset limit instead of refusing every request."""

from __future__ import annotations

import re
import time
import uuid
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import openai
import pytest

from aigw.budgets.spec import Budget

MESSAGES = [{"role": "user", "content": "count the budget words please"}]


@pytest.fixture
def gw(make_gateway: Any, fake_openai: Any) -> Any:
    return make_gateway({"models": [
        {"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]},
        {"name": "gpt-4o-mini", "deployments": [{"provider": "openai", "model": "gpt-4o-mini",
                                                 "api_base": fake_openai.base_url, "credentials": "openai-test"}]},
    ]})


def team() -> str:
    return "refusals-" + uuid.uuid4().hex[:8]


def test_openai_sdk_raises_a_budget_refusal_at_once(gw: Any) -> None:
    key = gw.create_key(team=team(), budgets=[Budget(period="month", limit_usd=Decimal("0.000001"))])
    client = openai.OpenAI(base_url=gw.base_url, api_key=key)  # default retries (2)
    started = time.monotonic()
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=30)  # type: ignore[arg-type]
    assert time.monotonic() - started < 2.0
    headers = raised.value.response.headers
    assert headers["x-should-retry"] == "false" and raised.value.code == "budget_exceeded"
    assert len([r for r in gw.records if r["key_id"] == gw.records[-1]["key_id"]]) == 1  # no retry reached us


def test_anthropic_sdk_raises_a_budget_refusal_at_once(gw: Any) -> None:
    key = gw.create_key(team=team(), budgets=[Budget(period="day", limit_usd=Decimal("0.000001"))])
    client = anthropic.Anthropic(base_url=gw.url, api_key=key)  # default retries (2), honours Retry-After
    started = time.monotonic()
    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(model="mock-fast", max_tokens=30, messages=MESSAGES)  # type: ignore[arg-type]
    assert time.monotonic() - started < 2.0
    assert raised.value.response.headers["x-should-retry"] == "false"


def test_a_request_that_can_never_fit_is_not_retried_and_not_told_to_wait(gw: Any) -> None:
    key = gw.create_key(team=team(), budgets=[Budget(period="day", limit_tokens=100)])
    response = httpx.post(gw.base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"},
                          json={"model": "mock-fast", "messages": MESSAGES, "max_tokens": 500}, timeout=10)
    assert response.status_code == 429 and response.json()["error"]["code"] == "budget_exceeded"
    assert response.headers["x-should-retry"] == "false" and "retry-after" not in response.headers
    assert "more than the limit of 100 tokens" in response.json()["error"]["message"]


def test_a_rate_window_refusal_keeps_a_short_retry_after_and_openai_headers(gw: Any) -> None:
    key = gw.create_key(team=team(), rpm=1, tpm=100_000)
    headers = {"authorization": f"Bearer {key}"}
    body = {"model": "mock-fast", "messages": MESSAGES, "max_tokens": 30}
    first = httpx.post(gw.base_url + "/chat/completions", headers=headers, json=body, timeout=10)
    assert first.status_code == 200
    assert first.headers["x-ratelimit-limit-requests"] == "1" and first.headers["x-ratelimit-limit-tokens"] == "100000"
    assert re.fullmatch(r"(\d+m)?\d+(\.\d+)?s|\d+ms", first.headers["x-ratelimit-reset-requests"])
    assert re.fullmatch(r"(\d+m)?\d+(\.\d+)?s|\d+ms", first.headers["x-ratelimit-reset-tokens"])
    assert int(first.headers["x-ratelimit-remaining-requests"]) == 0
    second = httpx.post(gw.base_url + "/chat/completions", headers=headers, json=body, timeout=10)
    assert second.status_code == 429 and second.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(second.headers["retry-after"]) <= 60 and "x-should-retry" not in second.headers
    assert second.headers["x-ratelimit-remaining-requests"] == "0"


def test_a_2000_token_budget_serves_requests_without_max_tokens(gw: Any, fake_openai: Any) -> None:
    # `aigw keys create --budget 2000tokens/day`: the default worst case is 4096 output tokens.
    key = gw.create_key(team=team(), budgets=[Budget(period="day", limit_tokens=2_000)])
    client = openai.OpenAI(base_url=gw.base_url, api_key=key)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    adjusted = int(raw.headers["x-aigw-max-tokens-adjusted"])
    assert 256 <= adjusted < 2_000 and raw.parse().choices[0].message.content
    assert fake_openai.calls[-1].body["max_tokens"] == adjusted  # what went upstream
    # A limit the client set is never changed.
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=40)  # type: ignore[arg-type]
    assert fake_openai.calls[-1].body["max_tokens"] == 40
    # Spend the budget down: the gateway keeps lowering the limit, then refuses below the floor.
    statuses = []
    for _ in range(12):
        response = httpx.post(gw.base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"},
                              json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "word " * 300}]},
                              timeout=10)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert response.headers["x-should-retry"] == "false"
            assert "at least 256 output tokens" in response.json()["error"]["message"]
            break
        assert int(response.headers["x-aigw-max-tokens-adjusted"]) >= 256
    assert statuses[-1] == 429 and statuses.count(200) >= 1
