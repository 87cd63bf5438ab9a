"""The property of test_race.py, for hot scopes whose counters are sharded (budgets/shards.py).

Same load (streams, non-streams, clients leaving, upstreams failing) through the real HTTP
path and the serialized moto, with the scope marked hot (4 shards). A poller reads every shard
in one BatchGetItem (one atomic operation of the serialized moto) the whole time: the sum over
the shards never passes the limit. Afterwards nothing is reserved on any shard, the shards'
spend sums to the log lines exactly, and every admitted request is counted once. Plus: with
no upstream settling during a burst, exactly as many requests are admitted as the budget pays
for (no refusal while the shards' total could pay, crumbs included), and a scope that becomes
hot mid-period, then stops being hot, keeps every cent it had spent.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from aigw.admin.service import AdminService
from aigw.budgets import periods
from aigw.budgets.counters import budget_pk, rate_pk
from aigw.budgets.spec import Budget
from aigw.names import COUNTERS, ENTITIES
from tests.functional.budgets.helpers import ShardPoller, put_scope_limits, run_load, shard_snapshots
from tests.functional.budgets.test_race import mixed_plan, wait_records, worst_case_tokens, worst_case_usd

pytestmark = pytest.mark.slow

SHARDS = 4
TOTAL = 160
PRICE = {"input_per_mtok": 0.15, "output_per_mtok": 0.60}


def models(fake_openai: Any) -> list[dict[str, Any]]:
    return [
        {"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]},
        {"name": "mock-stream", "deployments": [{"provider": "mock", "model": "mock-stream"}]},
        {"name": "flaky", "price": PRICE, "deployments": [
            {"provider": "openai", "model": "gpt-4o-mini-fail-500", "api_base": fake_openai.base_url,
             "credentials": "openai-test"}]},
        {"name": "slow", "price": PRICE, "deployments": [
            {"provider": "openai", "model": "gpt-4o-mini-slow", "api_base": fake_openai.base_url,
             "credentials": "openai-test"}]},
    ]


def gateway(make_gateway: Any, fake_openai: Any, hot: list[str]) -> Any:
    return make_gateway({"models": models(fake_openai), "budgets": {"hot_scopes": hot, "shards": SHARDS},
                         "routing": {"max_retries": 1, "backoff_base_s": 0.005, "backoff_max_s": 0.01,
                                     "cooldown_failures": 100000}})


def settled(local: Any, pk: str, sk: str, records: list[dict[str, Any]]) -> tuple[Decimal, int]:
    """The shards hold nothing reserved, their spend is the log lines' to the pico-dollar, and
    they count every admitted request once: (spent, admitted)."""
    snaps = shard_snapshots(local, pk, sk, SHARDS)
    admitted = [r for r in records if "charged_usd" in r]
    assert not any(r.get("settlement_failed") for r in records)
    assert sum(s.reserved_usd for s in snaps) == 0 and sum(s.reserved_tokens for s in snaps) == 0, "a leak"
    spent = sum((s.spent_usd for s in snaps), Decimal(0))
    assert spent == sum(Decimal(r["charged_usd"]) for r in admitted)
    assert sum(s.requests for s in snaps) == len(admitted)
    held = sum((s.held_usd for s in snaps), Decimal(0))
    assert held == spent  # the loans between shards cancel out
    return spent, len(admitted)


def test_a_hot_team_budget_and_its_rate_window_are_never_passed(make_gateway: Any, fake_openai: Any) -> None:
    team = "hot-" + uuid.uuid4().hex[:8]
    gw = gateway(make_gateway, fake_openai, [f"team:{team}"])
    limit = worst_case_usd() * 40
    tpm = worst_case_tokens() * 60
    put_scope_limits(gw.local, "team", team, budgets=[Budget(period="day", limit_usd=limit)], tpm=tpm)
    # Three keys: mixed_plan gives request i the key i % len(keys) and the kind i % 8, so with four,
    # every client that leaves and every failing upstream would be the fourth key's (whose first
    # requests wait for its key record while the others fill the budget).
    keys = [gw.create_key(team=team) for _ in range(3)]
    now = time.time()
    day = periods.period_key("day", now)
    windows = [periods.window_key(now + s) for s in (0, 60)]  # the run may cross a minute
    budget = ShardPoller(gw.local, [(budget_pk("team", team), day)], SHARDS, limit_usd=limit).start()
    rate = ShardPoller(gw.local, [(rate_pk("team", team), "m#" + w) for w in windows], SHARDS,
                       limit_tokens=tpm).start()
    outcomes = asyncio.run(run_load(gw.url, mixed_plan(keys, TOTAL), spread_s=2.0))
    records = wait_records(gw, outcomes)
    budget.stop()
    rate.stop()

    assert not budget.violations and not rate.violations, (budget.violations + rate.violations)[:5]
    assert budget.observations > 20
    spent, admitted = settled(gw.local, budget_pk("team", team), day, records)
    assert spent <= limit and 30 <= admitted < TOTAL
    refused = [o for o in outcomes if o.status == 429]
    assert refused and all(o.code in ("budget_exceeded", "rate_limit_exceeded") for o in refused)
    assert all("x-aigw-budget-remaining-usd" in o.headers for o in refused if o.code == "budget_exceeded")
    kinds = {k: sum(o.kind == k for o in outcomes) for k in {o.kind for o in outcomes}}
    assert kinds.get("disconnect", 0) + kinds.get("upstream_error", 0) > 0, kinds  # settled on every path
    window_tokens = sum(s.held_tokens for w in windows
                        for s in shard_snapshots(gw.local, rate_pk("team", team), "m#" + w, SHARDS))
    assert window_tokens == sum(r["input_tokens"] + r["output_tokens"] for r in records if "charged_usd" in r)
    print(f"\nhot team ({SHARDS} shards, 3 keys): {TOTAL} requests, {admitted} admitted, {len(refused)} refused, spent "
          f"{spent} of {limit}, peak held {budget.peak_usd}; TPM {tpm}, peak {rate.peak_tokens} tokens; "
          f"{budget.observations} observations")


@pytest.fixture
def global_budget(local_aws: Any) -> Any:
    """Sets the gateway-wide budget for one test (relative to what the period has spent so far:
    the counter outlives tests), and removes it afterwards so no other test sees it."""
    table = local_aws.aws.table(ENTITIES)

    def put(extra: Decimal) -> tuple[Decimal, str]:
        week = periods.period_key("week", time.time())
        snaps = shard_snapshots(local_aws, budget_pk("global", "global"), week, SHARDS)
        limit = sum((s.held_usd for s in snaps), Decimal(0)) + extra
        put_scope_limits(local_aws, "global", "global", budgets=[Budget(period="week", limit_usd=limit)])
        return limit, week

    yield put
    table.delete_item(Key={"pk": "GLOBAL", "sk": "GLOBAL"})


def test_the_global_budget_hot_by_default_is_never_passed(make_gateway: Any, fake_openai: Any,
                                                          global_budget: Any) -> None:
    limit, week = global_budget(worst_case_usd() * 40)
    gw = make_gateway({"models": models(fake_openai), "budgets": {"shards": SHARDS},  # hot_scopes: the default
                       "routing": {"max_retries": 1, "backoff_base_s": 0.005, "cooldown_failures": 100000}})
    keys = [gw.create_key(team="g-" + uuid.uuid4().hex[:6]) for _ in range(4)]
    pk = budget_pk("global", "global")
    before = sum((s.spent_usd for s in shard_snapshots(gw.local, pk, week, SHARDS)), Decimal(0))
    poller = ShardPoller(gw.local, [(pk, week)], SHARDS, limit_usd=limit).start()
    outcomes = asyncio.run(run_load(gw.url, mixed_plan(keys, TOTAL), spread_s=2.0))
    records = wait_records(gw, outcomes)
    poller.stop()

    assert not poller.violations, poller.violations[:5]
    snaps = shard_snapshots(gw.local, pk, week, SHARDS)
    assert len(snaps) == SHARDS and all(s.layout == f"{SHARDS}/{int(limit * 10**12)}/-/-" for s in snaps)
    assert sum(s.reserved_usd for s in snaps) == 0
    spent = sum((s.spent_usd for s in snaps), Decimal(0)) - before
    assert spent == sum(Decimal(r["charged_usd"]) for r in records if "charged_usd" in r)
    assert sum((s.held_usd for s in snaps), Decimal(0)) <= limit
    refused = [o for o in outcomes if o.status == 429]
    assert refused and all(o.code == "budget_exceeded" for o in refused)
    view = AdminService(lambda: gw.local.aws.table(ENTITIES), lambda: gw.local.aws.table(COUNTERS),
                        clock=time.time).spend.get_budgets("global", "global")
    (row,) = view["budgets"]
    assert Decimal(str(row["spent_usd"])) == sum((s.spent_usd for s in snaps), Decimal(0))  # the view sums shards
    print(f"\nglobal ({SHARDS} shards): {TOTAL} requests, {len(refused)} refused, spent {spent}, "
          f"peak held {poller.peak_usd} of {limit}, {poller.observations} observations")


def _probe(gw: Any, model: str) -> Decimal:
    """What one request of `model` reserves (on a key and team of its own)."""
    key = gw.create_key(team="probe-" + uuid.uuid4().hex[:6], budgets=[Budget(period="day", limit_usd=Decimal(1))])
    count = len(gw.records)
    response = httpx.post(gw.base_url + "/chat/completions", headers={"authorization": f"Bearer {key}"},
                          json={"model": model, "max_tokens": 30,
                                "messages": [{"role": "user", "content": "count the budget words please"}]},
                          timeout=10)
    assert response.status_code == 200
    return Decimal(gw.last_record(count + 1)["reserved_usd"])


async def _burst(url: str, keys: list[str], n: int) -> list[httpx.Response]:
    body = {"model": "slow", "max_tokens": 30,
            "messages": [{"role": "user", "content": "count the budget words please"}]}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=n + 5)) as client:
        return await asyncio.gather(*(client.post(url + "/v1/chat/completions", json=body,
                                                  headers={"authorization": f"Bearer {keys[i % len(keys)]}"})
                                      for i in range(n)))


def test_no_refusal_while_the_shards_together_can_pay(make_gateway: Any, fake_openai: Any) -> None:
    team = "crumbs-" + uuid.uuid4().hex[:8]
    gw = gateway(make_gateway, fake_openai, [f"team:{team}"])
    worst = _probe(gw, "slow")
    worst = _probe(gw, "slow")  # (after the deployment's first answer: nothing left to learn)
    # 10 worst cases over 4 shards: 2.5 each, so the last two requests fit only in the crumbs
    # the first eight leave on every shard. Nothing settles during the burst (the upstream
    # waits 1.5 s), so exactly 10 must be admitted.
    limit = worst * 10
    put_scope_limits(gw.local, "team", team, budgets=[Budget(period="day", limit_usd=limit)])
    keys = [gw.create_key(team=team) for _ in range(3)]
    start = len(gw.records)
    responses = asyncio.run(_burst(gw.url, keys, 16))
    gw.last_record(start + 16, timeout=30)
    records = [r for r in gw.records[start:] if r["team"] == team]
    admitted = [r for r in records if "charged_usd" in r]
    assert all(Decimal(r["reserved_usd"]) == worst for r in admitted)  # the setup holds: one worst case each
    assert sorted(r.status_code for r in responses) == [200] * 10 + [429] * 6
    assert all(r.json()["error"]["code"] == "budget_exceeded" for r in responses if r.status_code == 429)
    spent, count = settled(gw.local, budget_pk("team", team), periods.period_key("day", time.time()), records)
    assert count == 10 and spent <= limit


def test_a_scope_that_becomes_hot_then_cold_again_keeps_its_spend(make_gateway: Any, fake_openai: Any) -> None:
    team = "moving-" + uuid.uuid4().hex[:8]
    limit = worst_case_usd() * 30
    day = periods.period_key("day", time.time())
    pk = budget_pk("team", team)
    records: list[dict[str, Any]] = []
    refused: list[int] = []
    for hot in ([], [f"team:{team}"], []):  # plain, then sharded (laid out over what it spent), then plain
        gw = gateway(make_gateway, fake_openai, hot)
        put_scope_limits(gw.local, "team", team, budgets=[Budget(period="day", limit_usd=limit)])
        keys = [gw.create_key(team=team) for _ in range(2)]
        poller = ShardPoller(gw.local, [(pk, day)], SHARDS, limit_usd=limit).start()
        plan = [(keys[i % 2], "mock-fast", False, False) for i in range(30)]
        start = len(gw.records)
        outcomes = asyncio.run(run_load(gw.url, plan))
        gw.last_record(start + len(plan), timeout=30)
        poller.stop()
        assert not poller.violations, poller.violations[:5]
        assert all(o.status in (200, 429) for o in outcomes)
        refused.append(sum(o.status == 429 for o in outcomes))
        records += [r for r in gw.records[start:] if r["team"] == team]
        snaps = shard_snapshots(gw.local, pk, day, SHARDS)
        assert (snaps[0].layout is None) == (not hot)  # sharded: laid out; plain again: the mark lifted
    spent, admitted = settled(gw.local, pk, day, records)
    # 90 requests for 30 worst cases: the last phase runs out, on what all three spent together.
    assert spent <= limit and refused[-1] > 0 and admitted + sum(refused) == 90
    print(f"\nplain -> hot -> plain: {admitted} admitted, refused per phase {refused}, spent {spent} of {limit}")
