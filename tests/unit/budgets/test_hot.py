"""Reserving on sharded counters under concurrency, against the simulated DynamoDB in virtual
time (latency, per-item capacity, transaction conflicts): the sum over the shards never passes
the limit at any write, a refusal comes only when the shards together could not pay at any
instant of it, nothing stays reserved, the spend adds up; a legacy item is laid out, a scope
that stops being hot is unsharded, and a spent budget refuses without reading again."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from aigw.budgets import hot
from aigw.budgets.admission import Admission, Refusal, Reservation
from aigw.budgets.counters import Caps, CounterStore, Snapshot
from aigw.budgets.demand import Demand, Quote
from aigw.budgets.items import HELD_USD, Hold, number
from aigw.budgets.money import ZERO, ceil_pico, to_units
from aigw.budgets.scopes import ScopeRef
from aigw.budgets.shards import HotScopes, ShardedCounter
from aigw.budgets.spec import Budget, Limits
from aigw.pricing.cost import Price
from tests.fakes.dynamo_sim import SimDynamo
from tests.fakes.virtual_time import VirtualClock, run_async

TABLE = "counters"
NOW = 1_795_622_701.0  # 2026-11-25T16:05:01Z
TEAM = ScopeRef("team", "big")
PRICE = Price(input_per_mtok=1, output_per_mtok=1)  # $1 per million tokens


class Truth:
    """The shards' summed `held` after every write the table applies, with its history."""

    def __init__(self, db: SimDynamo, pk: str, limit: int) -> None:
        self.limit, self.pk, self.held, self.history, self.over = limit, pk, {}, [], 0
        self.clock = db.clock
        db.watch(self.saw)

    def saw(self, key: Any, new: dict[str, Any] | None) -> None:
        if key[1] == self.pk or key[1].startswith(self.pk + "#"):
            self.held[key[1]] = number(new, HELD_USD)
            total = sum(self.held.values())
            self.history.append((self.clock.now(), total))
            self.over += total > self.limit

    def room_throughout(self, start: float, end: float, need: int) -> bool:
        before = [h for t, h in self.history if t <= start]
        during = [h for t, h in self.history if start < t <= end]
        return all(self.limit - h >= need for h in ([before[-1]] if before else [0]) + during)


def world(seed: int, limit_usd: Decimal, shards: int) -> tuple[VirtualClock, SimDynamo, Truth, HotScopes]:
    clock = VirtualClock(NOW)
    db = SimDynamo(clock, seed=seed)
    truth = Truth(db, "BUDGET#team#big", to_units(limit_usd))
    return clock, db, truth, HotScopes(frozenset({"team:big"}), shards)


def admission(db: SimDynamo, clock: VirtualClock, n: int, shards: Any) -> Admission:
    client = db.client()
    rng = random.Random(n)
    store = CounterStore(lambda: client, table_name=lambda: TABLE, sleep=clock.sleep, rng=rng)
    return Admission(store, clock=clock.now, rng=rng, shards=shards)


CONTENDED: list[tuple[int, int]] = []  # (contended, attempts) per example, for a look with -s


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(seed=337, shards=7, clients=38, budget_requests=39)  # 38 clients on 7 shards, ~3 requests' room left
@given(seed=st.integers(0, 10**6), shards=st.integers(2, 8), clients=st.integers(5, 40),
       budget_requests=st.integers(3, 60))
def test_concurrent_requests_never_pass_a_sharded_limit(seed: int, shards: int, clients: int,
                                                        budget_requests: int) -> None:
    rng = random.Random(seed)
    demand = Demand([Quote(200, PRICE)], output=300)  # $0.0005 worst case
    limit = demand.usd() * budget_requests + Decimal(rng.randint(0, 50_000)) / 10**8
    clock, db, truth, hot_scopes = world(seed, limit, shards)
    scopes = {TEAM: Limits(budgets=[Budget(period="month", limit_usd=limit)])}
    outcomes: list[tuple[str, bool]] = []
    spent: list[Decimal] = []

    def client(n: int) -> None:
        adm = admission(db, clock, n, hot_scopes)

        async def go() -> None:
            for _ in range(4):
                start = clock.now()
                try:
                    result = await adm.admit(scopes, demand, token=f"a{n}-{start}")
                except hot.Contended:  # the stage's retryable 503: rounds lost to others, near the limit
                    outcomes.append(("contended", False))
                    continue
                if isinstance(result, Refusal):
                    outcomes.append(("refused", truth.room_throughout(start, clock.now(), to_units(demand.usd()))))
                    continue
                assert isinstance(result, Reservation)
                outcomes.append(("admitted", False))
                clock.sleep(rng.uniform(0.001, 0.05))
                cost = ceil_pico(result.usd * Decimal(rng.randint(0, 100)) / 100)
                await adm.settle(result, cost=cost, input_tokens=200, output_tokens=10, usage_dims=[])
                spent.append(cost)
        run_async(go)

    for n in range(clients):
        clock.spawn(lambda n=n: client(n), at=NOW + rng.uniform(0, 0.02))
    clock.run()
    assert truth.over == 0, "the shards' sum passed the limit"
    assert not [o for o, with_room in outcomes if o == "refused" and with_room], "refused while the shards could pay"
    CONTENDED.append((sum(o == "contended" for o, _ in outcomes), len(outcomes)))
    assert sum(o == "contended" for o, _ in outcomes) <= max(1, len(outcomes) // 20), "retries not bounded"
    snaps = [Snapshot.from_item(v) for (_, pk, _), v in db.items.items() if pk.startswith("BUDGET#team#big")]
    assert sum(s.reserved_usd for s in snaps) == 0
    assert sum((s.spent_usd for s in snaps), ZERO) == sum(spent, ZERO) == sum((s.held_usd for s in snaps), ZERO)
    assert sum(s.requests for s in snaps) == sum(o == "admitted" for o, _ in outcomes)


def test_a_plain_counters_spend_is_laid_out_over_the_shards() -> None:
    clock, db, truth, _ = world(1, Decimal(1), 4)
    db.items[(TABLE, "BUDGET#team#big", "2026-11")] = {"pk": "BUDGET#team#big", "sk": "2026-11",
                                                       HELD_USD: Decimal(900 * 10**9),
                                                       "spent_pusd": Decimal(900 * 10**9)}
    counter = ShardedCounter("BUDGET#team#big", "2026-11", Caps(usd=Decimal(1)), None, 4)
    got: list[Any] = []

    def run() -> None:
        client = db.client()
        store = CounterStore(lambda: client, table_name=lambda: TABLE, sleep=clock.sleep)
        rng = random.Random(3)
        got.append(hot.reserve(store, counter, usd=Decimal("0.05"), tokens=1, rng=rng))
        got.append(hot.reserve(store, counter, usd=Decimal("0.06"), tokens=1, rng=rng))  # 0.95 + 0.06 > 1

    clock.spawn(run)
    clock.run()
    assert isinstance(got[0], Hold) and isinstance(got[1], Snapshot)  # the legacy $0.90 counted
    assert got[1].held_usd == Decimal("0.95") and truth.over == 0
    assert all(db.items[(TABLE, k.pk, k.sk)]["lay"] == counter.layout for k in counter.items())


def test_a_scope_no_longer_hot_is_unsharded_before_its_plain_counter_is_used() -> None:
    clock, db, truth, hot_scopes = world(2, Decimal("0.01"), 4)
    scopes = {TEAM: Limits(budgets=[Budget(period="month", limit_usd=Decimal("0.01"))])}
    demand = Demand([Quote(200, PRICE)], output=300)
    results: list[Any] = []

    def run() -> None:
        async def go() -> None:
            sharded, plain = admission(db, clock, 1, hot_scopes), admission(db, clock, 2, lambda ref: 1)
            for _ in range(12):
                results.append(await sharded.admit(scopes, demand))  # 12 x $0.0005 on the shards
            for _ in range(12):
                results.append(await plain.admit(scopes, demand))  # 8 more fit, on the one item
        run_async(go)

    clock.spawn(run)
    clock.run()
    assert [isinstance(r, Reservation) for r in results] == [True] * 20 + [False] * 4
    assert truth.over == 0
    first = db.items[(TABLE, "BUDGET#team#big", "2026-11")]
    assert "lay" not in first and number(first, HELD_USD) == to_units(Decimal("0.01"))  # all of it, on one item
    assert all(number(db.items[(TABLE, f"BUDGET#team#big#{i}", "2026-11")], HELD_USD) == 0 for i in (1, 2, 3))


def test_a_spent_budget_with_nothing_in_flight_refuses_without_a_read() -> None:
    clock, db, _, hot_scopes = world(3, Decimal("0.001"), 4)
    scopes = {TEAM: Limits(budgets=[Budget(period="month", limit_usd=Decimal("0.001"))])}
    demand = Demand([Quote(200, PRICE)], output=300)
    calls: list[int] = []

    def run() -> None:
        async def go() -> None:
            adm = admission(db, clock, 1, hot_scopes)
            for _ in range(2):
                reservation = await adm.admit(scopes, demand)
                assert isinstance(reservation, Reservation)
                await adm.settle(reservation, cost=reservation.usd, input_tokens=1, output_tokens=1, usage_dims=[])
            for _ in range(3):
                before = sum(db.stats.calls.values())
                assert isinstance(await adm.admit(scopes, demand), Refusal)
                calls.append(sum(db.stats.calls.values()) - before)
        run_async(go)

    clock.spawn(run)
    clock.run()
    assert calls[0] > 0 and calls[1:] == [0, 0]  # one read proves it; then nothing can come back
