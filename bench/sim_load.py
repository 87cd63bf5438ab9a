"""Load on the gateway's real admission code against the simulated DynamoDB, in virtual time.

Each simulated gateway instance is a thread running its own `Admission` (as each Lambda
instance has its own process) and serving one request at a time: admit, wait for the
upstream, settle, as `budgets/stage.py` does (an exception from `admit` is the stage's 503).
Arrivals are either a closed loop (N clients sending back to back) or open (Poisson at a
rate, served by a pool of instances). Virtual time (tests/fakes/virtual_time.py) means the
figures are DynamoDB's behaviour as simulated (latency, per-item capacity, conflicts), not the
speed of this machine.

The invariant is checked at every write the simulated table applies: for every counter with
a limit, the sum of `held` over its items (all its shards) never passes the limit. Every
refusal is checked against the counter's true numbers over the admission's whole duration:
"refused with room" counts refusals while the scope's remaining could pay for the request at
every instant the admission took.
"""

from __future__ import annotations

import bisect
import functools
import random
import statistics
import threading
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aigw.budgets import periods
from aigw.budgets.admission import Admission, Refusal, Reservation
from aigw.budgets.counters import CounterStore, Snapshot, budget_pk, rate_pk
from aigw.budgets.demand import Demand, Quote
from aigw.budgets.money import ZERO, ceil_pico, to_units
from aigw.budgets.scopes import ScopeRef
from aigw.budgets.spec import Limits
from aigw.pricing.cost import Price
from tests.fakes.dynamo_sim import Key, Latency, LogNormal, SimDynamo, tag
from tests.fakes.virtual_time import VirtualClock, run_async

TABLE = "aigw-counters"
DEBUG = False
START = 1_795_622_701.0  # 2026-11-25T16:05:01Z: a minute window ahead
PRICE = Price(input_per_mtok=0.15, output_per_mtok=0.60)
DEMAND = Demand([Quote(500, PRICE)], output=500)  # $0.000375 worst case, 1,000 tokens
UPSTREAM = LogNormal(0.3, 0.5)  # an upstream answering in about 300 ms

AdmissionFactory = Callable[[CounterStore, Callable[[], float], random.Random], Admission]


def default_admission(store: CounterStore, clock: Callable[[], float], rng: random.Random) -> Admission:
    return Admission(store, clock=clock, rng=rng)


@dataclass
class Scenario:
    name: str
    scopes: Callable[[int], dict[ScopeRef, Limits]]  # request number -> the scopes and limits it is charged to
    duration_s: float = 10.0
    clients: int | None = None  # closed loop: this many clients, back to back
    rate: float | None = None  # open loop: Poisson arrivals per second ...
    # ... served by as many Lambda-like instances as needed (one request at a time each, reused when
    # idle), up to this many; later arrivals wait for one (the wait counts in their latency)
    max_instances: int = 2_000
    burst: int | None = None  # or: this many requests all at t=0, once
    upstream: LogNormal = UPSTREAM
    demand: Demand = DEMAND
    spend: tuple[float, float] = (0.2, 1.0)  # actual cost as a fraction of the worst case
    seed: int = 1
    latency: Latency = field(default_factory=Latency)
    admission: AdmissionFactory = default_admission


@dataclass
class Sample:
    outcome: str  # admitted, refused, unavailable (503)
    started: float
    admit_s: float
    calls: int = 0
    conflicts: int = 0
    throttles: int = 0
    sdk_retries: int = 0
    refused_with_room: bool = False
    refused_with_room_at_end: bool = False
    settle_failed: bool = False
    settle_s: float = 0.0
    settle_calls: int = 0
    settle_conflicts: int = 0
    spent: Decimal = ZERO
    alerts: int = 0  # budget alerts this request's settlement sent


@dataclass
class CounterTruth:
    """One logical counter's items as the simulated table holds them, and the history of their sums."""

    limit_usd: int | None = None  # pico-dollars
    limit_tokens: int | None = None
    limit_requests: int | None = None
    items: dict[str, Snapshot] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)
    held: list[tuple[Decimal, int, int]] = field(default_factory=list)  # (usd, tokens, requests) sums
    violations: int = 0
    peak_usd: Decimal = ZERO
    peak_tokens: int = 0
    peak_requests: int = 0


@dataclass
class Result:
    scenario: Scenario
    samples: list[Sample]
    truth: dict[tuple[str, str], CounterTruth]
    sim: SimDynamo
    elapsed_s: float  # from the first arrival to the last answer
    instances: int

    def rows(self) -> dict[str, Any]:
        s = self.samples
        admitted = [x for x in s if x.outcome == "admitted"]
        admit_ms = sorted(x.admit_s * 1000 for x in s if x.outcome != "unavailable") or [0.0]
        settle_ms = sorted(x.settle_s * 1000 for x in admitted) or [0.0]
        last_admitted = max((x.started + x.admit_s for x in admitted), default=START)
        attempts = sorted(x.calls for x in s) or [0]
        hottest, wcu = self.sim.hottest(self.elapsed_s)
        leaked = sum((sum((i.reserved_usd for i in t.items.values()), ZERO) for t in self.truth.values()), ZERO)
        return {
            "requests": len(s), "admitted": len(admitted),
            "refused": sum(x.outcome == "refused" for x in s),
            "unavailable": sum(x.outcome == "unavailable" for x in s),
            "admitted_per_s": len(admitted) / max(last_admitted - START, 1e-9),
            "instances": self.instances,
            "admit_p50_ms": _pct(admit_ms, 50), "admit_p99_ms": _pct(admit_ms, 99), "admit_max_ms": admit_ms[-1],
            "calls_mean": statistics.fmean(attempts), "calls_p99": _pct(attempts, 99), "calls_max": attempts[-1],
            "conflicts": sum(x.conflicts for x in s), "throttles": sum(x.throttles for x in s),
            "conflicts_per_request_max": max((x.conflicts for x in s), default=0),
            "sdk_retries": sum(x.sdk_retries for x in s),
            "settle_failed": sum(x.settle_failed for x in s),
            "settle_p50_ms": _pct(settle_ms, 50), "settle_p99_ms": _pct(settle_ms, 99),
            "settle_conflicts": sum(x.settle_conflicts for x in s),
            "refused_with_room": sum(x.refused_with_room for x in s),
            "refused_with_room_at_end": sum(x.refused_with_room_at_end for x in s),
            "violations": sum(t.violations for t in self.truth.values()),
            "leaked_usd": leaked,
            "alerts": sum(x.alerts for x in s),
            "spent_fraction": float(sum((x.spent for x in s), ZERO) / limit) if (limit := _usd_limit(self)) else 0.0,
            "settle_calls_mean": statistics.fmean([x.settle_calls for x in admitted] or [0]),
            "settle_calls_max": max((x.settle_calls for x in admitted), default=0),
            "hottest_wcu_per_s": wcu, "hottest": None if hottest is None else f"{hottest[1]}/{hottest[2]}",
        }


def _usd_limit(result: Result) -> Decimal | None:
    """The first budget's USD limit of the scenario's first request (the alerts row's fill)."""
    for limits in result.scenario.scopes(0).values():
        for budget in limits.budgets:
            return budget.limit_usd
    return None


def _pct(values: list[float] | list[int], p: float) -> float:
    if not values:
        return 0.0
    return float(values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))])


def logical(pk: str, sk: str) -> tuple[str, str]:
    """An item's counter: shards (`<pk>#<n>`) belong to the counter of their first three parts."""
    parts = pk.split("#")
    return ("#".join(parts[:3]), sk) if parts[0] in ("BUDGET", "RATE") else (pk, sk)


def run(scenario: Scenario) -> Result:
    threading.stack_size(512 * 1024)
    clock = VirtualClock(START)
    sim = SimDynamo(clock, seed=scenario.seed, latency=scenario.latency)
    truth: dict[tuple[str, str], CounterTruth] = defaultdict(CounterTruth)
    for ref, limits in scenario.scopes(0).items():
        _declare(truth, ref, limits)
    sim.watch(lambda key, new: _observe(truth, clock, key, new))
    samples: list[Sample] = []
    rng = random.Random(scenario.seed)
    end = START + scenario.duration_s
    arrivals = _arrivals(scenario, rng)
    declared: set[int] = set()
    idle: list[_Instance] = []
    backlog: list[tuple[int, float]] = []
    finished = {"done": False}

    def make_instance(n: int) -> _Instance:
        local_rng = random.Random(scenario.seed * 10_007 + n)
        client = sim.client()
        store = CounterStore(lambda: client, table_name=lambda: TABLE, sleep=clock.sleep, rng=local_rng)
        return _Instance(n, scenario.admission(store, clock.now, local_rng), local_rng, clock.park())

    async def handle(inst: _Instance, number: int, at: float) -> None:
        scopes = scenario.scopes(number)
        if number not in declared:
            declared.add(number)
            for ref, limits in scopes.items():
                _declare(truth, ref, limits)
        samples.append(await _one(scenario, inst.admission, sim, truth, scopes, f"r{inst.n}-{number}", inst.rng, at))

    def closed_client(n: int) -> None:
        inst = make_instance(n)

        async def serve() -> None:
            served = 0
            while clock.now() < end:
                served += 1
                await handle(inst, n * 1_000_000 + served, clock.now())
        run_async(serve)

    def pooled(inst: _Instance) -> None:
        # A Lambda-like instance: serves what it is handed, then what waits, then waits idle.
        async def serve() -> None:
            while inst.mailbox is not None:
                number, at = inst.mailbox
                inst.mailbox = None
                await handle(inst, number, at)
                if backlog:
                    inst.mailbox = backlog.pop(0)
                    continue
                if finished["done"]:
                    return
                idle.append(inst)
                clock.wait_parked(inst.handle)
        run_async(serve)

    def dispatcher() -> None:
        assert arrivals is not None
        for number, at in enumerate(arrivals):
            if at > clock.now():
                clock.sleep(at - clock.now())
            if idle:
                inst = idle.pop()
                inst.mailbox = (number, at)
                clock.unpark(inst.handle)
            elif len(pool) >= scenario.max_instances:
                backlog.append((number, at))
            else:
                inst = make_instance(len(pool))
                inst.mailbox = (number, at)
                pool.append(inst)
                clock.spawn(functools.partial(pooled, inst), name=f"instance-{inst.n}")
        finished["done"] = True
        for inst in idle:
            clock.unpark(inst.handle)
        idle.clear()

    pool: list[_Instance] = []
    if arrivals is None:
        for n in range(scenario.clients or 0):
            clock.spawn(functools.partial(closed_client, n), at=START, name=f"client-{n}")
    else:
        clock.spawn(dispatcher, at=START, name="dispatcher")
    clock.run()
    last = max((x.started + x.admit_s + x.settle_s for x in samples), default=START)
    return Result(scenario, samples, dict(truth), sim, max(last - START, 1e-9), len(pool) or (scenario.clients or 0))


@dataclass
class _Instance:
    n: int
    admission: Admission
    rng: random.Random
    handle: threading.Event
    mailbox: tuple[int, float] | None = None


def _arrivals(scenario: Scenario, rng: random.Random) -> list[float] | None:
    if scenario.burst is not None:
        return [START] * scenario.burst
    if scenario.rate is None:
        return None
    out: list[float] = []
    t = START
    while True:
        t += rng.expovariate(scenario.rate)
        if t >= START + scenario.duration_s:
            return out
        out.append(t)


async def _one(scenario: Scenario, admission: Admission, sim: SimDynamo,
               truth: dict[tuple[str, str], CounterTruth], scopes: dict[ScopeRef, Limits], name: str,
               rng: random.Random, arrived: float) -> Sample:
    clock = sim.clock
    demand = scenario.demand
    started = clock.now()
    marker = tag.set(name + ":a")
    try:
        result = await admission.admit(scopes, demand, token="a" + name)
    except Exception:
        result = None
    finally:
        tag.reset(marker)
    done = clock.now()
    stats = _tally(sim, name + ":a")
    sample = Sample("unavailable" if result is None else "admitted" if isinstance(result, Reservation) else "refused",
                    arrived, done - arrived, calls=stats["calls"], conflicts=stats["conflicts"],
                    throttles=stats["throttles"], sdk_retries=stats["sdk_retries"])
    if isinstance(result, Refusal):
        sample.refused_with_room, sample.refused_with_room_at_end = _room_check(truth, result, demand, started, done)
    if not isinstance(result, Reservation):
        return sample
    clock.sleep(scenario.upstream.draw(rng))
    low, high = scenario.spend
    fraction = Decimal(str(round(rng.uniform(low, high), 4)))
    cost = ceil_pico(result.usd * fraction)
    output = int(result.output * fraction)
    marker = tag.set(name + ":s")
    before = clock.now()
    try:
        await admission.settle(result, cost=cost, input_tokens=demand.prompt_tokens, output_tokens=output,
                               usage_dims=[("key", "k" + name.split("-")[0]), ("team", "bench"),
                                           ("model", "gpt-4o-mini")],
                               token="s" + name)
        sample.spent = cost
        sample.alerts = len(getattr(result, "alerts", None) or [])
    except Exception:
        sample.settle_failed = True
    finally:
        tag.reset(marker)
    sample.settle_s = clock.now() - before
    settled = _tally(sim, name + ":s")
    sample.settle_calls, sample.settle_conflicts = settled["calls"], settled["conflicts"]
    return sample


def _tally(sim: SimDynamo, name: str) -> dict[str, int]:
    counts = sim.stats.by_tag.get(name) or Tally()
    return {"calls": counts.get("calls", 0), "conflicts": counts.get("conflict", 0),
            "throttles": counts.get("throttled", 0), "sdk_retries": counts.get("sdk_retry", 0)}


def _declare(truth: dict[tuple[str, str], CounterTruth], ref: ScopeRef, limits: Limits) -> None:
    now = START
    for budget in limits.budgets:
        t = truth[(budget_pk(ref.scope, ref.id), periods.period_key(budget.period, now))]
        t.limit_usd = None if budget.limit_usd is None else to_units(budget.limit_usd)
        t.limit_tokens = budget.limit_tokens
    if limits.rpm is not None or limits.tpm is not None:
        t = truth[(rate_pk(ref.scope, ref.id), "m#" + periods.window_key(now))]
        t.limit_tokens, t.limit_requests = limits.tpm, limits.rpm


def _observe(truth: dict[tuple[str, str], CounterTruth], clock: VirtualClock, key: Key,
             new: dict[str, Any] | None) -> None:
    counter = logical(key[1], key[2])
    if counter not in truth:
        return
    t = truth[counter]
    t.items[key[1]] = Snapshot.from_item(new)
    usd = sum((i.held_usd for i in t.items.values()), ZERO)
    tokens = sum(i.held_tokens for i in t.items.values())
    requests = sum(i.requests for i in t.items.values())
    t.times.append(clock.now())
    t.held.append((usd, tokens, requests))
    t.peak_usd, t.peak_tokens, t.peak_requests = max(t.peak_usd, usd), max(t.peak_tokens, tokens), \
        max(t.peak_requests, requests)
    if (t.limit_usd is not None and usd * 10**12 > t.limit_usd) or \
            (t.limit_tokens is not None and tokens > t.limit_tokens) or \
            (t.limit_requests is not None and requests > t.limit_requests):
        t.violations += 1
        if DEBUG:
            print("VIOLATION", clock.now() - START, key, usd, {k: (v.held_usd, v.layout) for k, v in t.items.items()},
                  new)


def _room_check(truth: dict[tuple[str, str], CounterTruth], refusal: Refusal, demand: Demand, started: float,
                done: float) -> tuple[bool, bool]:
    """(room at every instant of the admission, room when the refusal was given) on the refusing counter."""
    kind = "budget" if refusal.code == "budget_exceeded" else "rate"
    charge = next((c for c in refusal.charges if c.scope == refusal.scope and c.kind == kind), None)
    if charge is None:
        return False, False
    t = truth.get((charge.counter.pk, charge.counter.sk))
    if t is None:
        return False, False

    def fits(held: tuple[Decimal, int, int]) -> bool:
        usd, tokens, requests = held
        return (t.limit_usd is None or usd * 10**12 + int(charge.usd * 10**12) <= t.limit_usd) and \
            (t.limit_tokens is None or tokens + charge.tokens <= t.limit_tokens) and \
            (t.limit_requests is None or requests + 1 <= t.limit_requests)

    first = bisect.bisect_right(t.times, started) - 1
    last = bisect.bisect_right(t.times, done) - 1
    window = t.held[max(first, 0):last + 1] if last >= 0 else []
    initial = (ZERO, 0, 0) if first < 0 else t.held[first]
    always = fits(initial) and all(fits(h) for h in window)
    at_end = fits(t.held[last]) if last >= 0 else fits((ZERO, 0, 0))
    return always, at_end
