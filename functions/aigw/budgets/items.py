"""One counter item: its attributes, its numbers, and the updates that change it.

Shared by the plain counter (counters.py, one item) and the sharded one (shards.py, many):
every update here targets one item and is built as one conditional expression (no
read-modify-write). See counters.py for the layout of the Counters table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
LAYOUT = "lay"  # on a sharded counter's items: the layout (shards and limits) they are balanced for
SPAN = "span"  # on a sharded counter's first item: how many shards its period has used


def n(value: int) -> Decimal:
    # The client is a resource's (`resource.meta.client`): it serializes Python values itself.
    return Decimal(value)


def u(usd: Decimal) -> Decimal:
    return Decimal(to_units(usd))


@dataclass(frozen=True, slots=True)
class Caps:
    """Limits checked when reserving; None = not limited."""

    usd: Decimal | None = None
    tokens: int | None = None
    requests: int | None = None


NO_CAPS = Caps()


@dataclass(frozen=True, slots=True)
class ItemKey:
    pk: str
    sk: str

    def key(self) -> dict[str, Any]:
        return {"pk": self.pk, "sk": self.sk}

    def holds(self, key: ItemKey) -> bool:
        """Whether `key` is this counter's item or one of its shards (`pk#i`, the same sort key)."""
        return key == self or (key.sk == self.sk and key.pk.startswith(self.pk + "#"))


@dataclass(frozen=True, slots=True)
class Hold:
    """One request's reservation on one counter: the item that took it, and how much. On a
    sharded counter it may be split over several shards (`parts`, each a Hold of its own, the
    request counted by one of them); then `item` is the first part's."""

    item: ItemKey
    usd: Decimal
    tokens: int
    requests: int = 1  # the request itself: counted by exactly one part of a split hold
    parts: tuple[Hold, ...] = ()

    def pieces(self) -> tuple[Hold, ...]:
        return self.parts or (self,)


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
    layout: str | None = None  # a sharded layout mark (LAYOUT) on the item
    alerted: frozenset[str] = frozenset()  # the alert thresholds already sent (budgets/alerts.py)

    def __add__(self, other: Snapshot) -> Snapshot:
        return Snapshot(held_usd=self.held_usd + other.held_usd, held_tokens=self.held_tokens + other.held_tokens,
                        requests=self.requests + other.requests, reserved_usd=self.reserved_usd + other.reserved_usd,
                        reserved_tokens=self.reserved_tokens + other.reserved_tokens,
                        spent_usd=self.spent_usd + other.spent_usd, spent_tokens=self.spent_tokens + other.spent_tokens,
                        overrun=self.overrun or other.overrun, layout=self.layout or other.layout,
                        alerted=self.alerted | other.alerted)

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None) -> Snapshot:
        """From an item as the resource client returns it (numbers as Decimal) or typed."""
        item = item or {}
        return cls(held_usd=from_units(number(item, HELD_USD)), held_tokens=number(item, HELD_TOKENS),
                   requests=number(item, REQUESTS), reserved_usd=from_units(number(item, RESERVED_USD)),
                   reserved_tokens=number(item, RESERVED_TOKENS), spent_usd=from_units(number(item, SPENT_USD)),
                   spent_tokens=number(item, SPENT_TOKENS), overrun=text(item.get(OVERRUN)),
                   layout=text(item.get(LAYOUT)), alerted=strings(item.get(ALERTED)))


def number(item: Mapping[str, Any] | None, name: str) -> int:
    """An integer attribute (0 when absent), plain or typed (`{"N": "5"}`)."""
    raw = (item or {}).get(name)
    if isinstance(raw, dict):  # a typed value: error payloads, or a plain client injected
        raw = raw.get("N")
    return 0 if raw is None else int(Decimal(raw))


def strings(raw: Any) -> frozenset[str]:
    """A string set attribute (empty when absent), plain or typed (`{"SS": [...]}`)."""
    if isinstance(raw, dict):
        raw = raw.get("SS")
    return frozenset(str(v) for v in raw or ())


def text(raw: Any) -> str | None:
    if isinstance(raw, dict):
        raw = raw.get("S")
    return None if raw is None else str(raw)


def plain(item: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An item with typed values (as error payloads carry them) as the resource client's values."""
    if item is None:
        return None
    out: dict[str, Any] = {}
    for name, raw in item.items():
        if isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in ("N", "S"):
            kind, value = next(iter(raw.items()))
            out[name] = Decimal(value) if kind == "N" else value
        else:
            out[name] = raw
    return out


# ---- updates of one item (the parameters of an UpdateItem, or a transaction's Update) --------
def reserve_op(table: str, item: ItemKey, caps: Caps, usd: Decimal, tokens: int, expires_at: int | None, *,
               layout: str | None, requests: int = 1) -> dict[str, Any]:
    """Take one request's worst case if every cap allows it. `caps` are this item's: the whole
    limit for a plain counter, the item's slice for a shard. `layout`: the layout a shard must be
    balanced for; None for a plain counter, which then requires that the item has none (it was
    never sharded, or has been unsharded since)."""
    names = {"#hu": HELD_USD, "#ru": RESERVED_USD, "#ht": HELD_TOKENS, "#rt": RESERVED_TOKENS, "#rq": REQUESTS}
    values: dict[str, Any] = {":u": u(usd), ":t": n(tokens), ":one": n(requests)}
    update = "ADD #hu :u, #ru :u, #ht :t, #rt :t, #rq :one"
    if expires_at is not None:
        names["#ex"] = EXPIRES_AT
        values[":ex"] = n(expires_at)
        update += " SET #ex = if_not_exists(#ex, :ex)"
    conditions = []
    for attr, cap, placeholder in cap_clauses(caps, usd, tokens, requests):
        # An absent attribute holds 0: it fits only if the request alone does (a shard's slice
        # can be smaller than a request; a shard that borrowed can hold less than 0).
        conditions.append(f"(attribute_not_exists({attr}) OR {attr} <= {placeholder})" if cap >= 0
                          else f"{attr} <= {placeholder}")
        values[placeholder] = cap
    op: dict[str, Any] = {"TableName": table, "Key": item.key(), "UpdateExpression": update,
                          "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
    if conditions or layout is not None:
        names["#ov"] = OVERRUN
        names["#ly"] = LAYOUT
        conditions.append("attribute_not_exists(#ov)")
        if layout is None:
            conditions.append("attribute_not_exists(#ly)")
        else:
            conditions.append("#ly = :ly")
            values[":ly"] = layout
        op["ConditionExpression"] = " AND ".join(conditions)
        op["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return op


def settle_op(table: str, hold: Hold, *, spent_usd: Decimal, spent_tokens: int,
              overrun: str | None = None) -> dict[str, Any]:
    """Replace a reservation by what was actually spent (no condition: it always lands);
    `overrun` (a request id) marks the item when that was more than the reservation."""
    names = {"#hu": HELD_USD, "#su": SPENT_USD, "#ru": RESERVED_USD,
             "#ht": HELD_TOKENS, "#st": SPENT_TOKENS, "#rt": RESERVED_TOKENS}
    values: dict[str, Any] = {
        ":du": n(to_units(spent_usd) - to_units(hold.usd)), ":su": u(spent_usd), ":nu": n(-to_units(hold.usd)),
        ":dt": n(spent_tokens - hold.tokens), ":st": n(spent_tokens), ":nt": n(-hold.tokens)}
    update = "ADD #hu :du, #su :su, #ru :nu, #ht :dt, #st :st, #rt :nt"
    if overrun is not None:
        names["#ov"] = OVERRUN
        values[":ov"] = overrun
        update += " SET #ov = :ov"
    return {"TableName": table, "Key": hold.item.key(), "UpdateExpression": update,
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


def release_op(table: str, hold: Hold) -> dict[str, Any]:
    """Give a reservation back as if it had never been taken (the request was refused by a
    counter reserved on after this one)."""
    names = {"#hu": HELD_USD, "#ru": RESERVED_USD, "#ht": HELD_TOKENS, "#rt": RESERVED_TOKENS, "#rq": REQUESTS}
    values = {":nu": n(-to_units(hold.usd)), ":nt": n(-hold.tokens), ":none": n(-hold.requests)}
    return {"TableName": table, "Key": hold.item.key(),
            "UpdateExpression": "ADD #hu :nu, #ru :nu, #ht :nt, #rt :nt, #rq :none",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


def clear_overrun_op(table: str, item: ItemKey, marker: str) -> dict[str, Any]:
    """Lift an overrun mark, only if it is still `marker`."""
    return {"TableName": table, "Key": item.key(), "UpdateExpression": "REMOVE #ov",
            "ConditionExpression": "#ov = :ov", "ExpressionAttributeNames": {"#ov": OVERRUN},
            "ExpressionAttributeValues": {":ov": marker}}


def cap_clauses(caps: Caps, usd: Decimal, tokens: int, requests: int = 1) -> list[tuple[str, Decimal, str]]:
    """(attribute, the most it may hold before this request, placeholder) per cap."""
    clauses: list[tuple[str, Decimal, str]] = []
    if caps.usd is not None:
        clauses.append(("#hu", Decimal(to_units(caps.usd) - to_units(usd)), ":cu"))
    if caps.tokens is not None:
        clauses.append(("#ht", Decimal(caps.tokens - tokens), ":ct"))
    if caps.requests is not None:
        clauses.append(("#rq", Decimal(caps.requests - requests), ":cr"))
    return clauses


def summed(counter: ItemKey, found: Mapping[ItemKey, Snapshot]) -> Snapshot:
    """A counter's numbers: the items of `found` that hold it, summed (a missing item is zero)."""
    out = Snapshot()
    for key, snap in found.items():
        if counter.holds(key):
            out = out + snap
    return out
