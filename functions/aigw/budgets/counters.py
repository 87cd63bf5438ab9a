"""Counter items in the Counters table, and the store that writes and reads them.

Item layout (pk, sk):

    BUDGET#<scope>#<id>     <period key>        a budget's spend in one period (periods.py)
    BUDGET#<scope>#<id>#<n> <period key>        shard n (n >= 1) of a hot scope's budget
    RATE#<scope>#<id>[#<n>] m#<minute>          a rate window: requests and tokens in one minute
    USAGE#<month>           <dim>#<id>#<shard>  usage aggregates by key, team and model per month,
                                                spread over USAGE_SHARDS items that readers sum
                                                (finer periods: the CostUSD metric and the log lines)

Budget and rate items hold, as exact DynamoDB numbers:

    held_pusd  = spent_pusd + reserved_pusd    held_tokens = spent_tokens + reserved_tokens
    requests   (admitted requests)            money in integer pico-dollars (money.py)

(on one item; over a sharded counter's items these hold for the sums, see below).

Admission adds a request's worst case to `held_*` and `reserved_*` under the condition
`attribute_not_exists(held_pusd) OR held_pusd <= :cap` where `:cap = limit - reservation`
(DynamoDB conditions cannot add, so the subtraction happens here). Settlement, with no
condition, moves the reservation to `spent_*` at the actual cost. `held` therefore never
passes the limit at any instant (so long as no request costs more than its worst case): the
check and the increment are one atomic item write.

Overruns: a settlement that costs more than its reservation (an upstream that billed beyond
every bound the gateway knows, budgets/bounds.py) marks the items it settled with
`overrun = <request id>`. A reservation's condition requires the mark to be absent, so the
counter (a sharded counter: the shard that settled) refuses the next request, which then
clears the mark (conditionally, on the same value): from there on admission goes on with
the learned, larger bound.

Hot scopes. One item takes about 1,000 write units a second; a transactional write costs 2
and conflicts with any other transaction in flight on the item; a request writes each of its
counters twice (admit, settle). One plain counter written in transactions therefore carries
about 250 requests a second at best, and far less under concurrency: simulated (bench/
bench_sharded.py, tests/fakes/dynamo_sim.py), 500 clients on one team budget got 129
admissions a second, 58% of requests a 503 after 12 conflicting attempts, and 712
settlements failed for good (their reservations left held). So the counters of hot scopes
(config `budgets.hot_scopes`: the global budget by default, any team, project or key by name)
are sharded (shards.py: N items, `budgets.shards`, each holding a slice of the limit; the sum
over the shards never passes the limit at any instant), and written without any transaction
on the request path (hot.py: one conditional UpdateItem on one shard; another shard, a
transfer of room, or a hold split over shards when it refuses; a refusal only when the
shards together cannot pay). The ordinary scopes' counters stay in one TransactWriteItems
(holding.py), then the hot ones are taken in scope order, those already taken given back if
one refuses. The usage aggregates are UpdateItems of their own (they bound nothing; in a
transaction the gateway-wide model aggregate conflicted at a few hundred requests a second).

Why not a transaction over everything (sharded) or none (single writes for every counter)?
Measured in the same simulation at 5,000 requests a second on one global budget (16 shards):
this design admitted 4,992 a second, admission p50 3.3 ms, p99 6.6 ms, no 503, at most 2
conflicts in any one admission (the period's first layout), the hottest shard at 642 write
units a second; the same shards inside the request's transaction admitted 1,538 a second,
p50 3.9 s, 14% 503s and 5,666 failed settlements; this design with the usage aggregates
back in the settlement transaction 3,634 a second with 4,016 failed settlements; today's
code 176 a second, 86% 503s. On ordinary scopes (1,000 requests a second over 200 keys,
each with a budget and an RPM window) there is nothing to conflict with: one transaction
took 1 call per admission (p50 5.8 ms, p99 13.4 ms), single writes 2 (6.7 ms, 10.7 ms) and
give up the idempotency token and the all-or-nothing. Hence the mix.

Limits of sharded counters: listed, with figures, in hot.py. Budget alerts of a hot budget
are decided on its total, off the client's path (hot_alerts.py).

`budget_counter`/`rate_counter` decide which items hold a counter (`shards`); callers get a
`Counter` or a `ShardedCounter` and ask it for updates, for its numbers summed over its items
(`total`, and `CounterStore.totals`, which also finds shards its caller did not know of: the
admin view sums them with no config) and for its refusal; they never build item keys.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aigw.budgets.items import (
    ALERTED,
    EXPIRES_AT,
    HELD_TOKENS,
    HELD_USD,
    LAYOUT,
    NO_CAPS,
    OVERRUN,
    REQUESTS,
    RESERVED_TOKENS,
    RESERVED_USD,
    SPAN,
    SPENT_TOKENS,
    SPENT_USD,
    Caps,
    Hold,
    ItemKey,
    Snapshot,
    clear_overrun_op,
    n,
    number,
    plain,
    release_op,
    reserve_op,
    settle_op,
    summed,
    u,
)
from aigw.budgets.money import ZERO, from_units
from aigw.budgets.shards import ShardedCounter, shard_key

__all__ = ["ALERTED", "EXPIRES_AT", "HELD_TOKENS", "HELD_USD", "LAYOUT", "OVERRUN", "REQUESTS", "RESERVED_TOKENS",
           "RESERVED_USD", "SPAN", "SPENT_TOKENS", "SPENT_USD", "AnyCounter", "Caps", "Counter", "CounterStore",
           "Hold", "ItemKey", "ShardedCounter", "Snapshot", "TransactionResult", "UsageTotals", "WriteResult",
           "budget_counter", "budget_pk", "rate_counter", "rate_pk", "usage_pk", "usage_update"]

# Usage aggregate attributes.
INPUT_TOKENS, OUTPUT_TOKENS, COST_USD = "input_tokens", "output_tokens", "cost_pusd"

MAX_ATTEMPTS = 12  # transaction conflicts are retried (they are not refusals)
# Usage aggregates have no limit to enforce, so they are sharded already: every request of a
# model gateway-wide writes its model's item, which would otherwise be the hottest item of all.
USAGE_SHARDS = 16


def budget_pk(scope: str, scope_id: str) -> str:
    return f"BUDGET#{scope}#{scope_id}"


def rate_pk(scope: str, scope_id: str) -> str:
    return f"RATE#{scope}#{scope_id}"


def usage_pk(period: str) -> str:
    return f"USAGE#{period}"


@dataclass(frozen=True, slots=True)
class Counter:
    """One logical counter on one item: a (scope, period) budget or a (scope, minute) rate window,
    with its caps. A hot scope's counter is a ShardedCounter instead (shards.py): same questions,
    asked of many items."""

    pk: str
    sk: str
    caps: Caps = NO_CAPS
    expires_at: int | None = None
    shards = 1

    @property
    def id(self) -> ItemKey:
        """The logical counter (for views and logs), whatever items hold it."""
        return ItemKey(self.pk, self.sk)

    def items(self, span: int = 0) -> tuple[ItemKey, ...]:
        """Its item; with `span`, also the shards it had when it was last sharded (readers sum them)."""
        return tuple(shard_key(self.pk, self.sk, i) for i in range(max(span, 1)))

    def reserve(self, table: str, *, usd: Decimal, tokens: int) -> tuple[Hold, dict[str, Any]]:
        """The transaction item that takes one request's worst case, if every cap allows it."""
        item = self.id
        return Hold(item, usd, tokens), {"Update": reserve_op(table, item, self.caps, usd, tokens, self.expires_at,
                                                              layout=None)}

    def settle(self, table: str, hold: Hold, *, spent_usd: Decimal, spent_tokens: int,
               overrun: str | None = None) -> dict[str, Any]:
        """The transaction item that replaces a reservation by what was actually spent; `overrun`
        (a request id) marks the counter when that was more than the reservation."""
        return {"Update": settle_op(table, hold, spent_usd=spent_usd, spent_tokens=spent_tokens, overrun=overrun)}

    def release(self, table: str, hold: Hold) -> dict[str, Any]:
        """The transaction item that gives a reservation back (a later counter refused the request)."""
        return {"Update": release_op(table, hold)}

    def clear_overrun(self, table: str, marker: str) -> list[dict[str, Any]]:
        """Updates (one per item) that lift an overrun mark, only if it is still `marker`."""
        return [clear_overrun_op(table, item, marker) for item in self.items()]

    def total(self, found: Mapping[ItemKey, Snapshot]) -> Snapshot:
        """The counter's numbers: its items' summed (a missing item is zero)."""
        return summed(self.id, found)

    def refusal(self, refused: Mapping[ItemKey, Snapshot]) -> Snapshot | None:
        """What this counter looked like when it refused a transaction, or None if it did not."""
        return refused.get(self.id)

    def unsharded(self) -> ShardedCounter:
        """The same counter as a one-shard layout: laying it out moves every shard's `held` onto
        the item (a scope that stopped being hot) and lifts the layout mark."""
        return ShardedCounter(self.pk, self.sk, self.caps, self.expires_at, shards=1)


AnyCounter = Counter | ShardedCounter


def budget_counter(scope: str, scope_id: str, period_key: str, caps: Caps = NO_CAPS,
                   expires_at: int | None = None, *, shards: int = 1) -> AnyCounter:
    """The counter of one scope's budget in one period: the one place that decides which items
    hold it (`shards` > 1: a hot scope's, spread over that many)."""
    pk = budget_pk(scope, scope_id)
    if shards > 1:
        return ShardedCounter(pk, period_key, caps, expires_at, shards=shards)
    return Counter(pk, period_key, caps, expires_at)


def rate_counter(scope: str, scope_id: str, window_key: str, caps: Caps = NO_CAPS,
                 expires_at: int | None = None, *, shards: int = 1) -> AnyCounter:
    """The counter of one scope's rate limits in one minute window."""
    pk = rate_pk(scope, scope_id)
    if shards > 1 and caps.requests is not None:
        shards = max(1, min(shards, caps.requests // MIN_REQUESTS_PER_SHARD))  # a slice must hold some requests
    if shards > 1:
        return ShardedCounter(pk, "m#" + window_key, caps, expires_at, shards=shards)
    return Counter(pk, "m#" + window_key, caps, expires_at)


MIN_REQUESTS_PER_SHARD = 8


def usage_update(table: str, period: str, dim: str, dim_id: str, *, cost: Decimal, input_tokens: int,
                 output_tokens: int, expires_at: int | None, shard: int = 0) -> dict[str, Any]:
    """The UpdateItem adding one request to a usage aggregate (a single write of its own: see the
    module doc)."""
    names = {"#rq": REQUESTS, "#c": COST_USD, "#i": INPUT_TOKENS, "#o": OUTPUT_TOKENS}
    values: dict[str, Any] = {":one": n(1), ":c": u(cost), ":i": n(input_tokens), ":o": n(output_tokens)}
    update = "ADD #rq :one, #c :c, #i :i, #o :o"
    if expires_at is not None:
        names["#ex"] = EXPIRES_AT
        values[":ex"] = n(expires_at)
        update += " SET #ex = if_not_exists(#ex, :ex)"
    return {"TableName": table, "Key": ItemKey(usage_pk(period), f"{dim}#{dim_id}#{shard}").key(),
            "UpdateExpression": update, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


@dataclass(slots=True)
class TransactionResult:
    ok: bool
    # item -> the item as it was (ALL_OLD) when its condition failed
    refused: dict[ItemKey, Snapshot] = field(default_factory=dict)
    attempts: int = 1


@dataclass(slots=True)
class WriteResult:
    ok: bool
    old: dict[str, Any] | None = None  # the item as it was (ALL_OLD) when its condition failed
    attempts: int = 1
    new: dict[str, Any] | None = None  # what the write returned (`ReturnValues`), if it asked for any


@dataclass(slots=True)
class UsageTotals:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = ZERO


class CounterStore:
    """Runs counter writes and reads (blocking: call through a thread). The boto3 client is injected:
    a DynamoDB resource's client (`resource.meta.client`), which takes and returns Python values."""

    def __init__(self, client: Callable[[], Any], *, table_name: Callable[[], str], max_attempts: int = MAX_ATTEMPTS,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        self._client = client
        self.table_name = table_name
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._rng = rng or random.Random()

    def transact(self, items: Sequence[dict[str, Any]], *, token: str | None = None, attempts: int | None = None,
                 raise_conflicts: bool = True) -> TransactionResult:
        """One TransactWriteItems. Conditional failures come back as `refused`; conflicts with
        concurrent transactions are retried with jittered backoff (they are not refusals), up to
        `attempts`; then raised, or (`raise_conflicts=False`) returned as not ok, refused by none."""
        client = self._client()
        attempts = attempts or self._max_attempts
        for attempt in range(1, attempts + 1):
            kwargs: dict[str, Any] = {"TransactItems": list(items)}
            if token is not None:
                # Makes botocore's own retries of this exact call idempotent (a timed-out call
                # that did apply is not applied twice); a new attempt after a conflict is a new call.
                kwargs["ClientRequestToken"] = f"{token}.{attempt}"[:36]
            try:
                client.transact_write_items(**kwargs)
                return TransactionResult(ok=True, attempts=attempt)
            except client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons") or []
                refused = {_item_key(items[i]): Snapshot.from_item(r.get("Item")) for i, r in enumerate(reasons)
                           if r.get("Code") == "ConditionalCheckFailed" and i < len(items)}
                if refused:
                    return TransactionResult(ok=False, refused=refused, attempts=attempt)
                if not any(r.get("Code") in ("TransactionConflict", "ThrottlingError") for r in reasons):
                    raise
                if attempt == attempts:
                    if raise_conflicts:
                        raise
                    return TransactionResult(ok=False, attempts=attempt)
            except client.exceptions.TransactionInProgressException:
                if attempt == attempts:
                    raise
            self.pause(attempt)
        raise AssertionError("unreachable")

    def write(self, update: dict[str, Any]) -> WriteResult:
        """One UpdateItem. A failed condition comes back as not ok, with the item as it was
        (ALL_OLD, as the resource client's values); a conflict with a transaction in flight on
        the item is retried with jittered backoff. Throttling is botocore's to retry."""
        client = self._client()
        for attempt in range(1, self._max_attempts + 1):
            try:
                answer = client.update_item(**update)
                return WriteResult(ok=True, attempts=attempt, new=plain((answer or {}).get("Attributes")))
            except client.exceptions.ConditionalCheckFailedException as exc:
                return WriteResult(ok=False, old=plain(exc.response.get("Item")), attempts=attempt)
            except client.exceptions.TransactionConflictException:
                if attempt == self._max_attempts:
                    raise
            self.pause(attempt)
        raise AssertionError("unreachable")

    def pause(self, attempt: int) -> None:
        """Jittered exponential backoff before another attempt."""
        self._sleep(min(0.005 * 2 ** attempt, 0.25) * (0.5 + self._rng.random() / 2))

    def read_raw(self, keys: Sequence[ItemKey]) -> dict[ItemKey, dict[str, Any] | None]:
        """Some items as stored (None: absent), consistent reads, one BatchGetItem per 100."""
        client = self._client()
        table = self.table_name()
        out: dict[ItemKey, dict[str, Any] | None] = dict.fromkeys(keys)
        unique = list(out)
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {table: {"Keys": [k.key() for k in unique[start:start + 100]],
                                               "ConsistentRead": True}}
            rounds = 0
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(table, []):
                    out[ItemKey(str(item["pk"]), str(item["sk"]))] = item
                request = response.get("UnprocessedKeys") or {}
                if request:  # throttled keys: back off before asking again, as DynamoDB advises
                    rounds += 1
                    self.pause(rounds)
        return out

    def read(self, keys: Sequence[ItemKey]) -> dict[ItemKey, Snapshot]:
        """Current numbers of some items (missing items read as zero)."""
        return {k: Snapshot.from_item(item) for k, item in self.read_raw(keys).items()}

    def totals(self, counters: Sequence[AnyCounter]) -> list[Snapshot]:
        """Each counter's numbers, summed over every item its period has used (its shards, when it
        is or was sharded: the first item says how many), all read in one batch (two when a
        counter turns out to have more shards than its caller knew of)."""
        found = self.read_raw([item for c in counters for item in c.items()])
        more = [item for c in counters for item in c.items(number(found.get(c.id), SPAN)) if item not in found]
        if more:
            found.update(self.read_raw(more))
        snaps = {k: Snapshot.from_item(v) for k, v in found.items() if v is not None}
        return [c.total(snaps) for c in counters]

    def clear_overrun(self, counter: AnyCounter, marker: str) -> None:
        """Lift an overrun mark once its refusal has been given (a newer mark stays)."""
        client = self._client()
        for update in counter.clear_overrun(self.table_name(), marker):
            # Not marked (another shard, or already lifted), or a transfer in flight on the shard:
            # the mark then refuses one more request, which lifts it.
            with contextlib.suppress(client.exceptions.ConditionalCheckFailedException,
                                     client.exceptions.TransactionConflictException):
                client.update_item(**update)

    def usage(self, period: str, dim: str) -> dict[str, UsageTotals]:
        """The usage aggregates of one month by one dimension (its shards summed), by id."""
        client = self._client()
        kwargs: dict[str, Any] = {"TableName": self.table_name(), "ConsistentRead": True,
                                  "KeyConditionExpression": "pk = :pk AND begins_with(sk, :dim)",
                                  "ExpressionAttributeValues": {":pk": usage_pk(period), ":dim": f"{dim}#"}}
        sums: dict[str, UsageTotals] = {}
        while True:
            page = client.query(**kwargs)
            for item in page.get("Items", []):
                ident = str(item["sk"]).split("#")[1]  # <dim>#<id>#<shard>: ids never contain '#'
                row = sums.setdefault(ident, UsageTotals())
                row.requests += int(item.get(REQUESTS, 0))
                row.input_tokens += int(item.get(INPUT_TOKENS, 0))
                row.output_tokens += int(item.get(OUTPUT_TOKENS, 0))
                row.cost_usd += from_units(int(item.get(COST_USD, 0)))
            if "LastEvaluatedKey" not in page:
                return sums
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _item_key(item: Mapping[str, Any]) -> ItemKey:
    op = next(iter(item.values()))
    key = op["Key"]
    return ItemKey(str(key["pk"]), str(key["sk"]))
