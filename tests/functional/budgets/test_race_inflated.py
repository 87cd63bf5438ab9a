"""Races against an upstream whose tokenizer counts more than tiktoken (docs/DESIGN.md §8).

The upstream is an `openai-compatible` server of an unknown family (tests/fakes/
inflating_upstream.py). At 1.3x tiktoken plus framing - what the default family bound
covers - spend must stay under the limit at every instant with no overrun at all, from the
very first burst. At 3x - beyond any bound - the first burst overruns: every overrun is
logged with its amount, the counter can exceed the limit by no more than the overruns
logged, the scope refuses the next request, and the learned ratio stops further overruns.
Both: nothing left reserved, and the counters equal the sums of the log lines, exactly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from aigw.budgets.counters import budget_pk
from aigw.budgets.spec import Budget
from aigw.local.environment import serve_in_thread
from tests.fakes.inflating_upstream import InflatingUpstream
from tests.functional.budgets.helpers import Poller, budget_items, key_id_of, run_load, snapshots
from tests.functional.fuzz.moto_process import local_aws_in_a_child  # noqa: F401 (local_aws, in a child)

pytestmark = pytest.mark.slow


TOTAL = 200
PRICE = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[InflatingUpstream, str]]:
    fake = InflatingUpstream()
    server = serve_in_thread(fake.app())
    yield fake, server.url + "/v1"
    server.stop()


@pytest.fixture
def gw(make_gateway: Any, upstream: tuple[InflatingUpstream, str]) -> Any:
    def model(name: str, upstream_model: str) -> dict[str, Any]:
        return {"name": name, "price": PRICE, "deployments": [
            {"provider": "openai-compatible", "model": upstream_model, "api_base": upstream[1]}]}

    # Each race has a probe twin: same family and price, another upstream model id, so the probe
    # (which sizes the budget) teaches the gateway nothing about the raced deployment.
    return make_gateway({"models": [model("x13", "vendor/inflate-1.3"), model("x13-probe", "probe/inflate-1.3"),
                                    model("x3", "vendor/inflate-3.0"), model("x3-probe", "probe/inflate-3.0")],
                         "routing": {"max_retries": 0, "cooldown_failures": 100000}})


def plan(key: str, model: str) -> list[tuple[str, str, bool, bool]]:
    return [(key, model, i % 3 != 2, i % 10 == 9) for i in range(TOTAL)]  # streams, non-streams, leavers


def reserved_usd(gw: Any, model: str) -> Decimal:
    """What one request reserves on a fresh deployment (a probe of the model's twin, on a key
    of its own), to size the budget in requests."""
    key = gw.create_key(team="probe-" + uuid.uuid4().hex[:6], budgets=[Budget(period="day", limit_usd=Decimal(1))])
    body = {"model": model, "max_tokens": 30,
            "messages": [{"role": "user", "content": "count the budget words please"}]}
    count = len(gw.records)
    assert httpx.post(gw.base_url + "/chat/completions", json=body, headers={"authorization": f"Bearer {key}"},
                      timeout=10).status_code == 200
    return Decimal(gw.last_record(count + 1)["reserved_usd"])


def race(gw: Any, model: str, requests_worth: int) -> dict[str, Any]:
    limit = reserved_usd(gw, model + "-probe") * requests_worth
    key = gw.create_key(team="inflated-" + uuid.uuid4().hex[:8], budgets=[Budget(period="day", limit_usd=limit)])
    key_id = key_id_of(gw, key)
    start = len(gw.records)
    poller = Poller(gw.local, [budget_pk("key", key_id)], limit_usd=limit).start()
    outcomes = asyncio.run(run_load(gw.url, plan(key, model), spread_s=2.0))
    dropped = [o.error for o in outcomes if o.kind == "transport_error"]
    assert not dropped, dropped
    gw.last_record(start + TOTAL, timeout=30)
    poller.stop()
    records = [r for r in gw.records[start:] if r["key_id"] == key_id]
    admitted = [r for r in records if "charged_usd" in r]
    refused = [r for r in records if r["status"] == 429]
    assert len(admitted) + len(refused) == TOTAL == len(records)
    assert not any(r.get("settlement_failed") for r in records)
    snaps = snapshots(budget_items(gw.local, "key", key_id))
    assert sum(s.reserved_usd for s in snaps) == 0 and sum(s.reserved_tokens for s in snaps) == 0, "a leak"
    spent = sum((s.spent_usd for s in snaps), Decimal(0))
    assert spent == sum(Decimal(r["charged_usd"]) for r in admitted)  # the log lines sum to the counter, exactly
    assert sum(s.requests for s in snaps) == len(admitted)
    overruns = [r["budget_overrun"] for r in admitted if "budget_overrun" in r]
    return {"limit": limit, "spent": spent, "admitted": len(admitted), "refused": refused, "poller": poller,
            "overruns": overruns, "records": records, "key": key}


def test_an_upstream_at_1_3x_tiktoken_never_overspends(gw: Any) -> None:
    stats = race(gw, "x13", 28)
    poller: Poller = stats["poller"]
    assert not poller.violations, poller.violations[:5]
    assert poller.observations > 20
    assert stats["overruns"] == []  # the default bound covered it, from the first burst on
    assert stats["spent"] <= stats["limit"] and stats["refused"]
    assert all(r["error_type"] == "rate_limit_error" and "budget exceeded" in r["error"] for r in stats["refused"])
    ratios = [r["prompt_ratio"] for r in stats["records"] if "prompt_ratio" in r]
    assert not ratios  # billed never above the family's estimate
    print(f"\n1.3x upstream: {TOTAL} requests, {stats['admitted']} admitted, {len(stats['refused'])} refused; "
          f"limit {stats['limit']} (28 worst cases), spent {stats['spent']}, max held seen {poller.max_held_usd}, "
          f"{poller.observations} observations")


def test_an_upstream_beyond_every_bound_is_caught_reported_and_learned(gw: Any) -> None:
    stats = race(gw, "x3", 28)
    poller: Poller = stats["poller"]
    overruns = stats["overruns"]
    assert overruns, "a 3x upstream must overrun the first burst's reservations"
    overrun_usd = sum((Decimal(o["usd"]) for o in overruns), Decimal(0))
    assert all(Decimal(o["usd"]) > 0 and o["scopes"] for o in overruns)
    # The counter never held more than the limit plus what the logged overruns account for.
    assert poller.max_held_usd <= stats["limit"] + overrun_usd
    assert stats["spent"] <= stats["limit"] + overrun_usd
    # An overrun mark refused the next request: one of the burst's, or (when every request of the
    # burst was admitted or refused before an overrun settled) the next one after it.
    marked = "cost more than its reservation"
    if not any(marked in r["error"] for r in stats["refused"]):
        probe = httpx.post(gw.base_url + "/chat/completions", headers={"authorization": f"Bearer {stats['key']}"},
                           json={"model": "x3", "messages": [{"role": "user", "content": "hi"}]}, timeout=10)
        assert probe.status_code == 429 and marked in probe.json()["error"]["message"]
    # ... and the deployment's ratio is learned (billed / the family's estimate, which has the 1.3
    # factor in it already: about 43 / 33 here) ...
    admitted = [r for r in stats["records"] if "charged_usd" in r]
    learned = max(r["prompt_ratio_learned"] for r in admitted if "prompt_ratio_learned" in r)
    assert learned > 1.2
    # ... so that from then on nothing overruns: another key, another burst, within its budget.
    key = gw.create_key(team="learned-" + uuid.uuid4().hex[:6],
                        budgets=[Budget(period="day", limit_usd=stats["limit"])])
    start = len(gw.records)
    after = asyncio.run(run_load(gw.url, [(key, "x3", i % 2 == 0, False) for i in range(40)]))
    gw.last_record(start + 40, timeout=30)
    later = [r for r in gw.records[start:] if "charged_usd" in r]
    odd = [(o.kind, o.status, o.code, o.error) for o in after if o.status not in (200, 429)]  # named if it fails
    assert later and not odd, odd
    assert not any("budget_overrun" in r for r in later)
    held = snapshots(budget_items(gw.local, "key", key_id_of(gw, key)))
    assert sum(s.spent_usd for s in held) <= stats["limit"]
    print(f"\n3x upstream: {TOTAL} requests, {stats['admitted']} admitted, {len(stats['refused'])} refused, "
          f"{len(overruns)} overruns of ${overrun_usd} in all; limit {stats['limit']}, spent {stats['spent']}, "
          f"max held seen {poller.max_held_usd}; then, learned ratio {learned}: {len(later)} of 40 admitted on a "
          f"new key, no overrun")
