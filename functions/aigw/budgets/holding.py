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
from typing import TYPE_CHECKING, Any

from aigw.budgets import hot
from aigw.budgets.counters import Counter, CounterStore, Hold, Snapshot, TransactionResult
from aigw.budgets.shards import ShardedCounter

if TYPE_CHECKING:
    from aigw.budgets.admission import Charge, Overrun

UNSHARD_ATTEMPTS = 3
logger = logging.getLogger("aigw.budgets")


@dataclass(slots=True)
class Settlement:
    transaction: list[dict[str, Any]] = field(default_factory=list)  # ordinary counters: one TransactWriteItems
    writes: list[dict[str, Any]] = field(default_factory=list)  # hot shards: one UpdateItem each
    usage: list[dict[str, Any]] = field(default_factory=list)  # usage aggregates: one UpdateItem each
    overrun: Overrun | None = None


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


async def write_settlement(store: CounterStore, plan: Settlement, *, token: str | None,
                           usage_dims: list[tuple[str, str]]) -> None:
    """Every write at once. Raises if a counter could not be settled; a usage aggregate that
    could not be written is logged (it bounds nothing)."""
    calls: list[Awaitable[Any]] = [asyncio.to_thread(store.write, op) for op in plan.writes]
    if plan.transaction:
        calls.append(asyncio.to_thread(store.transact, plan.transaction, token=token))
    usage = [asyncio.to_thread(store.write, op) for op in plan.usage]
    results = await asyncio.gather(*calls, *usage, return_exceptions=True)
    for result in results[len(calls):]:
        if isinstance(result, BaseException):
            logger.warning("usage aggregate not written", exc_info=result, extra={"usage_dims": usage_dims})
    failed = [r for r in results[:len(calls)] if isinstance(r, BaseException)]
    if failed:
        raise failed[0]
