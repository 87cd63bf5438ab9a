"""End users behind one key, through the official SDKs: per-end-user RPM/TPM so one user of an
application cannot exhaust its key, enforced in admission's one transaction (exact under
concurrency), and spend per end user in the usage aggregates, never in a metric."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import anthropic
import openai
import pytest

from aigw.admin.routes import service_for
from aigw.budgets.counters import rate_pk
from tests.functional.budgets.helpers import counter_items, key_id_of, snapshots

MESSAGES: Any = [{"role": "user", "content": "count the budget words please"}]


@pytest.fixture
def gw(make_gateway: Any) -> Any:
    return make_gateway({"models": [
        {"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]}]})


@pytest.fixture(autouse=True)
def one_window() -> None:
    """Start well inside a minute: every request of a test lands in the same rate window."""
    left = 60 - time.time() % 60
    if left < 8:
        time.sleep(left + 0.1)


def team() -> str:
    return "endusers-" + uuid.uuid4().hex[:8]


def client(gw: Any, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0)


def test_each_end_user_of_a_key_has_its_own_rpm(gw: Any) -> None:
    key = gw.create_key(team=team(), end_user_rpm=3)
    key_id = key_id_of(gw, key)
    sdk = client(gw, key)
    for _ in range(3):
        sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=10, user="alice")
    with pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=10, user="alice")
    error = raised.value
    assert error.code == "rate_limit_exceeded"
    assert f"end user 'alice' of key '{key_id}'" in error.message and "3 of 3 requests per minute" in error.message
    assert 1 <= int(error.response.headers["retry-after"]) <= 60 and "x-should-retry" not in error.response.headers
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    refused = gw.last_record(4)
    assert refused["end_user"] == "alice" and refused["refused_scope"] == f"end user 'alice' of key '{key_id}'"
    # Another user of the same key, and the key itself without a user, are not held back.
    assert sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=10, user="bob").choices
    assert sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=10).choices


def test_every_way_of_naming_the_end_user_counts_against_the_same_window(gw: Any) -> None:
    key = gw.create_key(team=team(), end_user_rpm=3)
    sdk = client(gw, key)
    sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=10,
                                extra_headers={"x-aigw-end-user": "carol#1"})
    sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=10, safety_identifier="carol#1")
    anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0).messages.create(
        model="mock-fast", max_tokens=10, messages=MESSAGES, metadata={"user_id": "carol#1"})
    with pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=10, user="carol#1")
    assert "end user 'carol#1'" in raised.value.message  # the id as the application wrote it
    assert [r["end_user"] for r in gw.records] == ["carol#1"] * 4


def test_an_end_user_tpm_refuses_what_would_pass_it(gw: Any) -> None:
    key = gw.create_key(team=team(), end_user_tpm=70, rpm=1000)  # one request reserves ~53, uses ~25
    sdk = client(gw, key)
    sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=40, user="dave")
    with pytest.raises(openai.RateLimitError) as raised:
        sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=40, user="dave")
    assert "tokens per minute (TPM)" in raised.value.message and "end user 'dave'" in raised.value.message
    assert sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=40, user="erin").choices


def test_concurrent_requests_of_one_end_user_admit_exactly_its_rpm(gw: Any) -> None:
    rpm, total = 15, 60
    key = gw.create_key(team=team(), end_user_rpm=rpm)
    key_id = key_id_of(gw, key)
    sdk = openai.AsyncOpenAI(base_url=gw.base_url, api_key=key, max_retries=0)

    async def one(user: str) -> str:
        try:
            await sdk.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=10, user=user)
            return "ok"
        except openai.RateLimitError as exc:
            return str(exc.code)

    async def burst() -> list[str]:
        return await asyncio.gather(*(one("frank" if i % 4 else "gina") for i in range(total)))

    results = asyncio.run(burst())
    frank = [r for i, r in enumerate(results) if i % 4]
    gina = [r for i, r in enumerate(results) if not i % 4]
    assert frank.count("ok") == rpm and set(frank) == {"ok", "rate_limit_exceeded"}
    assert gina.count("ok") == rpm  # 15 requests, all within her own limit
    windows = snapshots(counter_items(gw.local, rate_pk("end_user", f"{key_id}:frank")))
    assert sum(w.requests for w in windows) == rpm  # the counter took exactly the admitted ones
    print(f"\nend-user RPM {rpm}: {len(frank)} concurrent requests of one user, {frank.count('ok')} admitted")


def test_usage_by_end_user_and_never_a_metric_dimension(gw: Any) -> None:
    research, web = team(), team()
    first, second = gw.create_key(team=research), gw.create_key(team=web)
    for key, user, times in ((first, "alice", 3), (first, "bob#2", 1), (second, "alice", 2)):
        for _ in range(times):
            client(gw, key).chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=10, user=user)
    gw.last_record(6)
    usage = service_for(gw.services).usage(by="user")
    rows = {(r["team"], r["user"]): r for r in usage["rows"] if r["team"] in (research, web)}
    assert {k: r["requests"] for k, r in rows.items()} == {(research, "alice"): 3, (research, "bob#2"): 1,
                                                            (web, "alice"): 2}
    spent = sum(r["cost_usd"] for r in gw.records if r["end_user"] == "alice" and r["team"] == research)
    assert abs(float(rows[(research, "alice")]["cost_usd"]) - spent) < 1e-9
    documents = [json.loads(line) for line in gw.log.getvalue().splitlines() if '"_aws"' in line]
    assert documents and not any("alice" in json.dumps(d["_aws"]) or "end_user" in json.dumps(d["_aws"])
                                 for d in documents)
    assert not any("alice" in str(v) for d in documents for k, v in d.items() if k not in ("end_user",))
