"""The property: spend never exceeds a budget, at any instant, under any concurrency.

Hundreds of concurrent requests (streaming, non-streaming, clients leaving mid-stream,
upstreams failing) race against one budget through a real HTTP DynamoDB endpoint (moto,
serialized per operation like DynamoDB's per-item writes). A poller reads the counters the
whole time. Afterwards: nothing is reserved, and the counter equals the sum of the costs in
the per-request log lines, exactly (Decimal arithmetic end to end).
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest

from aigw import tokens
from aigw.budgets.counters import budget_pk, rate_pk
from aigw.budgets.spec import Budget
from tests.functional.budgets.helpers import (
    Poller,
    budget_items,
    key_id_of,
    put_scope_limits,
    rate_items,
    run_load,
    snapshots,
)
from tests.functional.fuzz.moto_process import local_aws_in_a_child  # noqa: F401 (local_aws, in a child)

pytestmark = pytest.mark.slow


MAX_TOKENS = 30
TEXT = "count the budget words please"
PRICE = {"input_per_mtok": 0.15, "output_per_mtok": 0.60}
TOTAL = 240
SPREAD_S = 2.0  # half the requests in one burst, the rest over this long: admissions race settlements


def worst_case_usd() -> Decimal:
    prompt = tokens.count_chat_prompt_tokens([{"role": "user", "content": TEXT}], "mock-fast")
    return (prompt * Decimal("0.15") + MAX_TOKENS * Decimal("0.60")) / Decimal(1_000_000)


def worst_case_tokens() -> int:
    return tokens.count_chat_prompt_tokens([{"role": "user", "content": TEXT}], "mock-fast") + MAX_TOKENS


@pytest.fixture
def gw(make_gateway: Any, fake_openai: Any) -> Any:
    return make_gateway({
        "models": [
            {"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]},
            {"name": "mock-stream", "deployments": [{"provider": "mock", "model": "mock-stream"}]},
            {"name": "flaky", "price": PRICE, "deployments": [
                {"provider": "openai", "model": "gpt-4o-mini-fail-500", "api_base": fake_openai.base_url,
                 "credentials": "openai-test"}]},
        ],
        "routing": {"max_retries": 1, "backoff_base_s": 0.005, "backoff_max_s": 0.01, "cooldown_failures": 100000},
    })


def mixed_plan(keys: list[str], total: int = TOTAL) -> list[tuple[str, str, bool, bool]]:
    """(key, model, stream, disconnect): streams, non-streams, disconnects and upstream failures."""
    plan = []
    for i in range(total):
        key = keys[i % len(keys)]
        kind = i % 8
        if kind in (0, 1, 2):
            plan.append((key, "mock-stream", True, False))
        elif kind == 3:
            plan.append((key, "mock-stream", True, True))  # the client leaves mid-stream
        elif kind in (4, 5):
            plan.append((key, "mock-fast", False, False))
        elif kind == 6:
            plan.append((key, "mock-stream", False, False))
        else:
            plan.append((key, "flaky", i % 16 == 7, False))  # upstream 500s after retries
    return plan


def wait_records(gw: Any, outcomes: list[Any]) -> list[dict[str, Any]]:
    """Every request's log record; no request may lose its connection."""
    dropped = [o.error for o in outcomes if o.kind == "transport_error"]
    assert not dropped, f"{len(dropped)} requests lost their connection: {dropped}"
    gw.last_record(len(outcomes), timeout=30)
    return list(gw.records)


def check_settled(records: list[dict[str, Any]], items: list[dict[str, Any]], *, refused_code: str) -> dict[str, Any]:
    admitted = [r for r in records if "charged_usd" in r]
    refused = [r for r in records if r["status"] == 429]
    assert len(admitted) + len(refused) == len(records)
    assert not any(r.get("settlement_failed") for r in records)
    snaps = snapshots(items)
    reserved_usd = sum(s.reserved_usd for s in snaps)
    reserved_tokens = sum(s.reserved_tokens for s in snaps)
    assert reserved_usd == 0 and reserved_tokens == 0, "a reservation leaked"
    spent = sum((s.spent_usd for s in snaps), Decimal(0))
    assert spent == sum(Decimal(r["charged_usd"]) for r in admitted)  # exact
    assert abs(float(spent) - sum(r["cost_usd"] for r in admitted)) < 1e-9  # and the log's float agrees
    assert sum(s.requests for s in snaps) == len(admitted)
    assert all(refused_code in (r.get("error") or "") for r in refused), \
        [r.get("error") for r in refused if refused_code not in (r.get("error") or "")][:3]
    return {"admitted": len(admitted), "refused": len(refused), "spent": spent}


def test_key_budget_never_overspent(gw: Any) -> None:
    team = "race-" + uuid.uuid4().hex[:8]
    limit = worst_case_usd() * 50  # at most 50 worst cases in flight at once
    key = gw.create_key(team=team, budgets=[Budget(period="month", limit_usd=limit)])
    key_id = key_id_of(gw, key)
    pk = budget_pk("key", key_id)
    poller = Poller(gw.local, [pk], limit_usd=limit).start()
    outcomes = asyncio.run(run_load(gw.url, mixed_plan([key]), spread_s=SPREAD_S))
    records = wait_records(gw, outcomes)
    poller.stop()

    assert not poller.violations, poller.violations[:5]
    assert poller.observations > 20
    items = budget_items(gw.local, "key", key_id)
    stats = check_settled(records, items, refused_code="budget")
    assert stats["spent"] <= limit
    refused = [o for o in outcomes if o.status == 429]
    assert refused and all(o.code == "budget_exceeded" for o in refused)
    assert all("retry-after" in o.headers and "x-aigw-budget-remaining-usd" in o.headers for o in refused)
    assert any(o.kind == "disconnect" for o in outcomes)
    assert any(o.kind == "upstream_error" for o in outcomes)
    leavers = [r for r in records if r.get("disconnected")]
    assert leavers and all(r["usage_estimated"] and Decimal(r["charged_usd"]) > 0 for r in leavers)
    admitted_ok = [o for o in outcomes if o.status == 200]
    assert admitted_ok and all("x-aigw-budget-remaining-usd" in o.headers for o in admitted_ok)
    assert 50 <= stats["admitted"] < TOTAL
    print(f"\nkey budget: {TOTAL} requests, {stats['admitted']} admitted, {stats['refused']} refused, "
          f"spent {stats['spent']} of {limit}, peak held {poller.max_held_usd}, {poller.observations} observations")


def test_team_budget_shared_by_keys_never_overspent(gw: Any) -> None:
    team = "race-team-" + uuid.uuid4().hex[:8]
    limit = worst_case_usd() * 50
    put_scope_limits(gw.local, "team", team, budgets=[Budget(period="day", limit_usd=limit)])
    keys = [gw.create_key(team=team) for _ in range(4)]
    poller = Poller(gw.local, [budget_pk("team", team)], limit_usd=limit).start()
    outcomes = asyncio.run(run_load(gw.url, mixed_plan(keys), spread_s=SPREAD_S))
    records = wait_records(gw, outcomes)
    poller.stop()

    assert not poller.violations, poller.violations[:5]
    stats = check_settled(records, budget_items(gw.local, "team", team), refused_code="budget")
    assert stats["spent"] <= limit
    refused = [o for o in outcomes if o.status == 429]
    assert refused and all(o.code == "budget_exceeded" for o in refused)
    assert len({r["key_id"] for r in records if "charged_usd" in r}) >= 3  # the keys really share it
    print(f"\nteam budget: {TOTAL} requests over 4 keys, {stats['admitted']} admitted, {stats['refused']} refused, "
          f"spent {stats['spent']} of {limit}, peak held {poller.max_held_usd}")


def test_tpm_limit_never_exceeded(gw: Any) -> None:
    team = "race-tpm-" + uuid.uuid4().hex[:8]
    tpm = worst_case_tokens() * 50
    key = gw.create_key(team=team, tpm=tpm)
    key_id = key_id_of(gw, key)
    poller = Poller(gw.local, [rate_pk("key", key_id)], limit_tokens=tpm).start()
    outcomes = asyncio.run(run_load(gw.url, mixed_plan([key]), spread_s=SPREAD_S))
    records = wait_records(gw, outcomes)
    poller.stop()

    assert not poller.violations, poller.violations[:5]
    snaps = snapshots(rate_items(gw.local, "key", key_id))
    admitted = [r for r in records if "charged_usd" in r]
    assert sum(s.reserved_tokens for s in snaps) == 0
    assert sum(s.held_tokens for s in snaps) == sum(r["input_tokens"] + r["output_tokens"] for r in admitted)
    assert sum(s.requests for s in snaps) == len(admitted)
    refused = [o for o in outcomes if o.status == 429]
    assert refused and all(o.code == "rate_limit_exceeded" for o in refused)
    assert all("x-ratelimit-remaining-tokens" in o.headers and "retry-after" in o.headers for o in refused)
    print(f"\nTPM {tpm}: {TOTAL} requests, {len(admitted)} admitted, {len(refused)} refused, "
          f"peak held {poller.max_held_tokens} tokens")
