"""Admission (before the upstream call) and settlement (after it).

A request's *charges* are the counters it touches: for every applicable scope with limits,
one counter per budget period and one rate window (if the scope has RPM/TPM). Admission adds
the worst case (budgets/demand.py) to all of them, each under its own caps; settlement
replaces the worst case with the actual cost, on the same items (even if a period or window
has rolled over since), and adds the request to the usage aggregates.

How (counters.py explains why, with figures): the counters of ordinary scopes move together
in one TransactWriteItems (all or nothing, idempotent under retries). Hot scopes' counters
(sharded, shards.py) are then taken one at a time with single-item conditional writes, in
scope order (hot.py); if one refuses, the reservations already taken are given back before
the refusal is answered. Settlement is one transaction for the ordinary counters and one
UpdateItem per hot shard and per usage aggregate, all at once.

When the client set no output limit and the budget left cannot pay for the default worst
case, admission lowers the output limit to what it can pay for (from the caps alone, or
from the refused counters' numbers, which a refusal returns) and tries again, at most
ADJUST_ATTEMPTS times; below the floor the request is refused.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from decimal import Decimal

from aigw.budgets import alerts as budget_alerts
from aigw.budgets import holding, hot, hot_alerts, periods
from aigw.budgets.charges import Charge, Overrun, Refusal, Reservation, Settlement
from aigw.budgets.counters import (
    USAGE_SHARDS,
    Caps,
    CounterStore,
    ItemKey,
    Snapshot,
    budget_counter,
    rate_counter,
)
from aigw.budgets.demand import Demand
from aigw.budgets.headers import Remaining, remaining, tightest
from aigw.budgets.money import ZERO, usd_text
from aigw.budgets.scopes import ScopeRef
from aigw.budgets.spec import Limits

Shards = Callable[[ScopeRef], int]  # how many items a scope's counters are spread over (1: not hot)
VIEW_REFRESH_S = 1.0  # the remaining-* headers use counter values at most this old (plus local deltas)
VIEW_MAX_ITEMS = 10_000
ADJUST_ATTEMPTS = 3


def not_hot(ref: ScopeRef) -> int:
    return 1


def plan(scopes: dict[ScopeRef, Limits], *, usd: Decimal, tokens: int, now: float,
         shards: Shards = not_hot) -> list[Charge]:
    """The counters a request with this worst case must reserve on."""
    charges: list[Charge] = []
    for ref, limits in scopes.items():
        spread = shards(ref)
        for budget in limits.budgets:
            label = periods.period_key(budget.period, now)
            ends = periods.period_end(budget.period, now)
            caps = Caps(usd=budget.limit_usd, tokens=budget.limit_tokens)
            expiry = None if ends is None else int(ends) + periods.BUDGET_RETENTION_S
            charges.append(Charge("budget", ref, budget_counter(ref.scope, ref.id, label, caps, expiry, shards=spread),
                                  budget.period, label, ends, usd=usd, tokens=tokens,
                                  alerts=tuple(budget.alert_at_percent)))
        if limits.rpm is not None or limits.tpm is not None:
            window = periods.window_key(now)
            ends_at = periods.window_end(now)
            counter = rate_counter(ref.scope, ref.id, window, Caps(tokens=limits.tpm, requests=limits.rpm),
                                   int(ends_at) + periods.RATE_RETENTION_S, shards=spread)
            charges.append(Charge("rate", ref, counter, "minute", window, ends_at, usd=ZERO, tokens=tokens))
    return charges


class Admission:
    """Reserve and settle on the Counters table; keeps a per-process view of the counters for
    the remaining-* headers (exact on refusals, otherwise at most VIEW_REFRESH_S old plus this
    process's own changes)."""

    def __init__(self, store: CounterStore, *, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, shards: Shards = not_hot) -> None:
        self.store = store
        self._shards = shards
        self._clock = clock
        self._hints = hot.Hints(clock)
        self.hot_alerts = hot_alerts.HotAlerts(store)
        self._rng = rng or random.Random()
        self._view: dict[ItemKey, tuple[float, Snapshot]] = {}
        self._refreshing = False
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- admission ---------------------------------------------------------------------------
    async def admit(self, scopes: dict[ScopeRef, Limits], demand: Demand, *,
                    token: str | None = None) -> Reservation | Refusal:
        now = self._clock()
        output, adjusted = demand.output, False
        refusal: Refusal | None = None
        for attempt in range(ADJUST_ATTEMPTS):
            usd, tokens = demand.usd(output), demand.tokens(output)
            charges = plan(scopes, usd=usd, tokens=tokens, now=now, shards=self._shards)
            if not charges:
                return Reservation(charges=[], usd=usd, tokens=tokens, output=output)
            alone = self._too_big_alone(charges, now)
            if alone is not None:
                fit = demand.affordable(*_room(charges, {})) if demand.flexible else -1
                if fit >= demand.floor and fit < output:
                    output, adjusted = fit, True
                    continue
                alone.charges = charges
                return alone
            suffix = "" if attempt == 0 else f"-{attempt}"
            refused = await self._reserve(charges, None if token is None else token + suffix)
            if not refused:
                for charge in charges:
                    self._apply(charge.counter.id, charge.usd, charge.tokens, 1)
                self._maybe_refresh(charges)
                return Reservation(charges=charges, usd=usd, tokens=tokens, output=output, adjusted=adjusted,
                                   admitted_at=now)
            for charge in charges:
                snapshot = refused.get(id(charge))
                if snapshot is not None and (snapshot.overrun is None or charge.counter.shards == 1):
                    self._observe(charge.counter.id, snapshot)  # (a marked shard's numbers are not the total)
            marked = [(c, refused[id(c)]) for c in charges if id(c) in refused and refused[id(c)].overrun]
            if marked:
                return await self._overrun_refusal(charges, marked, now)
            refusal = self._refusal(charges, refused, now, demand)
            refusal.charges = charges
            by_requests = any(_requests_full(c, refused[id(c)]) for c in charges if id(c) in refused)
            if demand.flexible and not by_requests:
                fit = demand.affordable(*_room([c for c in charges if id(c) in refused], refused))
                if fit >= demand.floor and fit < output:
                    output, adjusted = fit, True
                    continue
            return refusal
        assert refusal is not None
        return refusal

    async def _reserve(self, charges: list[Charge], token: str | None) -> dict[int, Snapshot]:
        """Take every charge's reservation, or none: what refused, by id(charge) (holding.py)."""
        return await holding.reserve(self.store, charges, token, rng=self._rng, hints=self._hints)

    def _too_big_alone(self, charges: list[Charge], now: float) -> Refusal | None:
        for c in charges:
            if c.caps.usd is not None and c.usd > c.caps.usd:
                return self._never(c, now, f"this request may cost up to ${usd_text(c.usd)}, more than the "
                                           f"whole budget of {c.scope.label()} (${usd_text(c.caps.usd)} "
                                           f"{_per(c)}); lower max_tokens")
            if c.caps.tokens is not None and c.tokens > c.caps.tokens:
                what = "per minute (TPM)" if c.kind == "rate" else _per(c)
                return self._never(c, now, f"this request may use up to {c.tokens} tokens, more than the limit "
                                           f"of {c.caps.tokens} tokens {what} of {c.scope.label()}; "
                                           f"lower max_tokens")
        return None

    def _never(self, charge: Charge, now: float, detail: str) -> Refusal:
        refusal = self._refuse(charge, now, detail)
        refusal.retry_after_s = None  # waiting does not help: it can never fit
        refusal.should_retry = False
        return refusal

    def _refusal(self, charges: list[Charge], refused: dict[int, Snapshot], now: float,
                 demand: Demand) -> Refusal:
        # Report a budget before a rate window: waiting for the window would not help.
        order = sorted((c for c in charges if id(c) in refused), key=lambda c: c.kind != "budget")
        if not order:
            raise RuntimeError("a transaction refused by no counter of this request")
        charge = order[0]
        old = refused[id(charge)]
        caps = charge.caps
        floor = f" (at least {demand.floor} output tokens)" if demand.flexible else ""
        if charge.kind == "budget":
            if caps.usd is not None and old.held_usd + charge.usd > caps.usd:
                detail = (f"${usd_text(old.spent_usd)} spent and ${usd_text(old.reserved_usd)} reserved by requests "
                          f"in flight, of ${usd_text(caps.usd)} {_per(charge)}; this request may cost up to "
                          f"${usd_text(charge.usd)}{floor}")
            else:
                detail = (f"{old.spent_tokens} tokens spent and {old.reserved_tokens} reserved, of "
                          f"{caps.tokens} {_per(charge)}; this request may use up to {charge.tokens}{floor}")
            return self._refuse(charge, now, detail)
        if _requests_full(charge, old):
            detail = f"{old.requests} of {caps.requests} requests per minute (RPM) used"
        else:
            detail = (f"{old.held_tokens} of {caps.tokens} tokens per minute (TPM) used or reserved; "
                      f"this request may use up to {charge.tokens}{floor}")
        return self._refuse(charge, now, detail)

    def _refuse(self, charge: Charge, now: float, detail: str) -> Refusal:
        retry = None if charge.ends_at is None else max(charge.ends_at - now, 1.0)
        if charge.kind == "budget":
            # x-should-retry: false - the SDKs would otherwise sleep until the period ends.
            return Refusal("budget_exceeded", f"budget exceeded for {charge.scope.label()}: {detail}",
                           charge.scope, retry, should_retry=False)
        return Refusal("rate_limit_exceeded", f"rate limit exceeded for {charge.scope.label()}: {detail}",
                       charge.scope, retry)

    async def _overrun_refusal(self, charges: list[Charge], marked: list[tuple[Charge, Snapshot]],
                               now: float) -> Refusal:
        """A counter marked by an overrun refuses this one request, then the mark is lifted."""
        charge, _snapshot = marked[0]
        for c, snap in marked:
            if snap.overrun:
                await asyncio.to_thread(self.store.clear_overrun, c.counter, snap.overrun)
        refusal = self._refuse(charge, now, "an earlier request cost more than its reservation (the upstream "
                                            "billed more tokens than the gateway could foresee); the budget is "
                                            "re-checked with larger reservations from the next request on")
        refusal.retry_after_s = 1.0
        refusal.charges = charges
        return refusal

    # ---- settlement --------------------------------------------------------------------------
    def settlement(self, reservation: Reservation, *, cost: Decimal, input_tokens: int, output_tokens: int,
                   usage_dims: list[tuple[str, str]], marker: str | None = None) -> Settlement:
        """The settlement's writes, and the overrun if it cost more than reserved (the charges it
        overran are then marked with `marker`)."""
        return holding.plan_settlement(self.store.table_name(), reservation, cost=cost, input_tokens=input_tokens,
                                       output_tokens=output_tokens, usage_dims=usage_dims, marker=marker,
                                       now=self._clock(), usage_shard=self._rng.randrange(USAGE_SHARDS))

    async def settle(self, reservation: Reservation, *, cost: Decimal, input_tokens: int, output_tokens: int,
                     usage_dims: list[tuple[str, str]], token: str | None = None) -> Overrun | None:
        """Replace the reservation by the actual cost: the ordinary counters in one transaction,
        each hot shard and each usage aggregate in an UpdateItem of its own, all at once.
        Idempotent per reservation. Raises if a counter could not be settled; a usage aggregate
        that could not be written is logged (it bounds nothing)."""
        if reservation.settled:
            return None
        reservation.settled = True
        plan_ = self.settlement(reservation, cost=cost, input_tokens=input_tokens, output_tokens=output_tokens,
                                usage_dims=usage_dims, marker=token)
        tokens = input_tokens + output_tokens
        # Thresholds of ordinary budgets are decided in their settlement transaction (alerts.py),
        # a hot budget's on its total once its shards' answers say it may have crossed one (hot_alerts.py).
        guards = budget_alerts.guards(reservation.charges, plan_.transaction, spent_usd=cost, spent_tokens=tokens)
        written = await holding.write_settlement(self.store, plan_, token=token, usage_dims=usage_dims,
                                                 guards=guards)
        reservation.alerts = written.alerts + await self.hot_alerts.settled(plan_, written.shards)
        for charge in reservation.charges:
            self._apply(charge.counter.id, cost - charge.usd, tokens - charge.tokens, 0)
        return plan_.overrun

    # ---- the view behind the remaining-* and x-ratelimit-* headers -----------------------------
    def remaining(self, charges: list[Charge]) -> Remaining:
        now = self._clock()
        seen = {c.counter.id: s[1] for c in charges if (s := self._view.get(c.counter.id)) is not None}
        return remaining(charges, seen, now)

    def tightest(self, charges: list[Charge]) -> tuple[Charge, float] | None:
        """The budget nearest its cap, from the same view as `remaining` (no extra read)."""
        return tightest(charges, {c.counter.id: s[1] for c in charges
                                   if (s := self._view.get(c.counter.id)) is not None})

    def _observe(self, counter: ItemKey, snapshot: Snapshot) -> None:
        now = self._clock()
        self._view[counter] = (now, snapshot)
        if len(self._view) > VIEW_MAX_ITEMS:  # old windows and periods: forget them
            for key in [k for k, (seen, _) in self._view.items() if now - seen > 120]:
                del self._view[key]

    def _apply(self, counter: ItemKey, usd: Decimal, tokens: int, requests: int) -> None:
        seen = self._view.get(counter)
        if seen is None:
            return  # unknown until the first refresh; never guess
        snap = seen[1]
        snap.held_usd += usd
        snap.held_tokens += tokens
        snap.requests += requests

    def _maybe_refresh(self, charges: list[Charge]) -> None:
        now = self._clock()
        stale = [c.counter for c in charges
                 if (seen := self._view.get(c.counter.id)) is None or now - seen[0] > VIEW_REFRESH_S]
        if not stale or self._refreshing:
            return
        self._refreshing = True

        async def refresh() -> None:
            try:
                found = await asyncio.to_thread(self.store.totals, stale)
                for counter, snapshot in zip(stale, found, strict=True):
                    self._observe(counter.id, snapshot)
            except Exception:  # the view is best effort; admission itself never depends on it
                pass
            finally:
                self._refreshing = False

        task = asyncio.get_running_loop().create_task(refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh_now(self, charges: list[Charge]) -> None:
        counters = [c.counter for c in charges]
        found = await asyncio.to_thread(self.store.totals, counters)
        for counter, snapshot in zip(counters, found, strict=True):
            self._observe(counter.id, snapshot)


def _room(charges: list[Charge], seen: dict[int, Snapshot]) -> tuple[Decimal | None, int | None]:
    """What is left under the tightest USD and token caps of these charges (all of a cap when
    the counter's numbers are not known)."""
    room_usd: Decimal | None = None
    room_tokens: int | None = None
    for c in charges:
        snap = seen.get(id(c), Snapshot())
        if c.caps.usd is not None:
            left = c.caps.usd - snap.held_usd
            room_usd = left if room_usd is None else min(room_usd, left)
        if c.caps.tokens is not None:
            left_tokens = c.caps.tokens - snap.held_tokens
            room_tokens = left_tokens if room_tokens is None else min(room_tokens, left_tokens)
    return room_usd, room_tokens


def _requests_full(charge: Charge, old: Snapshot) -> bool:
    return charge.kind == "rate" and charge.caps.requests is not None and old.requests + 1 > charge.caps.requests


def _per(charge: Charge) -> str:
    if charge.period == "total":
        return "in total"
    if charge.period == "day":
        return f"today ({charge.period_label}, UTC)"
    return f"this {charge.period} ({charge.period_label})"
