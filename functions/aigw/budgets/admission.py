"""Admission (one TransactWriteItems before the upstream call) and settlement (one after).

A request's *charges* are the counters it touches: for every applicable scope with limits,
one item per budget period and one rate window (if the scope has RPM/TPM). Admission adds
the worst case to all of them at once, each under its own cap; settlement replaces the
worst case with the actual cost, on the same items (even if a period or window has rolled
over since), and adds the request to the usage aggregates, in one transaction.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from aigw.budgets import periods
from aigw.budgets.counters import (
    USAGE_SHARDS,
    Caps,
    Counter,
    CounterStore,
    ItemKey,
    Snapshot,
    TransactionResult,
    budget_counter,
    rate_counter,
    usage_update,
)
from aigw.budgets.money import ZERO, usd_text
from aigw.budgets.scopes import ScopeRef
from aigw.budgets.spec import Limits

Kind = Literal["budget", "rate"]
VIEW_REFRESH_S = 1.0  # the remaining-* headers use counter values at most this old (plus local deltas)
VIEW_MAX_ITEMS = 10_000


@dataclass(slots=True)
class Charge:
    """One counter one request holds a reservation on."""

    kind: Kind
    scope: ScopeRef
    counter: Counter
    caps: Caps
    period: str  # "month", "day", ... for budgets; "minute" for rate windows
    period_label: str  # the item's sort key: 2026-11, 2026-W48, 2026-11-25T16:05
    ends_at: float | None  # period or window end (epoch s); None for "total"
    usd: Decimal = ZERO
    tokens: int = 0


@dataclass(slots=True)
class Refusal:
    code: Literal["budget_exceeded", "rate_limit_exceeded"]
    message: str
    scope: ScopeRef
    retry_after_s: float | None
    charges: list[Charge] = field(default_factory=list)


@dataclass(slots=True)
class Reservation:
    charges: list[Charge]
    usd: Decimal
    tokens: int
    settled: bool = False
    admitted_at: float = field(default_factory=time.time)


@dataclass(slots=True)
class Remaining:
    requests: int | None = None
    tokens: int | None = None
    usd: Decimal | None = None

    def headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.requests is not None:
            out["x-ratelimit-remaining-requests"] = str(max(self.requests, 0))
        if self.tokens is not None:
            out["x-ratelimit-remaining-tokens"] = str(max(self.tokens, 0))
        if self.usd is not None:
            out["x-aigw-budget-remaining-usd"] = usd_text(max(self.usd, ZERO))
        return out


def plan(scopes: dict[ScopeRef, Limits], *, usd: Decimal, tokens: int, now: float) -> list[Charge]:
    """The counters a request with this worst case must reserve on."""
    charges: list[Charge] = []
    for ref, limits in scopes.items():
        for budget in limits.budgets:
            charges.append(Charge(
                kind="budget", scope=ref,
                counter=budget_counter(ref.scope, ref.id, periods.period_key(budget.period, now)),
                caps=Caps(usd=budget.limit_usd, tokens=budget.limit_tokens), period=budget.period,
                period_label=periods.period_key(budget.period, now), ends_at=periods.period_end(budget.period, now),
                usd=usd, tokens=tokens))
        if limits.rpm is not None or limits.tpm is not None:
            window = periods.window_key(now)
            charges.append(Charge(
                kind="rate", scope=ref, counter=rate_counter(ref.scope, ref.id, window),
                caps=Caps(tokens=limits.tpm, requests=limits.rpm), period="minute", period_label=window,
                ends_at=periods.window_end(now), usd=ZERO, tokens=tokens))
    return charges


def _expiry(charge: Charge) -> int | None:
    if charge.kind == "rate":
        return int(charge.ends_at or 0) + periods.RATE_RETENTION_S
    return None if charge.ends_at is None else int(charge.ends_at) + periods.BUDGET_RETENTION_S


class Admission:
    """Reserve and settle on the Counters table; keeps a per-process view of the counters for
    the remaining-* headers (exact on refusals, otherwise at most VIEW_REFRESH_S old plus this
    process's own changes)."""

    def __init__(self, store: CounterStore, *, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self._clock = clock
        self._rng = rng or random.Random()
        self._view: dict[ItemKey, tuple[float, Snapshot]] = {}
        self._refreshing = False
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- admission ---------------------------------------------------------------------------
    async def admit(self, scopes: dict[ScopeRef, Limits], *, usd: Decimal, tokens: int,
                    token: str | None = None) -> Reservation | Refusal:
        now = self._clock()
        charges = plan(scopes, usd=usd, tokens=tokens, now=now)
        if not charges:
            return Reservation(charges=[], usd=usd, tokens=tokens)
        alone = self._too_big_alone(charges, now)
        if alone is not None:
            alone.charges = charges
            return alone
        table = self.store.table_name()
        items = [c.counter.reserve(table, usd=c.usd, tokens=c.tokens, caps=c.caps, expires_at=_expiry(c))
                 for c in charges]
        result: TransactionResult = await asyncio.to_thread(self.store.transact, items, token=token)
        if not result.ok:
            for index, snapshot in result.refused.items():
                self._observe(charges[index].counter.item(), snapshot)
            refusal = self._refusal(charges, result.refused, now)
            refusal.charges = charges
            return refusal
        for charge in charges:
            self._apply(charge.counter.item(), charge.usd, charge.tokens, 1)
        self._maybe_refresh(charges)
        return Reservation(charges=charges, usd=usd, tokens=tokens, admitted_at=now)

    def _too_big_alone(self, charges: list[Charge], now: float) -> Refusal | None:
        for c in charges:
            if c.caps.usd is not None and c.usd > c.caps.usd:
                return self._refuse(c, now, f"this request may cost up to ${usd_text(c.usd)}, more than the "
                                            f"whole budget of {c.scope.label()} (${usd_text(c.caps.usd)} "
                                            f"{_per(c)}); lower max_tokens")
            if c.caps.tokens is not None and c.tokens > c.caps.tokens:
                what = "per minute (TPM)" if c.kind == "rate" else _per(c)
                return self._refuse(c, now, f"this request may use up to {c.tokens} tokens, more than the limit "
                                            f"of {c.caps.tokens} tokens {what} of {c.scope.label()}; "
                                            f"lower max_tokens")
        return None

    def _refusal(self, charges: list[Charge], refused: dict[int, Snapshot], now: float) -> Refusal:
        # Report a budget before a rate window: waiting for the window would not help.
        order = sorted(refused, key=lambda i: (charges[i].kind != "budget", i))
        charge = charges[order[0]]
        old = refused[order[0]]
        caps = charge.caps
        if charge.kind == "budget":
            if caps.usd is not None and old.held_usd + charge.usd > caps.usd:
                detail = (f"${usd_text(old.spent_usd)} spent and ${usd_text(old.reserved_usd)} reserved by requests "
                          f"in flight, of ${usd_text(caps.usd)} {_per(charge)}; this request may cost up to "
                          f"${usd_text(charge.usd)}")
            else:
                detail = (f"{old.spent_tokens} tokens spent and {old.reserved_tokens} reserved, of "
                          f"{caps.tokens} {_per(charge)}; this request may use up to {charge.tokens}")
            return self._refuse(charge, now, detail)
        if caps.requests is not None and old.requests + 1 > caps.requests:
            detail = f"{old.requests} of {caps.requests} requests per minute (RPM) used"
        else:
            detail = (f"{old.held_tokens} of {caps.tokens} tokens per minute (TPM) used or reserved; "
                      f"this request may use up to {charge.tokens}")
        return self._refuse(charge, now, detail)

    def _refuse(self, charge: Charge, now: float, detail: str) -> Refusal:
        retry = None if charge.ends_at is None else max(charge.ends_at - now, 1.0)
        if charge.kind == "budget":
            return Refusal("budget_exceeded", f"budget exceeded for {charge.scope.label()}: {detail}",
                           charge.scope, retry)
        return Refusal("rate_limit_exceeded", f"rate limit exceeded for {charge.scope.label()}: {detail}",
                       charge.scope, retry)

    # ---- settlement --------------------------------------------------------------------------
    def settle_items(self, reservation: Reservation, *, cost: Decimal, input_tokens: int, output_tokens: int,
                     usage_dims: list[tuple[str, str]], count_usage: bool) -> list[dict[str, Any]]:
        table = self.store.table_name()
        tokens = input_tokens + output_tokens
        items = [c.counter.settle(table, reserved_usd=c.usd, reserved_tokens=c.tokens, spent_usd=cost,
                                  spent_tokens=tokens) for c in reservation.charges]
        if count_usage:
            now = self._clock()
            shard = self._rng.randrange(USAGE_SHARDS)
            for dim, dim_id in usage_dims:
                items.append(usage_update(table, periods.period_key("month", now), dim, dim_id, cost=cost,
                                          input_tokens=input_tokens, output_tokens=output_tokens,
                                          expires_at=periods.budget_expiry("month", now), shard=shard))
        return items

    async def settle(self, reservation: Reservation, *, cost: Decimal, input_tokens: int, output_tokens: int,
                     usage_dims: list[tuple[str, str]], token: str | None = None) -> None:
        """Replace the reservation by the actual cost, in one transaction. Idempotent per reservation."""
        if reservation.settled:
            return
        reservation.settled = True
        items = self.settle_items(reservation, cost=cost, input_tokens=input_tokens, output_tokens=output_tokens,
                                  usage_dims=usage_dims, count_usage=True)
        if not items:
            return
        await asyncio.to_thread(self.store.transact, items, token=token)
        tokens = input_tokens + output_tokens
        for charge in reservation.charges:
            self._apply(charge.counter.item(), cost - charge.usd, tokens - charge.tokens, 0)

    # ---- the view behind the remaining-* headers ---------------------------------------------
    def remaining(self, charges: list[Charge]) -> Remaining:
        out = Remaining()
        for charge in charges:
            seen = self._view.get(charge.counter.item())
            # Not seen yet (a refresh is on its way): count at least what this request holds.
            snap = seen[1] if seen else Snapshot(held_usd=charge.usd, held_tokens=charge.tokens, requests=1)
            caps = charge.caps
            if charge.kind == "rate":
                if caps.requests is not None:
                    left = caps.requests - snap.requests
                    out.requests = left if out.requests is None else min(out.requests, left)
                if caps.tokens is not None:
                    left = caps.tokens - snap.held_tokens
                    out.tokens = left if out.tokens is None else min(out.tokens, left)
            elif caps.usd is not None:
                left_usd = caps.usd - snap.held_usd
                out.usd = left_usd if out.usd is None else min(out.usd, left_usd)
        return out

    def _observe(self, item: ItemKey, snapshot: Snapshot) -> None:
        now = self._clock()
        self._view[item] = (now, snapshot)
        if len(self._view) > VIEW_MAX_ITEMS:  # old windows and periods: forget them
            for key in [k for k, (seen, _) in self._view.items() if now - seen > 120]:
                del self._view[key]

    def _apply(self, item: ItemKey, usd: Decimal, tokens: int, requests: int) -> None:
        seen = self._view.get(item)
        if seen is None:
            return  # unknown until the first refresh; never guess
        snap = seen[1]
        snap.held_usd += usd
        snap.held_tokens += tokens
        snap.requests += requests

    def _maybe_refresh(self, charges: list[Charge]) -> None:
        now = self._clock()
        stale = [c.counter.item() for c in charges
                 if (seen := self._view.get(c.counter.item())) is None or now - seen[0] > VIEW_REFRESH_S]
        if not stale or self._refreshing:
            return
        self._refreshing = True

        async def refresh() -> None:
            try:
                found = await asyncio.to_thread(self.store.read, stale)
                for item, snapshot in found.items():
                    self._observe(item, snapshot)
            except Exception:  # the view is best effort; admission itself never depends on it
                pass
            finally:
                self._refreshing = False

        task = asyncio.get_running_loop().create_task(refresh())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh_now(self, charges: list[Charge]) -> None:
        found = await asyncio.to_thread(self.store.read, [c.counter.item() for c in charges])
        for item, snapshot in found.items():
            self._observe(item, snapshot)


def _per(charge: Charge) -> str:
    if charge.period == "total":
        return "in total"
    if charge.period == "day":
        return f"today ({charge.period_label}, UTC)"
    return f"this {charge.period} ({charge.period_label})"
