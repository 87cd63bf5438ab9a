"""The alert clauses on real DynamoDB semantics (moto, serialized): for any sequence of
settlements, each threshold is reported once, by the settlement whose spend first reaches it,
and the item's `alerted` set holds exactly the thresholds reached; budgets in USD and tokens."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw.aws import table_name
from aigw.budgets.admission import Admission, Reservation
from aigw.budgets.counters import CounterStore, budget_pk
from aigw.budgets.demand import Demand, Quote
from aigw.budgets.scopes import ScopeRef
from aigw.budgets.spec import Budget, Limits
from aigw.names import COUNTERS
from aigw.pricing.cost import Price
from tests.functional.budgets.helpers import counter_items, snapshots

DOLLAR_PER_TOKEN = Price(input_per_mtok=1_000_000, output_per_mtok=0)
WORST = 10  # each request reserves 10 tokens = $10


def admission(local: Any) -> Admission:
    return Admission(CounterStore(local.aws.dynamodb_client, table_name=lambda: table_name(COUNTERS)))


async def spend(adm: Admission, scopes: dict[ScopeRef, Limits], costs: list[int]) -> list[list[Any]]:
    """Settle one request per cost (dollars and tokens alike) until the budget refuses one."""
    alerts: list[list[Any]] = []
    for cost in costs:
        reservation = await adm.admit(scopes, Demand([Quote(WORST, DOLLAR_PER_TOKEN)]))
        if not isinstance(reservation, Reservation):
            break
        await adm.settle(reservation, cost=Decimal(cost), input_tokens=cost, output_tokens=0, usage_dims=[])
        alerts.append(reservation.alerts)
    return alerts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(costs=st.lists(st.integers(0, WORST), min_size=1, max_size=14),
       percents=st.sets(st.integers(1, 100), min_size=1, max_size=4))
def test_each_threshold_is_reported_by_the_settlement_that_reaches_it(local_aws: Any, costs: list[int],
                                                                       percents: set[int]) -> None:
    scope = ScopeRef("team", "clauses-" + uuid.uuid4().hex[:10])
    budget = Budget(period="month", limit_usd=Decimal(100), limit_tokens=100, alert_at_percent=sorted(percents))
    alerts = asyncio.run(spend(admission(local_aws), {scope: Limits(budgets=[budget])}, costs))

    spent = 0
    expected = []
    for cost in costs[:len(alerts)]:
        expected.append(sorted((p, unit) for p in percents for unit in ("tokens", "usd") if spent < p <= spent + cost))
        spent += cost
    assert [sorted((a.threshold, a.unit) for a in found) for found in alerts] == expected
    for found in alerts:
        for a in found:
            assert a.spent >= a.threshold and a.limit == 100 and (a.scope, a.id) == ("team", scope.id)
    if any(alerts):
        (snap,) = snapshots(counter_items(local_aws, budget_pk("team", scope.id)))
        assert snap.alerted == {f"{u}:{p}" for p in percents for u in ("usd", "tokens") if p <= spent}
        assert snap.spent_usd == spent and snap.spent_tokens == spent


def test_thresholds_added_after_the_spend_passed_them_are_reported_once(local_aws: Any) -> None:
    scope = ScopeRef("team", "late-" + uuid.uuid4().hex[:10])
    adm = admission(local_aws)
    plain = {scope: Limits(budgets=[Budget(limit_usd=Decimal(100))])}
    assert asyncio.run(spend(adm, plain, [10] * 6)) == [[]] * 6  # $60, no thresholds yet
    with_alerts = {scope: Limits(budgets=[Budget(limit_usd=Decimal(100), alert_at_percent=[50, 70])])}
    first, second, third = asyncio.run(spend(adm, with_alerts, [0, 5, 6]))
    assert [(a.threshold, a.spent) for a in first] == [(50, 60)]  # even a free request reports it
    assert second == [] and [(a.threshold, a.spent) for a in third] == [(70, 71)]



def test_thresholds_and_end_user_limits_cost_no_round_trip_until_one_is_crossed(make_gateway: Any,
                                                                                  local_aws: Any) -> None:
    import httpx

    from tests.functional.budgets.test_round_trips import Calls

    gw = make_gateway({"models": [{"name": "priced", "price": {"input_per_mtok": 1000, "output_per_mtok": 0},
                                   "deployments": [{"provider": "mock", "model": "mock-fast"}]}]})
    key = gw.create_key(team="rt-alerts-" + uuid.uuid4().hex[:6], end_user_rpm=100,
                        budgets=[Budget(period="day", limit_usd=Decimal("0.03"), alert_at_percent=[60])])
    body = {"model": "priced", "max_tokens": 20, "user": "alice", "messages": [{"role": "user", "content": "hi"}]}
    events = local_aws.aws.dynamodb_resource().meta.client.meta.events
    round_trips = []
    with httpx.Client(timeout=10, headers={"authorization": f"Bearer {key}"}) as client:
        assert client.post(gw.base_url + "/chat/completions", json=body).status_code == 200  # warms the caches
        cost = Decimal(gw.last_record()["charged_usd"])
        assert 2 * cost < Decimal("0.018") <= 3 * cost  # the third request crosses 60% of $0.03
        for _ in range(2):
            calls = Calls()
            events.register("before-parameter-build.dynamodb.*", calls)
            try:
                assert client.post(gw.base_url + "/chat/completions", json=body).status_code == 200
            finally:
                events.unregister("before-parameter-build.dynamodb.*", calls)
            round_trips.append(calls.names)
    # Beside the settlement, one UpdateItem per usage aggregate (key, team, model, end user), sent at once.
    usage = ["UpdateItem"] * 4
    assert round_trips[0][0] == "TransactWriteItems"  # admit (end-user window included)
    assert sorted(round_trips[0][1:]) == ["TransactWriteItems", *usage]  # settle
    assert round_trips[1][0] == "TransactWriteItems"  # admit; settle, refused by the clause; settle + alert
    assert sorted(round_trips[1][1:]) == ["TransactWriteItems"] * 2 + usage
    assert [len(r.get("alerts") or []) for r in gw.records] == [0, 0, 1]
