"""Where a request's reservations and settlements are written (admission.py decides what).

Ordinary counters move together in one TransactWriteItems: all or nothing, idempotent under
the SDK's retries (ClientRequestToken), and on items no one else writes much, so conflicts
are rare. A hot scope's counters are sharded (shards.py) and taken one at a time, after the
ordinary ones, with single-item conditional writes (hot.py): no transaction on a hot item, so
nothing to conflict with. If a hot counter refuses, what was already taken is given back
(the brief over-reservation is the price of having no cross-item transaction there).
Settlement writes everything at once: the ordinary counters in one transaction, each hot
shard and each usage aggregate in an UpdateItem of its own. counters.py has the figures.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aigw.budgets import alerts as budget_alerts
from aigw.budgets import hot, hot_alerts, periods
from aigw.budgets.alerts import BudgetAlert, Guard
from aigw.budgets.charges import Charge, Overrun, Reservation, Settlement
from aigw.budgets.counters import Counter, CounterStore, Hold, Snapshot, TransactionResult, WriteResult, usage_update
from aigw.budgets.money import ZERO
from aigw.budgets.shards import ShardedCounter

UNSHARD_ATTEMPTS = 3
logger = logging.getLogger("aigw.budgets")


def plan_settlement(table: str, reservation: Reservation, *, cost: Decimal, input_tokens: int, output_tokens: int,
                    usage_dims: list[tuple[str, str]], marker: str | None, now: float,
                    usage_shard: int) -> Settlement:
    """A settlement's writes, and the overrun if it cost more than reserved (the charges it
    overran are then marked with `marker`)."""
    tokens = input_tokens + output_tokens
    over_usd = max(cost - reservation.usd, ZERO)
    over_tokens = max(tokens - reservation.tokens, 0)
    out = Settlement()
    overran: list[str] = []
    for c in reservation.charges:
        if c.hold is None:
            continue
        over = (c.caps.usd is not None and over_usd > 0) or (c.caps.tokens is not None and over_tokens > 0)
        if over:
            overran.append(f"{c.scope.label()} {c.period_label}")
        mark = marker if over else None
        if isinstance(c.counter, ShardedCounter):
            ops = c.counter.settle_ops(table, c.hold, spent_usd=cost, spent_tokens=tokens, overrun=mark)
            if hot_alerts.watched(c):  # the shards' answers say whether a threshold may be crossed
                for op in ops:
                    op["ReturnValues"] = "ALL_NEW"
                    out.watched.append((len(out.writes), c))
                    out.writes.append(op)
            else:
                out.writes.extend(ops)
        else:
            out.transaction.append(c.counter.settle(table, c.hold, spent_usd=cost, spent_tokens=tokens,
                                                    overrun=mark))
    for dim, dim_id in usage_dims:
        out.usage.append(usage_update(table, periods.period_key("month", now), dim, dim_id, cost=cost,
                                      input_tokens=input_tokens, output_tokens=output_tokens,
                                      expires_at=periods.budget_expiry("month", now), shard=usage_shard))
    if overran:
        usd_capped = any(c.caps.usd is not None for c in reservation.charges)
        tokens_capped = any(c.caps.tokens is not None for c in reservation.charges)
        out.overrun = Overrun(usd=over_usd if usd_capped else ZERO, tokens=over_tokens if tokens_capped else 0,
                              scopes=tuple(overran))
    return out


def split(charges: Sequence[Charge]) -> tuple[list[tuple[Charge, Counter]], list[tuple[Charge, ShardedCounter]]]:
    """(ordinary, hot) charges, each with its counter's type known."""
    cold: list[tuple[Charge, Counter]] = []
    warm: list[tuple[Charge, ShardedCounter]] = []
    for charge in charges:
        if isinstance(charge.counter, ShardedCounter):
            warm.append((charge, charge.counter))
        else:
            cold.append((charge, charge.counter))
    return cold, warm


async def reserve(store: CounterStore, charges: list[Charge], token: str | None, *, rng: random.Random,
                  hints: hot.Hints) -> dict[int, Snapshot]:
    """Take every charge's reservation, or none of them: what refused ({id(charge): its numbers}),
    empty when every hold was taken."""
    table = store.table_name()
    cold, warm = split(charges)
    if cold:
        for attempt in range(UNSHARD_ATTEMPTS + 1):
            items = []
            for charge, counter in cold:
                charge.hold, item = counter.reserve(table, usd=charge.usd, tokens=charge.tokens)
                items.append(item)
            tx_token = None if token is None else token + ("" if attempt == 0 else f"~{attempt}")
            result: TransactionResult = await asyncio.to_thread(store.transact, items, token=tx_token)
            if result.ok:
                break
            for charge, _ in cold:
                charge.hold = None
            refused = {id(c): snap for c, counter in cold if (snap := counter.refusal(result.refused)) is not None}
            laid_out = [counter for c, counter in cold if id(c) in refused and refused[id(c)].layout is not None]
            if not laid_out or attempt == UNSHARD_ATTEMPTS:
                return refused
            for counter in laid_out:  # a scope that is no longer hot: its shards onto its one item first
                await asyncio.to_thread(hot.relayout, store, counter.unsharded())
    taken: list[Charge] = [c for c, _ in cold]
    try:
        for charge, sharded in warm:
            outcome = await asyncio.to_thread(hot.reserve, store, sharded, usd=charge.usd, tokens=charge.tokens,
                                              rng=rng, hints=hints)
            if isinstance(outcome, Hold):
                charge.hold = outcome
                taken.append(charge)
                continue
            await release(store, taken, token)
            return {id(charge): outcome}
    except BaseException:
        await release(store, taken, token)
        raise
    return {}


async def release(store: CounterStore, charges: list[Charge], token: str | None) -> None:
    """Give back reservations taken by a request that is refused after all."""
    table = store.table_name()
    cold, warm = split([c for c in charges if c.hold is not None])
    if cold:
        items = [counter.release(table, c.hold) for c, counter in cold if c.hold is not None]
        await asyncio.to_thread(store.transact, items, token=None if token is None else "r" + token)
    for charge, sharded in warm:
        if charge.hold is not None:
            for op in sharded.release_ops(table, charge.hold):
                await asyncio.to_thread(store.write, op)
    for charge in charges:
        charge.hold = None


@dataclass(slots=True)
class Written:
    """What a settlement's writes answered: the alerts its transaction won (alerts.py), and each
    hot shard write's result (in `Settlement.writes` order: hot_alerts.py reads their ALL_NEW)."""

    alerts: list[BudgetAlert] = field(default_factory=list)
    shards: list[WriteResult] = field(default_factory=list)


async def write_settlement(store: CounterStore, plan: Settlement, *, token: str | None,
                           usage_dims: list[tuple[str, str]], guards: Sequence[Guard] = ()) -> Written:
    """Every write at once; the transaction with its alert guards, if any (alerts.py). Raises if
    a counter could not be settled; a usage aggregate that could not be written is logged (it
    bounds nothing)."""
    calls: list[Awaitable[Any]] = [asyncio.to_thread(store.write, op) for op in plan.writes]
    if plan.transaction and guards:
        calls.append(asyncio.to_thread(budget_alerts.settle, store, plan.transaction, guards, token=token))
    elif plan.transaction:
        calls.append(asyncio.to_thread(store.transact, plan.transaction, token=token))
    usage = [asyncio.to_thread(store.write, op) for op in plan.usage]
    results = await asyncio.gather(*calls, *usage, return_exceptions=True)
    for result in results[len(calls):]:
        if isinstance(result, BaseException):
            logger.warning("usage aggregate not written", exc_info=result, extra={"usage_dims": usage_dims})
    failed = [r for r in results[:len(calls)] if isinstance(r, BaseException)]
    if failed:
        raise failed[0]
    out = Written(shards=[r for r in results[:len(plan.writes)] if isinstance(r, WriteResult)])
    if plan.transaction and guards:
        won = results[len(plan.writes)]
        out.alerts = list(won) if isinstance(won, list) else []
    return out
