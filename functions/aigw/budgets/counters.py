"""Counter items in the Counters table, and the one transaction that moves them.

Item layout (pk, sk):

    BUDGET#<scope>#<id>   <period key>        a budget's spend in one period (periods.py)
    RATE#<scope>#<id>     m#<minute>          a rate window: requests and tokens in one minute
    USAGE#<month>         <dim>#<id>#<shard>  usage aggregates by key, team and model per month,
                                              spread over USAGE_SHARDS items that readers sum
                                              (finer periods: the CostUSD metric and the log lines)

Budget and rate items hold, as exact DynamoDB numbers:

    held_pusd  = spent_pusd + reserved_pusd    held_tokens = spent_tokens + reserved_tokens
    requests   (admitted requests)            money in integer pico-dollars (money.py)

Admission adds a request's worst case to `held_*` and `reserved_*` under the condition
`attribute_not_exists(held_pusd) OR held_pusd <= :cap` where `:cap = limit - reservation`
(DynamoDB conditions cannot add, so the subtraction happens here). Settlement, with no
condition, moves the reservation to `spent_*` at the actual cost. `held` therefore never
passes the limit at any instant (so long as no request costs more than its worst case): the
check and the increment are one atomic item write, and every counter a request touches
moves in the same TransactWriteItems (all or nothing).

Overruns: a settlement that costs more than its reservation (an upstream that billed beyond
every bound the gateway knows, budgets/bounds.py) marks the items it settled with
`overrun = <request id>`. A reservation's condition requires the mark to be absent, so the
scope refuses the next request, which then clears the mark (conditionally, on the same
value): from there on admission goes on with the learned, larger bound.

Hot items: DynamoDB sustains about 1,000 write units/s on one item (one partition key), a
transactional write costs 2 units, and a request writes each of its counters twice (admit,
settle): one counter carries about 250 requests/s. A global budget therefore caps the whole
gateway there, a team budget that team. Beyond that a counter must be sharded: N items each
holding limit/N, a request reserving on one shard (moving to another when its shard
refuses), readers summing the shards. `budget_counter`/`rate_counter` are the seam for that:
callers get a `Counter` and ask it for the update of a reservation (a `Hold`: which item
took it) or a settlement (of that hold), for its numbers summed over its items (`total`)
and for the refusal among a transaction's refused items (`refusal`); they never build item
keys or map refusals by position, so a sharded counter can replace `Counter` for the hot
scopes without changing them. Until then the limit above is the documented ceiling.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aigw.budgets.money import ZERO, from_units, to_units

# Counter item attributes.
# Money in integer pico-dollars (money.py); callers pass and get Decimal USD.
HELD_USD, SPENT_USD, RESERVED_USD = "held_pusd", "spent_pusd", "reserved_pusd"
HELD_TOKENS, SPENT_TOKENS, RESERVED_TOKENS = "held_tokens", "spent_tokens", "reserved_tokens"
REQUESTS = "requests"
EXPIRES_AT = "expires_at"
OVERRUN = "overrun"  # the request id of a settlement that cost more than its reservation
ALERTED = "alerted"  # string set: the budget alert thresholds already sent this period (budgets/alerts.py)
# Usage aggregate attributes.
INPUT_TOKENS, OUTPUT_TOKENS, COST_USD = "input_tokens", "output_tokens", "cost_pusd"

MAX_ATTEMPTS = 12  # transaction conflicts are retried (they are not refusals)
# Usage aggregates have no limit to enforce, so they are sharded already: every request of a
# model gateway-wide writes its model's item, which would otherwise be the hottest item of all.
USAGE_SHARDS = 8


def budget_pk(scope: str, scope_id: str) -> str:
    return f"BUDGET#{scope}#{scope_id}"


def rate_pk(scope: str, scope_id: str) -> str:
    return f"RATE#{scope}#{scope_id}"


def usage_pk(period: str) -> str:
    return f"USAGE#{period}"


def _n(value: int) -> Decimal:
    # The client is a resource's (`resource.meta.client`): it serializes Python values itself.
    return Decimal(value)


def _u(usd: Decimal) -> Decimal:
    return Decimal(to_units(usd))


@dataclass(frozen=True, slots=True)
class Caps:
    """Limits checked when reserving; None = not limited."""

    usd: Decimal | None = None
    tokens: int | None = None
    requests: int | None = None


@dataclass(frozen=True, slots=True)
class ItemKey:
    pk: str
    sk: str

    def key(self) -> dict[str, Any]:
        return {"pk": self.pk, "sk": self.sk}


@dataclass(frozen=True, slots=True)
class Hold:
    """One request's reservation on one counter: the item that took it, and how much."""

    item: ItemKey
    usd: Decimal
    tokens: int


@dataclass(frozen=True, slots=True)
class Counter:
    """One logical counter: a (scope, period) budget or a (scope, minute) rate window, with its caps.

    The only thing that knows which physical items hold it (one today; shards later, see the
    module doc), how a reservation and a settlement update them, and how their numbers sum.
    """

    pk: str
    sk: str
    caps: Caps = Caps()
    expires_at: int | None = None

    @property
    def id(self) -> ItemKey:
        """The logical counter (for views and logs), whatever items hold it."""
        return ItemKey(self.pk, self.sk)

    def items(self) -> tuple[ItemKey, ...]:
        return (ItemKey(self.pk, self.sk),)

    def reserve(self, table: str, *, usd: Decimal, tokens: int) -> tuple[Hold, dict[str, Any]]:
        """The transaction item that takes one request's worst case, if every cap allows it."""
        item = self.items()[0]
        names = {"#hu": HELD_USD, "#ru": RESERVED_USD, "#ht": HELD_TOKENS, "#rt": RESERVED_TOKENS, "#rq": REQUESTS}
        values: dict[str, Any] = {":u": _u(usd), ":t": _n(tokens), ":one": _n(1)}
        update = "ADD #hu :u, #ru :u, #ht :t, #rt :t, #rq :one"
        if self.expires_at is not None:
            names["#ex"] = EXPIRES_AT
            values[":ex"] = _n(self.expires_at)
            update += " SET #ex = if_not_exists(#ex, :ex)"
        conditions = []
        for attr, cap, placeholder in _cap_clauses(self.caps, usd, tokens):
            conditions.append(f"(attribute_not_exists({attr}) OR {attr} <= {placeholder})")
            values[placeholder] = cap
        op: dict[str, Any] = {"TableName": table, "Key": item.key(), "UpdateExpression": update,
                              "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        if conditions:
            names["#ov"] = OVERRUN
            conditions.append("attribute_not_exists(#ov)")
            op["ConditionExpression"] = " AND ".join(conditions)
            op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        return Hold(item, usd, tokens), {"Update": op}

    def settle(self, table: str, hold: Hold, *, spent_usd: Decimal, spent_tokens: int,
               overrun: str | None = None) -> dict[str, Any]:
        """The transaction item that replaces a reservation by what was actually spent; `overrun`
        (a request id) marks the counter when that was more than the reservation."""
        names = {"#hu": HELD_USD, "#su": SPENT_USD, "#ru": RESERVED_USD,
                 "#ht": HELD_TOKENS, "#st": SPENT_TOKENS, "#rt": RESERVED_TOKENS}
        values: dict[str, Any] = {
            ":du": _n(to_units(spent_usd) - to_units(hold.usd)), ":su": _u(spent_usd), ":nu": _n(-to_units(hold.usd)),
            ":dt": _n(spent_tokens - hold.tokens), ":st": _n(spent_tokens), ":nt": _n(-hold.tokens)}
        update = "ADD #hu :du, #su :su, #ru :nu, #ht :dt, #st :st, #rt :nt"
        if overrun is not None:
            names["#ov"] = OVERRUN
            values[":ov"] = overrun
            update += " SET #ov = :ov"
        return {"Update": {"TableName": table, "Key": hold.item.key(), "UpdateExpression": update,
                           "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}

    def clear_overrun(self, table: str, marker: str) -> list[dict[str, Any]]:
        """Updates (one per item) that lift an overrun mark, only if it is still `marker`."""
        return [{"TableName": table, "Key": item.key(), "UpdateExpression": "REMOVE #ov",
                 "ConditionExpression": "#ov = :ov", "ExpressionAttributeNames": {"#ov": OVERRUN},
                 "ExpressionAttributeValues": {":ov": marker}} for item in self.items()]

    def total(self, found: Mapping[ItemKey, Snapshot]) -> Snapshot:
        """The counter's numbers: its items' summed (a missing item is zero)."""
        out = Snapshot()
        for item in self.items():
            out = out + found.get(item, Snapshot())
        return out

    def refusal(self, refused: Mapping[ItemKey, Snapshot]) -> Snapshot | None:
        """What this counter looked like when it refused a transaction, or None if it did not."""
        mine = {k: v for k, v in refused.items() if k in self.items()}
        return self.total(mine) if mine else None


def budget_counter(scope: str, scope_id: str, period_key: str, caps: Caps = Caps(),
                   expires_at: int | None = None) -> Counter:
    """The counter of one scope's budget in one period. The one place that decides which items
    hold it: a sharded counter for hot scopes plugs in here, its callers unchanged."""
    return Counter(budget_pk(scope, scope_id), period_key, caps, expires_at)


def rate_counter(scope: str, scope_id: str, window_key: str, caps: Caps = Caps(),
                 expires_at: int | None = None) -> Counter:
    """The counter of one scope's rate limits in one minute window."""
    return Counter(rate_pk(scope, scope_id), "m#" + window_key, caps, expires_at)


def _cap_clauses(caps: Caps, usd: Decimal, tokens: int) -> list[tuple[str, Decimal, str]]:
    """(attribute, the most it may hold before this request, placeholder) per cap."""
    clauses: list[tuple[str, Decimal, str]] = []
    if caps.usd is not None:
        clauses.append(("#hu", Decimal(to_units(caps.usd) - to_units(usd)), ":cu"))
    if caps.tokens is not None:
        clauses.append(("#ht", Decimal(caps.tokens - tokens), ":ct"))
    if caps.requests is not None:
        clauses.append(("#rq", Decimal(caps.requests - 1), ":cr"))
    return clauses


def usage_update(table: str, period: str, dim: str, dim_id: str, *, cost: Decimal, input_tokens: int,
                 output_tokens: int, expires_at: int | None, shard: int = 0) -> dict[str, Any]:
    names = {"#rq": REQUESTS, "#c": COST_USD, "#i": INPUT_TOKENS, "#o": OUTPUT_TOKENS}
    values: dict[str, Any] = {":one": _n(1), ":c": _u(cost), ":i": _n(input_tokens), ":o": _n(output_tokens)}
    update = "ADD #rq :one, #c :c, #i :i, #o :o"
    if expires_at is not None:
        names["#ex"] = EXPIRES_AT
        values[":ex"] = _n(expires_at)
        update += " SET #ex = if_not_exists(#ex, :ex)"
    return {"Update": {"TableName": table, "Key": ItemKey(usage_pk(period), f"{dim}#{dim_id}#{shard}").key(),
                       "UpdateExpression": update, "ExpressionAttributeNames": names,
                       "ExpressionAttributeValues": values}}


@dataclass(slots=True)
class Snapshot:
    """A counter's numbers as last seen (ALL_OLD on a refusal, or a read), money in USD."""

    held_usd: Decimal = ZERO
    held_tokens: int = 0
    requests: int = 0
    reserved_usd: Decimal = ZERO
    reserved_tokens: int = 0
    spent_usd: Decimal = ZERO
    spent_tokens: int = 0
    overrun: str | None = None  # an overrun mark (counters.OVERRUN) on the item
    alerted: frozenset[str] = frozenset()  # the alert thresholds already sent (budgets/alerts.py)

    def __add__(self, other: Snapshot) -> Snapshot:
        return Snapshot(held_usd=self.held_usd + other.held_usd, held_tokens=self.held_tokens + other.held_tokens,
                        requests=self.requests + other.requests, reserved_usd=self.reserved_usd + other.reserved_usd,
                        reserved_tokens=self.reserved_tokens + other.reserved_tokens,
                        spent_usd=self.spent_usd + other.spent_usd, spent_tokens=self.spent_tokens + other.spent_tokens,
                        overrun=self.overrun or other.overrun, alerted=self.alerted | other.alerted)

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> Snapshot:
        """From an item as the resource client returns it (numbers as Decimal)."""
        item = item or {}

        def num(name: str) -> Decimal:
            raw = item.get(name)
            if isinstance(raw, dict):  # a typed value, if a plain client was injected
                raw = raw.get("N")
            return ZERO if raw is None else Decimal(raw)

        return cls(held_usd=from_units(num(HELD_USD)), held_tokens=int(num(HELD_TOKENS)),
                   requests=int(num(REQUESTS)), reserved_usd=from_units(num(RESERVED_USD)),
                   reserved_tokens=int(num(RESERVED_TOKENS)), spent_usd=from_units(num(SPENT_USD)),
                   spent_tokens=int(num(SPENT_TOKENS)), overrun=_text(item.get(OVERRUN)),
                   alerted=_strings(item.get(ALERTED)))


def _strings(raw: Any) -> frozenset[str]:
    if isinstance(raw, dict):  # a typed value, if a plain client was injected
        raw = raw.get("SS")
    return frozenset(str(v) for v in raw or ())


def _text(raw: Any) -> str | None:
    if isinstance(raw, dict):
        raw = raw.get("S")
    return None if raw is None else str(raw)


@dataclass(slots=True)
class TransactionResult:
    ok: bool
    # item -> the item as it was (ALL_OLD) when its condition failed
    refused: dict[ItemKey, Snapshot] = field(default_factory=dict)
    attempts: int = 1


@dataclass(slots=True)
class UsageTotals:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = ZERO


class CounterStore:
    """Runs counter transactions (blocking: call through a thread). The boto3 client is injected:
    a DynamoDB resource's client (`resource.meta.client`), which takes and returns Python values."""

    def __init__(self, client: Callable[[], Any], *, table_name: Callable[[], str], max_attempts: int = MAX_ATTEMPTS,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None) -> None:
        self._client = client
        self.table_name = table_name
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._rng = rng or random.Random()

    def transact(self, items: Sequence[dict[str, Any]], *, token: str | None = None) -> TransactionResult:
        """One TransactWriteItems. Conditional failures come back as `refused`; conflicts with
        concurrent transactions are retried with jittered backoff (they are not refusals)."""
        client = self._client()
        for attempt in range(1, self._max_attempts + 1):
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
                if not any(r.get("Code") in ("TransactionConflict", "ThrottlingError") for r in reasons) or \
                        attempt == self._max_attempts:
                    raise
            except client.exceptions.TransactionInProgressException:
                if attempt == self._max_attempts:
                    raise
            self._sleep(self._backoff(attempt))
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        return min(0.005 * 2 ** attempt, 0.25) * (0.5 + self._rng.random() / 2)

    def read(self, keys: Sequence[ItemKey]) -> dict[ItemKey, Snapshot]:
        """Current numbers of some items (one BatchGetItem per 100; missing items read as zero)."""
        client = self._client()
        table = self.table_name()
        out: dict[ItemKey, Snapshot] = {k: Snapshot() for k in keys}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 100):
            request: dict[str, Any] = {table: {"Keys": [k.key() for k in unique[start:start + 100]],
                                               "ConsistentRead": True}}
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(table, []):
                    out[ItemKey(str(item["pk"]), str(item["sk"]))] = Snapshot.from_item(item)
                request = response.get("UnprocessedKeys") or {}
        return out

    def totals(self, counters: Sequence[Counter]) -> list[Snapshot]:
        """Each counter's numbers, summed over its items, all read in one batch."""
        found = self.read([item for c in counters for item in c.items()])
        return [c.total(found) for c in counters]

    def clear_overrun(self, counter: Counter, marker: str) -> None:
        """Lift an overrun mark once its refusal has been given (a newer mark stays)."""
        client = self._client()
        for update in counter.clear_overrun(self.table_name(), marker):
            with contextlib.suppress(client.exceptions.ConditionalCheckFailedException):
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
