"""Budget alerts of hot (sharded) budgets, against the simulated DynamoDB in virtual time: many
gateway instances settling concurrently on a sharded budget send exactly one alert per
threshold its total reaches, whatever the shard count, the interleaving or the shard each
request lands on; a settlement far from every threshold reads nothing; a threshold reached on
a shard still below its share (the others past theirs) is still sent (budgets/hot_alerts.py)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw.budgets import hot
from aigw.budgets.admission import Admission, Charge, Refusal, Reservation
from aigw.budgets.alerts import BudgetAlert, thresholds
from aigw.budgets.counters import Caps, CounterStore, Snapshot
from aigw.budgets.demand import Demand, Quote
from aigw.budgets.hot_alerts import SENT, WATCH, share
from aigw.budgets.items import ALERTED, SPENT_USD, strings
from aigw.budgets.money import ZERO, ceil_pico, from_units, to_units
from aigw.budgets.scopes import ScopeRef
from aigw.budgets.shards import HotScopes, ShardedCounter
from aigw.budgets.spec import Budget, Limits
from aigw.pricing.cost import Price
from tests.fakes.dynamo_sim import SimDynamo
from tests.fakes.virtual_time import VirtualClock, run_async

TABLE = "counters"
NOW = 1_795_622_701.0  # 2026-11-25T16:05:01Z
TEAM = ScopeRef("team", "big")
PK = "BUDGET#team#big"
PRICE = Price(input_per_mtok=1, output_per_mtok=1)  # $1 per million tokens
DEMAND = Demand([Quote(200, PRICE)], output=300)  # $0.0005 worst case


def admission(db: SimDynamo, clock: VirtualClock, n: int, shards: int) -> Admission:
    """One gateway instance (its own caches: hot_alerts' per-process knowledge included)."""
    client = db.client()
    rng = random.Random(n)
    store = CounterStore(lambda: client, table_name=lambda: TABLE, sleep=clock.sleep, rng=rng)
    return Admission(store, clock=clock.now, rng=rng, shards=HotScopes(frozenset({"team:big"}), shards))


def shard_items(db: SimDynamo) -> list[dict[str, Any]]:
    return [v for (_, pk, _), v in db.items.items() if pk == PK or pk.startswith(PK + "#")]


def race(seed: int, shards: int, clients: int, rounds: int, limit: Decimal,
         percents: list[int]) -> tuple[list[BudgetAlert], Decimal, SimDynamo]:
    """`clients` instances, each admitting and settling `rounds` requests at random moments;
    the alerts their settlements won, the spend, the table."""
    clock = VirtualClock(NOW)
    db = SimDynamo(clock, seed=seed)
    rng = random.Random(seed)
    scopes = {TEAM: Limits(budgets=[Budget(period="month", limit_usd=limit, alert_at_percent=percents)])}
    alerts: list[BudgetAlert] = []
    spent: list[Decimal] = []

    def client(n: int) -> None:
        adm = admission(db, clock, n, shards)

        async def go() -> None:
            for i in range(rounds):
                result = await adm.admit(scopes, DEMAND, token=f"a{n}-{i}")
                if isinstance(result, Refusal):
                    continue
                assert isinstance(result, Reservation)
                clock.sleep(rng.uniform(0.001, 0.03))
                cost = ceil_pico(result.usd * Decimal(rng.randint(60, 100)) / 100)
                await adm.settle(result, cost=cost, input_tokens=200, output_tokens=10, usage_dims=[])
                spent.append(cost)
                alerts.extend(result.alerts)
        run_async(go)

    for n in range(clients):
        clock.spawn(lambda n=n: client(n), at=NOW + rng.uniform(0, 0.02))
    clock.run()
    return alerts, sum(spent, ZERO), db


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), shards=st.integers(2, 8), clients=st.integers(4, 30),
       fill=st.floats(0.55, 0.97))
def test_concurrent_settlements_send_one_alert_per_threshold_reached(seed: int, shards: int, clients: int,
                                                                     fill: float) -> None:
    rounds = 6
    # A budget the run fills to about `fill` of its limit (each request costs 60-100% of $0.0005).
    limit = (DEMAND.usd() * Decimal("0.8") * clients * rounds / Decimal(str(fill))).quantize(Decimal("0.000001"))
    alerts, spent, db = race(seed, shards, clients, rounds, limit, [50, 80, 100])
    reached = sorted(p for p in (50, 80, 100) if to_units(spent) >= to_units(limit) * p / 100)
    assert sorted(a.threshold for a in alerts) == reached  # exactly once each, and none early
    first = next(v for v in shard_items(db) if v["pk"] == PK)
    assert strings(first.get(ALERTED)) == {f"usd:{p}" for p in reached}
    assert sum(Snapshot.from_item(v).spent_usd for v in shard_items(db)) == spent
    for a in alerts:
        assert a.limit == limit and a.spent >= limit * a.threshold / 100 and a.spent <= spent
        assert (a.scope, a.id, a.period, a.period_key, a.unit) == ("team", "big", "month", "2026-11", "usd")


def test_forty_instances_crossing_50_and_80_percent_send_exactly_two_alerts() -> None:
    clients, rounds = 40, 5
    limit = (DEMAND.usd() * Decimal("0.8") * clients * rounds / Decimal("0.9")).quantize(Decimal("0.000001"))  # ~90%
    alerts, spent, db = race(7, 8, clients, rounds, limit, [50, 80, 100])
    assert Decimal("0.8") * limit <= spent < limit
    assert sorted(a.threshold for a in alerts) == [50, 80]
    first = next(v for v in shard_items(db) if v["pk"] == PK)
    assert strings(first.get(ALERTED)) == {"usd:50", "usd:80"}  # claimed on shard 0, nowhere else
    assert all(not strings(v.get(ALERTED)) for v in shard_items(db) if v["pk"] != PK)


def test_a_settlement_far_from_every_threshold_reads_nothing() -> None:
    clock = VirtualClock(NOW)
    db = SimDynamo(clock, seed=1)
    scopes = {TEAM: Limits(budgets=[Budget(period="month", limit_usd=Decimal(10), alert_at_percent=[50])])}
    calls: list[dict[str, int]] = []

    def run() -> None:
        async def go() -> None:
            adm = admission(db, clock, 1, 4)
            for _ in range(3):
                reservation = await adm.admit(scopes, DEMAND)
                assert isinstance(reservation, Reservation)
                for task in list(adm._tasks):  # the remaining-* headers' view refresh (not an alert read)
                    await task
                before = dict(db.stats.calls)
                await adm.settle(reservation, cost=reservation.usd, input_tokens=200, output_tokens=10,
                                 usage_dims=[])
                calls.append({k: v - before.get(k, 0) for k, v in db.stats.calls.items() if v - before.get(k, 0)})
                assert reservation.alerts == []
        run_async(go)

    clock.spawn(run)
    clock.run()
    assert calls == [{"UpdateItem": 1}] * 3  # the shard's settlement, and nothing else


def test_a_threshold_reached_on_a_shard_below_its_share_is_still_sent() -> None:
    """Shards 1-3 go a little past their shares of 50% first, then shard 0 (still below its own
    share) brings the total to 50%, each settlement from a new instance: the first check (shard
    1's, too early) marks every shard, so shard 0's settlement looks, and claims the threshold."""
    clock = VirtualClock(NOW)
    db = SimDynamo(clock, seed=2)
    limit = Decimal("0.01")
    counter = ShardedCounter(PK, "2026-11", Caps(usd=limit), None, 4)
    (t,) = thresholds(Caps(usd=limit), [50])
    amounts = {i: share(counter, t, i) + 1 for i in (1, 2, 3)}  # pico-USD
    amounts[0] = t.at - sum(amounts.values())
    assert 0 < amounts[0] < share(counter, t, 0)
    got: list[list[BudgetAlert]] = []
    reads: list[int] = []

    def run() -> None:
        async def go() -> None:
            first = admission(db, clock, 0, 4)
            hot.relayout(first.store, counter)
            for n, i in enumerate((1, 2, 3, 0)):
                adm = admission(db, clock, n + 1, 4)
                usd = from_units(amounts[i])
                hold, op = counter.reserve_on(TABLE, i, usd=usd, tokens=10)
                assert adm.store.write(op).ok
                charge = Charge("budget", TEAM, counter, "month", "2026-11", None, usd=usd, tokens=10, hold=hold,
                                alerts=(50,))
                reservation = Reservation(charges=[charge], usd=usd, tokens=10)
                before = db.stats.calls.get("BatchGetItem", 0)
                await adm.settle(reservation, cost=usd, input_tokens=5, output_tokens=5, usage_dims=[])
                reads.append(db.stats.calls.get("BatchGetItem", 0) - before)
                got.append(reservation.alerts)
        run_async(go)

    clock.spawn(run)
    clock.run()
    assert [len(a) for a in got] == [0, 0, 0, 1]  # sent by shard 0's settlement, the one that reached it
    assert got[3][0].spent == limit / 2 and got[3][0].threshold == 50
    assert reads[0] == 2 and reads[3] >= 1  # shard 1's check read, marked, read again; shard 0's looked
    items = {v["pk"]: v for v in shard_items(db)}
    assert all("usd:50" in strings(v.get(WATCH)) for v in items.values())
    assert all("usd:50" in strings(v.get(SENT)) for v in items.values())  # the winner told every shard
    assert strings(items[PK].get(ALERTED)) == {"usd:50"}
    assert sum(int(v.get(SPENT_USD, 0)) for v in items.values()) == t.at


def test_a_failed_check_is_logged_and_the_settlement_stands(caplog: Any) -> None:
    """A check that cannot read (throttled, say) must not turn a written settlement into a
    'settlement failed': the alert is left to the next settlement that looks."""
    clock = VirtualClock(NOW)
    db = SimDynamo(clock, seed=3)
    limit = Decimal("0.001")
    scopes = {TEAM: Limits(budgets=[Budget(period="month", limit_usd=limit, alert_at_percent=[10])])}
    got: list[Any] = []

    def run() -> None:
        async def go() -> None:
            adm = admission(db, clock, 1, 2)
            reservation = await adm.admit(scopes, DEMAND)
            assert isinstance(reservation, Reservation)

            def broken(*_: Any, **__: Any) -> Any:
                raise RuntimeError("throttled")
            adm.store.read_raw = broken  # type: ignore[method-assign]
            got.append(await adm.settle(reservation, cost=reservation.usd, input_tokens=200, output_tokens=10,
                                        usage_dims=[]))
            got.append(reservation.alerts)
        run_async(go)

    clock.spawn(run)
    clock.run()
    assert got == [None, []]
    assert "budget_alert_check_failed" in caplog.text
    assert sum(Snapshot.from_item(v).spent_usd for v in shard_items(db)) == DEMAND.usd()
