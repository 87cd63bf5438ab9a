"""Reserving on a sharded counter: single-item conditional writes, never a cross-item transaction
on the request path (blocking: called through a thread). The layout is in shards.py.

    1. reserve on one shard (one UpdateItem: `layout matches AND held <= slice - x`): a random
       one, or one this process saw with room lately (Hints);
    2. refused: read every shard (one BatchGetItem). If the counter's total remaining cannot
       pay, that is the refusal, with the total's numbers. Otherwise reserve on another shard
       that can pay, or first move room to one (a transfer: a transaction of the borrower and
       up to MAX_LENDERS lenders, each lender conditioned on staying within its slice), or,
       when only crumbs are left (less than TRANSFER_REQUESTS requests' worth in all), take
       the reservation in parts on several shards, one conditional write each;
    4. a shard whose layout is not this counter's (fresh period, changed limits or shards, a
       scope that just became hot) lays the counter out first (shards.py), then goes on.

Transaction conflicts (a transfer or a layout in flight on the shard) are retried by the store
with jittered backoff; a round that loses a race re-reads. After MAX_ROUNDS the request gives
up with `Contended` (the stage answers 503, retryable), never with a refusal: a refusal
always means the total could not pay.

Limits of sharded counters (documented, measured where a figure is given):
  - Throughput: each shard takes ~1,000 writes/s and a request writes its shard twice: about
    N x 400 requests/s per hot counter with headroom (16 shards: 5,000 requests/s measured,
    the hottest shard at about 700 write units/s); a transfer or a layout costs 2 units per item.
  - Single writes are not idempotent under the SDK's retries: if DynamoDB applied an UpdateItem
    whose answer was lost (a timeout, a 500) and botocore sent it again, a reservation is held
    twice (over-reserved until the period ends: never overspent), or a settlement or release
    applied twice (the counter then under-counts by that request's reservation). The ordinary
    counters' transaction carries a ClientRequestToken and is safe.
  - Refusing needs the total: while requests are in flight, a refused request reads every shard
    (one read unit on each), and one item takes 3,000 read units a second; past about 3,000
    refusals a second on one hot counter with requests still in flight, refusals slow down
    (never wrong). A process that has read a spent counter with nothing reserved refuses on
    what it read (exact: nothing can come back), with no read at all.
  - At the very end of a budget, requests may race for its last crumbs: a hold split over
    shards, at most one write per shard; a request that keeps losing gets a 503 (retryable),
    never a refusal while the shards could pay.
  - A change of limits, of the shard count, or of hotness lays the counter out again: one
    transaction over every shard its period has used. While processes with old and new limits
    coexist (the limits cache TTL, `settings.key_cache_ttl_s`), each lays it out for its own
    limits in turn; the sum stays within the larger of the two, as with a plain counter.
  - Every period and every minute window of a hot rate limit starts with a layout (one
    transaction of N new items); a rate window's slice must hold 8 requests, so RPM/8 caps N.
  - Usage aggregates share one partition key per month (USAGE#<month>) and rely on DynamoDB
    splitting a hot item collection by sort key; the simulation counts capacity per item.
  - A process of an older version (no sharding) writes shard 0 as a plain counter with the
    whole limit: mixed versions must not admit on a hot scope at the same time.
  - Budget alerts are decided on the total after the settlement (hot_alerts.py): between the
    first shard passing its share of a threshold and the threshold being sent, the settlements
    that look each read every shard; a process that dies between settling and looking leaves
    the threshold to the next settlement that looks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from aigw.budgets.items import LAYOUT, OVERRUN, Hold, ItemKey, Snapshot, release_op, text
from aigw.budgets.shards import Placement, Raw, ShardedCounter

if TYPE_CHECKING:
    from aigw.budgets.counters import CounterStore

MAX_ROUNDS = 10
LAYOUT_ATTEMPTS = 6
HINT_TTL_S = 1.0  # how long a process trusts what it last read of a counter's shards, to choose one
TOTAL_TTL_S = 60.0  # ... and its total, to refuse without a read (exact at any age: see Hints)


class Contended(RuntimeError):
    """The counter could pay, but this request kept losing races for its room: retry shortly."""


class Hints:
    """What this process last saw of each sharded counter: its shards' rooms (where the next
    request should try first: only ever a guess, every reservation is a conditional write), and
    its total, which can refuse a request with no read at all when that is exact: since the
    read, the counter's `held` can only have fallen by what was then reserved (settlements and
    releases give back at most their reservations; transfers and layouts move `held`, never
    change its sum), so a request that does not fit in what was left plus what was reserved
    cannot fit now. Once every request in flight has settled, a spent budget refuses for free."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_counters: int = 1_000) -> None:
        self._clock = clock
        self._max = max_counters
        self._rooms: dict[ItemKey, tuple[float, list[list[int]]]] = {}
        self._totals: dict[tuple[ItemKey, str], tuple[float, Snapshot]] = {}

    def hopeless(self, counter: ShardedCounter, usd: Decimal, tokens: int) -> Snapshot | None:
        """The total last read, if it proves that this request cannot fit now."""
        seen = self._totals.get((counter.id, counter.layout))
        if seen is None or self._clock() - seen[0] > TOTAL_TTL_S:
            return None
        total = seen[1]
        idle = total.reserved_usd == 0 and total.reserved_tokens == 0  # nothing in flight: nothing to give back
        best = Snapshot(held_usd=total.held_usd - total.reserved_usd,
                        held_tokens=total.held_tokens - total.reserved_tokens,
                        requests=total.requests if idle else 0)
        return None if counter.affords(best, usd, tokens) else total

    def total(self, counter: ShardedCounter, total: Snapshot) -> None:
        if len(self._totals) >= self._max:
            self._totals.clear()
        self._totals[(counter.id, counter.layout)] = (self._clock(), total)

    def pick(self, counter: ShardedCounter, needs: list[int], rng: random.Random) -> int | None:
        """A shard to try: one seen with room for `needs`; random when nothing recent is known;
        None when what was just seen says no shard can pay (read before writing)."""
        seen = self._rooms.get(counter.id)
        if seen is None or self._clock() - seen[0] > HINT_TTL_S:
            return rng.randrange(counter.shards)
        fits = [i for i, room in enumerate(seen[1]) if all(r >= need for r, need in zip(room, needs, strict=True))]
        return rng.choice(fits) if fits else None

    def saw(self, counter: ShardedCounter, rooms: list[list[int]]) -> None:
        if len(self._rooms) >= self._max:
            self._rooms.clear()
        self._rooms[counter.id] = (self._clock(), rooms)

    def took(self, counter: ShardedCounter, index: int, needs: list[int]) -> None:
        seen = self._rooms.get(counter.id)
        if seen is not None:
            seen[1][index] = [r - need for r, need in zip(seen[1][index], needs, strict=True)]

    def refused(self, counter: ShardedCounter, index: int, room: list[int]) -> None:
        seen = self._rooms.get(counter.id)
        if seen is not None:
            seen[1][index] = room


def reserve(store: CounterStore, counter: ShardedCounter, *, usd: Decimal, tokens: int,
            rng: random.Random, hints: Hints | None = None) -> Hold | Snapshot:
    """The hold taken, or the numbers that refused it: the counter's total, or a marked shard's
    (an overrun mark: `Snapshot.overrun` set)."""
    hints = hints or Hints()
    hopeless = hints.hopeless(counter, usd, tokens)
    if hopeless is not None:
        return hopeless
    table = store.table_name()
    needs = [d.need for d in counter.dims(usd, tokens)]
    index = hints.pick(counter, needs, rng)
    total: Snapshot | None = None
    for round_ in range(1, MAX_ROUNDS + 1):
        if index is not None:
            hold, op = counter.reserve_on(table, index, usd=usd, tokens=tokens)
            written = store.write(op)
            if written.ok:
                hints.took(counter, index, needs)
                return hold
            old = written.old or {}
            if text(old.get(OVERRUN)) is not None:
                return Snapshot.from_item(old)
            if text(old.get(LAYOUT)) != counter.layout:
                relayout(store, counter, fresh=not old)
                continue
            hints.refused(counter, index, counter.rooms({counter.item(index): old})[index])
        # This shard cannot pay (or none could, a moment ago): look at them all.
        found = read(store, counter)
        if not counter.laid_out(found):
            relayout(store, counter)
            index = rng.randrange(counter.shards)
            continue
        hints.saw(counter, counter.rooms(found))
        total = counter.total(_snapshots(found))
        hints.total(counter, total)
        if not counter.affords(total, usd, tokens):
            return total
        place = counter.placement(table, found, usd, tokens, rng)
        index = None
        if place is None:
            continue  # the rooms moved while being read: read again
        if place.parts:
            split = _reserve_parts(store, counter, place, usd, tokens)
            if split is not None:
                return split
            store.pause(round_)  # a part's room went to someone else first: let the race settle
            continue
        if place.transfer is not None and not store.transact(place.transfer, attempts=1, raise_conflicts=False).ok:
            store.pause(round_)  # a lender's room went to someone else first
            continue
        index = place.shard
    raise Contended(f"{counter.pk}/{counter.sk}: no shard could be secured in {MAX_ROUNDS} rounds")


def _reserve_parts(store: CounterStore, counter: ShardedCounter, place: Placement, usd: Decimal,
                   tokens: int) -> Hold | None:
    """Every part of a split hold, or none (those taken are given back)."""
    table = store.table_name()
    taken: list[Hold] = []
    for part in place.parts:
        hold, op = counter.reserve_on(table, part.shard, usd=part.usd, tokens=part.tokens, requests=part.requests)
        if not store.write(op).ok:
            for given in taken:
                store.write(release_op(table, given))
            return None
        taken.append(hold)
    return Hold(taken[0].item, usd, tokens, parts=tuple(taken))


def read(store: CounterStore, counter: ShardedCounter) -> dict[ItemKey, dict[str, object] | None]:
    """Every shard the counter's period has used (one BatchGetItem, two if the shard count shrank)."""
    found = store.read_raw(counter.items())
    span = counter.span_of(found)
    if span > counter.shards:
        found.update(store.read_raw(counter.items(span)[counter.shards:]))
    return found


def relayout(store: CounterStore, counter: ShardedCounter, *, fresh: bool = False) -> None:
    """Balance every shard for this counter's layout (someone else's success counts). `fresh`:
    the shard that refused did not exist (a new period, most likely: every request of its first
    moments gets here at once), so first try the layout of a counter with no items at all,
    without reading; its conditions refuse it if any shard exists after all."""
    if fresh:
        result = store.transact(counter.layout_items(store.table_name(), {}), attempts=1, raise_conflicts=False)
        if result.ok or not result.refused:
            return  # laid out, or another request's layout is in flight: the caller tries again
    for attempt in range(1, LAYOUT_ATTEMPTS + 1):
        found = read(store, counter)
        if counter.laid_out(found):
            return
        items = counter.layout_items(store.table_name(), found)
        if store.transact(items, attempts=2, raise_conflicts=False).ok:
            return
        store.pause(attempt)
    raise Contended(f"{counter.pk}/{counter.sk}: could not lay out {counter.shards} shards")


def _snapshots(found: Raw) -> dict[ItemKey, Snapshot]:
    return {key: Snapshot.from_item(item) for key, item in found.items() if item is not None}
