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
