"""The designs the sharded-counter benchmark weighs against the one the gateway keeps.

Built from the gateway's own counters (the same items, slices, layouts and transfers: shards.py,
hot.py); only where the writes go differs:

  transactional   everything in one TransactWriteItems, as before sharding: a hot counter
                  contributes one of its shards to the request's transaction (another shard,
                  or a transfer first, when its shard refuses); settlement is one transaction
                  with the usage aggregates
  single-writes   no transaction at all: every counter, hot or not, reserved with a
                  conditional UpdateItem in scope order, those taken released when a later one
                  refuses; settlement one UpdateItem per counter and per usage aggregate
  usage-in-tx     the kept design, but the usage aggregates in the settlement transaction
                  (as before) instead of UpdateItems of their own

The kept design (functions/aigw/budgets/admission.py): ordinary counters in one
transaction, hot counters with single writes, usage aggregates with single writes.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from aigw.budgets import hot
from aigw.budgets.admission import Admission, Charge, Overrun, Reservation
from aigw.budgets.counters import Hold, Snapshot, TransactionResult
from aigw.budgets.items import reserve_op
from aigw.budgets.shards import ShardedCounter


class Transactional(Admission):
    async def _reserve(self, charges: list[Charge], token: str | None) -> dict[int, Snapshot]:
        table = self.store.table_name()
        shard = {id(c): self._rng.randrange(c.counter.shards) for c in charges if c.counter.shards > 1}
        for round_ in range(hot.MAX_ROUNDS * 2):
            items = []
            for c in charges:
                if isinstance(c.counter, ShardedCounter):
                    c.hold, op = c.counter.reserve_on(table, shard[id(c)], usd=c.usd, tokens=c.tokens)
                    item = {"Update": op}
                else:
                    c.hold, item = c.counter.reserve(table, usd=c.usd, tokens=c.tokens)
                items.append(item)
            result: TransactionResult = await asyncio.to_thread(
                self.store.transact, items, token=None if token is None else f"{token}.{round_}")
            if result.ok:
                return {}
            for c in charges:
                c.hold = None
            cold = {id(c): s for c in charges if c.counter.shards == 1 and (s := c.counter.refusal(result.refused))}
            if cold:
                return cold
            for c in charges:
                counter = c.counter
                if not isinstance(counter, ShardedCounter) or counter.item(shard[id(c)]) not in result.refused:
                    continue
                old = result.refused[counter.item(shard[id(c)])]
                if old.overrun:
                    return {id(c): old}
                if old.layout != counter.layout:
                    await asyncio.to_thread(hot.relayout, self.store, counter)
                    continue
                found = await asyncio.to_thread(hot.read, self.store, counter)
                place = counter.placement(table, found, c.usd, c.tokens, self._rng, split_holds=False)
                if place is None:
                    total = counter.total({k: Snapshot.from_item(v) for k, v in found.items() if v})
                    if not counter.affords(total, c.usd, c.tokens):
                        return {id(c): total}
                    continue
                if place.transfer is not None:
                    await asyncio.to_thread(self.store.transact, place.transfer, attempts=2, raise_conflicts=False)
                shard[id(c)] = place.shard
        raise hot.Contended("transactional: no shard secured")

    async def settle(self, reservation: Reservation, *, cost: Decimal, input_tokens: int, output_tokens: int,
                     usage_dims: list[tuple[str, str]], token: str | None = None) -> Overrun | None:
        if reservation.settled:
            return None
        reservation.settled = True
        plan = self.settlement(reservation, cost=cost, input_tokens=input_tokens, output_tokens=output_tokens,
                               usage_dims=usage_dims, marker=token)
        items = plan.transaction + [{"Update": op} for op in plan.writes + plan.usage]
        await asyncio.to_thread(self.store.transact, items, token=token)
        return plan.overrun


class UsageInTransaction(Admission):
    async def settle(self, reservation: Reservation, *, cost: Decimal, input_tokens: int, output_tokens: int,
                     usage_dims: list[tuple[str, str]], token: str | None = None) -> Overrun | None:
        if reservation.settled:
            return None
        reservation.settled = True
        plan = self.settlement(reservation, cost=cost, input_tokens=input_tokens, output_tokens=output_tokens,
                               usage_dims=usage_dims, marker=token)
        calls: list[Any] = [asyncio.to_thread(self.store.write, op) for op in plan.writes]
        calls.append(asyncio.to_thread(self.store.transact, plan.transaction + [{"Update": op} for op in plan.usage],
                                       token=token))
        await asyncio.gather(*calls)
        return plan.overrun


class SingleWrites(Admission):
    async def _reserve(self, charges: list[Charge], token: str | None) -> dict[int, Snapshot]:
        table = self.store.table_name()
        taken: list[Charge] = []
        try:
            for c in charges:
                counter = c.counter
                if isinstance(counter, ShardedCounter):
                    outcome: Hold | Snapshot = await asyncio.to_thread(
                        hot.reserve, self.store, counter, usd=c.usd, tokens=c.tokens, rng=self._rng,
                        hints=self._hints)
                else:
                    op = reserve_op(table, counter.id, counter.caps, c.usd, c.tokens, counter.expires_at, layout=None)
                    written = await asyncio.to_thread(self.store.write, op)
                    outcome = Hold(counter.id, c.usd, c.tokens) if written.ok else Snapshot.from_item(written.old)
                if isinstance(outcome, Hold):
                    c.hold = outcome
                    taken.append(c)
                    continue
                await self._release_all(taken)
                return {id(c): outcome}
        except BaseException:
            await self._release_all(taken)
            raise
        return {}

    async def _release_all(self, taken: list[Charge]) -> None:
        table = self.store.table_name()
        for c in taken:
            assert c.hold is not None
            counter = c.counter
            ops = counter.release_ops(table, c.hold) if isinstance(counter, ShardedCounter) else \
                [counter.release(table, c.hold)["Update"]]
            for op in ops:
                await asyncio.to_thread(self.store.write, op)
            c.hold = None

    async def settle(self, reservation: Reservation, *, cost: Decimal, input_tokens: int, output_tokens: int,
                     usage_dims: list[tuple[str, str]], token: str | None = None) -> Overrun | None:
        if reservation.settled:
            return None
        reservation.settled = True
        plan = self.settlement(reservation, cost=cost, input_tokens=input_tokens, output_tokens=output_tokens,
                               usage_dims=usage_dims, marker=token)
        ops = [i["Update"] for i in plan.transaction] + plan.writes + plan.usage
        await asyncio.gather(*(asyncio.to_thread(self.store.write, op) for op in ops))
        return plan.overrun
