"""A sharded counter: one limit spread over N items, each holding a slice of it.

Shard 0 is the plain counter's own item (so a scope that becomes hot keeps what it has spent);
shard i > 0 is `<pk>#<i>`, each its own partition key, so each takes its own 1,000 write units
a second. Shard i's slice of a limit L is L // N, plus one unit for the first L % N shards:
the slices sum to L exactly (pico-dollars, tokens, requests).

Every shard obeys `held_i <= slice_i`: a reservation is a conditional write on one shard
(`held_i <= slice_i - x`). So the sum of `held` over the shards never passes L, at any
instant, without any cross-item transaction. When a shard cannot pay but the others can, room
moves as a loan: a transfer adds `a` to a lender's `held` (on the condition that it stays
within its slice) and subtracts `a` from the borrower's, in one two-item transaction, so the
sum is unchanged. `spent_*` and `reserved_*` never move: each stays on the shard where its
request reserved and settled, so they sum to the true figures; only `held` carries loans.

The invariant needs every shard to be balanced for the same N and the same limits. Each shard
carries that layout (`lay`, e.g. `16/1000000000000/-/-`) and a reservation requires it. A
shard with another layout or none (a fresh period, a scope that just became hot, changed
limits or shard count) refuses, and the refused request lays the counter out again: one
transaction over every shard the period has used (`span`, kept on shard 0) that moves `held`
so each active shard is within its new slice, conditioned on nothing having grown since it
was read. The plain counter requires the absence of a layout, so a scope that stops being hot
is laid out onto shard 0 alone (N = 1) before it is used again.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aigw.budgets.items import (
    EXPIRES_AT,
    HELD_TOKENS,
    HELD_USD,
    LAYOUT,
    REQUESTS,
    SPAN,
    Caps,
    Hold,
    ItemKey,
    Snapshot,
    clear_overrun_op,
    n,
    number,
    release_op,
    reserve_op,
    settle_op,
    summed,
    text,
)
from aigw.budgets.money import from_units, to_units
from aigw.budgets.scopes import ScopeRef

MAX_SHARDS = 64  # a layout transaction covers every shard of a period: at most 100 items
MAX_LENDERS = 6  # shards one transfer takes from (plus the borrower)
TRANSFER_REQUESTS = 8  # a transfer moves room for about this many more requests like the one that asked
Raw = Mapping[ItemKey, Mapping[str, Any] | None]  # items as read (None: absent)


def shard_key(pk: str, sk: str, index: int) -> ItemKey:
    return ItemKey(pk if index == 0 else f"{pk}#{index}", sk)


def split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` in whole units over len(weights) parts in proportion to `weights` (equally when
    they are all 0), summing to `total` exactly; works for negative totals too."""
    count = len(weights)
    weight_sum = sum(weights)
    if weight_sum <= 0:
        weights, weight_sum = [1] * count, count
    parts = [total * w // weight_sum for w in weights]
    # Largest remainders first: a part never gets more than its exact share rounded up (so a
    # part of weight 0 gets nothing, and no part of a cost split over a hold's parts can pass
    # what that part reserved).
    order = sorted(range(count), key=lambda i: (total * weights[i]) % weight_sum, reverse=True)
    for i in order[:total - sum(parts)]:  # 0 <= remainder < count
        parts[i] += 1
    return parts


@dataclass(frozen=True, slots=True)
class Dim:
    """One capped dimension: the item attribute holding it, the limit, and a request's need."""

    attr: str
    limit: int
    need: int


@dataclass(frozen=True, slots=True)
class Part:
    shard: int
    usd: Decimal
    tokens: int
    requests: int


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a request that its shard refused goes next: another shard that can pay, a transfer
    (transaction items) that makes `shard` able to, or, when what is left is only crumbs
    scattered over the shards, parts of the hold on several of them (`parts`)."""

    shard: int
    transfer: list[dict[str, Any]] | None = None
    parts: tuple[Part, ...] = ()


@dataclass(frozen=True, slots=True)
class ShardedCounter:
    pk: str
    sk: str
    caps: Caps
    expires_at: int | None = None
    shards: int = 2

    @property
    def id(self) -> ItemKey:
        return ItemKey(self.pk, self.sk)

    @property
    def layout(self) -> str:
        caps = self.caps
        usd = "-" if caps.usd is None else str(to_units(caps.usd))
        return f"{self.shards}/{usd}/{caps.tokens if caps.tokens is not None else '-'}/" \
               f"{caps.requests if caps.requests is not None else '-'}"

    def item(self, index: int) -> ItemKey:
        return shard_key(self.pk, self.sk, index)

    def items(self, span: int = 0) -> tuple[ItemKey, ...]:
        return tuple(self.item(i) for i in range(max(self.shards, span)))

    def total(self, found: Mapping[ItemKey, Snapshot]) -> Snapshot:
        """The counter's numbers: every shard's it was read with, summed (loans cancel out)."""
        return summed(self.id, found)

    def refusal(self, refused: Mapping[ItemKey, Snapshot]) -> Snapshot | None:
        mine = {k: v for k, v in refused.items() if self.id.holds(k)}
        return self.total(mine) if mine else None

    # ---- slices --------------------------------------------------------------------------
    def dims(self, usd: Decimal = Decimal(0), tokens: int = 0) -> list[Dim]:
        caps = self.caps
        out = []
        if caps.usd is not None:
            out.append(Dim(HELD_USD, to_units(caps.usd), to_units(usd)))
        if caps.tokens is not None:
            out.append(Dim(HELD_TOKENS, caps.tokens, tokens))
        if caps.requests is not None:
            out.append(Dim(REQUESTS, caps.requests, 1))
        return out

    def slice(self, index: int, limit: int) -> int:
        return limit // self.shards + (1 if index < limit % self.shards else 0)

    def slice_caps(self, index: int) -> Caps:
        caps = self.caps
        return Caps(usd=None if caps.usd is None else from_units(self.slice(index, to_units(caps.usd))),
                    tokens=None if caps.tokens is None else self.slice(index, caps.tokens),
                    requests=None if caps.requests is None else self.slice(index, caps.requests))

    def affords(self, total: Snapshot, usd: Decimal, tokens: int) -> bool:
        """Can the whole counter (every shard's room together) pay for this request?"""
        held = {HELD_USD: to_units(total.held_usd), HELD_TOKENS: total.held_tokens, REQUESTS: total.requests}
        return all(held[d.attr] + d.need <= d.limit for d in self.dims(usd, tokens))

    # ---- single-item updates -----------------------------------------------------------------
    def reserve_on(self, table: str, index: int, *, usd: Decimal, tokens: int,
                   requests: int = 1) -> tuple[Hold, dict[str, Any]]:
        item = self.item(index)
        op = reserve_op(table, item, self.slice_caps(index), usd, tokens, self.expires_at, layout=self.layout,
                        requests=requests)
        return Hold(item, usd, tokens, requests), op

    def settle_ops(self, table: str, hold: Hold, *, spent_usd: Decimal, spent_tokens: int,
                   overrun: str | None = None) -> list[dict[str, Any]]:
        """One update per shard the hold is on; a split hold's cost is split like its parts."""
        pieces = hold.pieces()
        usd = split(to_units(spent_usd), [to_units(p.usd) for p in pieces])
        tokens = split(spent_tokens, [p.tokens for p in pieces])
        return [settle_op(table, p, spent_usd=from_units(usd[i]), spent_tokens=tokens[i], overrun=overrun)
                for i, p in enumerate(pieces)]

    def release_ops(self, table: str, hold: Hold) -> list[dict[str, Any]]:
        return [release_op(table, p) for p in hold.pieces()]

    def clear_overrun(self, table: str, marker: str) -> list[dict[str, Any]]:
        return [clear_overrun_op(table, item, marker) for item in self.items()]

    # ---- where to go when a shard refuses -------------------------------------------------------
    def rooms(self, found: Raw) -> list[list[int]]:
        """Per shard, per capped dimension: what it can still take (slice - held), from items read."""
        dims = self.dims()
        return [[self.slice(i, d.limit) - number(found.get(self.item(i)), d.attr) for d in dims]
                for i in range(self.shards)]

    def placement(self, table: str, found: Raw, usd: Decimal, tokens: int, rng: random.Random, *,
                  split_holds: bool = True) -> Placement | None:
        """Another shard that can pay, a transfer that lets one, or parts over several (None:
        the whole counter cannot pay, or the rooms read do not add up: read again)."""
        dims = self.dims(usd, tokens)
        rooms = self.rooms(found)
        totals = [sum(max(r[k], 0) for r in rooms) for k in range(len(dims))]
        if any(totals[k] < d.need for k, d in enumerate(dims)):
            return None
        fits = [i for i, room in enumerate(rooms) if all(room[k] >= d.need for k, d in enumerate(dims))]
        if fits:
            return Placement(rng.choice(fits))
        crumbs = any(totals[k] < d.need * TRANSFER_REQUESTS for k, d in enumerate(dims))
        if crumbs and split_holds:
            # A transfer would serve only a few requests and every request would race for one:
            # take this one's worst case in parts, each a conditional write of its own.
            return self._parts(dims, rooms, usd, tokens)

        def score(i: int) -> float:
            return min(rooms[i][k] / max(d.need, 1) for k, d in enumerate(dims))

        # Concurrent requests that need a transfer should not all pick the same shards: the
        # borrower is one of the few closest to paying, lenders are taken in random order.
        ranked = sorted(range(self.shards), key=score, reverse=True)
        borrower = rng.choice(ranked[:3])
        deficit = [max(d.need - rooms[borrower][k], 0) for k, d in enumerate(dims)]
        # Ask for more than needed, so the next requests on it need no transfer: a fair share of
        # what is left, and at least a few more requests' worth while that much is left.
        extra = [min(max(totals[k] - d.need, 0), max(totals[k] // self.shards, d.need * TRANSFER_REQUESTS))
                 for k, d in enumerate(dims)]
        wanted = [deficit[k] + extra[k] for k in range(len(dims))]
        gives: dict[int, list[int]] = {}
        lenders = [i for i in range(self.shards) if i != borrower and score(i) > 0]
        rng.shuffle(lenders)
        for lender in lenders:
            give = [min(max(rooms[lender][k], 0), wanted[k]) for k in range(len(dims))]
            if any(give):
                gives[lender] = give
                wanted = [wanted[k] - give[k] for k in range(len(dims))]
                deficit = [max(deficit[k] - give[k], 0) for k in range(len(dims))]
            if not any(deficit) and (not any(wanted) or len(gives) >= MAX_LENDERS):
                break
        if any(deficit) or not gives:
            return None  # only when the rooms read are inconsistent; the caller reads again
        return Placement(borrower, self._transfer(table, dims, gives, borrower))

    def _parts(self, dims: list[Dim], rooms: list[list[int]], usd: Decimal, tokens: int) -> Placement | None:
        # Largest rooms first, in the same order for every request: concurrent requests then race
        # for the same first part, and the losers fail before holding anything (taking parts in
        # random orders, each would hold some parts another needs, and all would give up).
        first = next((k for k, d in enumerate(dims) if d.attr != REQUESTS), 0)
        order = sorted(range(self.shards), key=lambda i: (-rooms[i][first], i))
        counted = next((k for k, d in enumerate(dims) if d.attr == REQUESTS), None)
        if counted is not None:  # the request itself is counted whole, by a shard that has room for it
            order.sort(key=lambda i: rooms[i][counted] < 1)
        left = {d.attr: d.need for d in dims if d.attr != REQUESTS}
        left_usd, left_tokens = to_units(usd), tokens
        parts: list[Part] = []
        for i in order:
            room = {d.attr: max(rooms[i][k], 0) for k, d in enumerate(dims)}
            take_usd = min(left_usd, room[HELD_USD]) if HELD_USD in left else left_usd if not parts else 0
            take_tokens = min(left_tokens, room[HELD_TOKENS]) if HELD_TOKENS in left else \
                left_tokens if not parts else 0
            request = 1 if not parts else 0
            if request and counted is not None and room[REQUESTS] < 1:
                return None
            gives = (HELD_USD in left and take_usd > 0) or (HELD_TOKENS in left and take_tokens > 0)
            if not gives and not (request and counted is not None):
                continue  # nothing for a capped dimension here (and the request is counted elsewhere)
            parts.append(Part(i, from_units(take_usd), take_tokens, request))
            left_usd, left_tokens = left_usd - take_usd, left_tokens - take_tokens
            if left_usd == 0 and left_tokens == 0:
                return Placement(parts[0].shard, parts=tuple(parts))
        return None

    def _transfer(self, table: str, dims: list[Dim], gives: dict[int, list[int]],
                  borrower: int) -> list[dict[str, Any]]:
        table_items = []
        lent = [0] * len(dims)
        for lender, give in gives.items():
            names: dict[str, str] = {"#ly": LAYOUT}
            values: dict[str, Any] = {":ly": self.layout}
            adds, conds = [], ["#ly = :ly"]
            for k, d in enumerate(dims):
                if give[k]:
                    names[f"#h{k}"] = d.attr
                    values[f":g{k}"] = n(give[k])
                    values[f":c{k}"] = n(self.slice(lender, d.limit) - give[k])
                    adds.append(f"#h{k} :g{k}")
                    most = self.slice(lender, d.limit) - give[k]
                    conds.append(f"(attribute_not_exists(#h{k}) OR #h{k} <= :c{k})" if most >= 0 else f"#h{k} <= :c{k}")
                    lent[k] += give[k]
            table_items.append(self._update(table, lender, names, values, "ADD " + ", ".join(adds),
                                            " AND ".join(conds)))
        names = {"#ly": LAYOUT}
        values = {":ly": self.layout}
        adds = []
        for k, d in enumerate(dims):
            if lent[k]:
                names[f"#h{k}"] = d.attr
                values[f":g{k}"] = n(-lent[k])
                adds.append(f"#h{k} :g{k}")
        table_items.append(self._update(table, borrower, names, values, "ADD " + ", ".join(adds), "#ly = :ly"))
        return table_items

    def _update(self, table: str, index: int, names: dict[str, str], values: dict[str, Any], update: str,
                condition: str) -> dict[str, Any]:
        return {"Update": {"TableName": table, "Key": self.item(index).key(), "UpdateExpression": update,
                           "ConditionExpression": condition, "ExpressionAttributeNames": names,
                           "ExpressionAttributeValues": values}}

    # ---- laying the counter out (again) -------------------------------------------------------
    def span_of(self, found: Raw) -> int:
        anchor = found.get(self.item(0))
        return max(self.shards, number(anchor, SPAN) or 1)

    def laid_out(self, found: Raw) -> bool:
        if self.shards == 1:  # unsharded: the first item carries no layout
            return text((found.get(self.item(0)) or {}).get(LAYOUT)) is None
        return all(text((found.get(self.item(i)) or {}).get(LAYOUT)) == self.layout for i in range(self.shards))

    def layout_items(self, table: str, found: Raw) -> list[dict[str, Any]]:
        """One transaction that balances every shard of the period for this layout: the active
        shards within their slices (when the total fits), shards beyond N emptied into them."""
        span = self.span_of(found)
        dims = self.dims()
        read = [[number(found.get(self.item(i)), d.attr) for d in dims] for i in range(span)]
        targets = [[0] * len(dims) for _ in range(span)]
        for k, d in enumerate(dims):
            held = sum(row[k] for row in read)
            slices = [self.slice(i, d.limit) for i in range(self.shards)]
            rooms = split(d.limit - held, slices)
            for i in range(self.shards):
                targets[i][k] = slices[i] - rooms[i]
        out = []
        for i in range(span):
            names: dict[str, str] = {"#ly": LAYOUT}
            values: dict[str, Any] = {}
            sets, adds, conds = [], [], []
            old = text((found.get(self.item(i)) or {}).get(LAYOUT))
            if old is None:
                conds.append("attribute_not_exists(#ly)")
            else:
                conds.append("#ly = :old")
                values[":old"] = old
            for k, d in enumerate(dims):
                names[f"#h{k}"] = d.attr
                values[f":r{k}"] = n(read[i][k])
                conds.append(f"(attribute_not_exists(#h{k}) OR #h{k} <= :r{k})")  # nothing grew since the read
                if targets[i][k] != read[i][k]:
                    values[f":d{k}"] = n(targets[i][k] - read[i][k])
                    adds.append(f"#h{k} :d{k}")
            if self.shards > 1 or i > 0:
                sets.append("#ly = :ly")
                values[":ly"] = self.layout if i < self.shards else f"retired/{self.layout}"
            if i == 0:
                names["#sp"] = SPAN
                values[":sp"] = n(span)
                sets.append("#sp = :sp")
            if self.expires_at is not None:
                names["#ex"] = EXPIRES_AT
                values[":ex"] = n(self.expires_at)
                sets.append("#ex = if_not_exists(#ex, :ex)")
            update = ("SET " + ", ".join(sets)) if sets else ""
            if adds:
                update += " ADD " + ", ".join(adds)
            if self.shards == 1 and i == 0:
                update += " REMOVE #ly"
            op = {"TableName": table, "Key": self.item(i).key(), "UpdateExpression": update.strip(),
                  "ConditionExpression": " AND ".join(conds), "ExpressionAttributeNames": names}
            if values:
                op["ExpressionAttributeValues"] = values
            out.append({"Update": op})
        return out


@dataclass(frozen=True, slots=True)
class HotScopes:
    """Which scopes are hot (config `budgets.hot_scopes`: "global", "team:<id>", "project:<id>",
    "key:<id>") and how many shards their counters get: the `shards` policy of Admission."""

    names: frozenset[str]
    shards: int

    def __call__(self, ref: ScopeRef) -> int:
        name = "global" if ref.scope == "global" else f"{ref.scope}:{ref.id}"
        return self.shards if name in self.names else 1
