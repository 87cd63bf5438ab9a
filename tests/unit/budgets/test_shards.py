"""Sharded counters, the arithmetic: slices sum to the limit, splits are exact, a layout keeps
the sum and puts every shard within its slice, a transfer keeps the sum, parts pay exactly.
Layouts and transfers are applied to the simulated DynamoDB (zero latency) so that their
expressions are checked too."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.budgets.counters import Caps, budget_counter, rate_counter
from aigw.budgets.items import HELD_USD, ItemKey, number
from aigw.budgets.money import from_units
from aigw.budgets.scopes import ScopeRef
from aigw.budgets.shards import HotScopes, ShardedCounter, split
from aigw.config import load_config
from tests.fakes.dynamo_sim import Latency, LogNormal, SimDynamo

ZERO = LogNormal(0.0, 0.0)
TABLE = "t"


def sim() -> SimDynamo:
    return SimDynamo(latency=Latency(leg=ZERO, write=ZERO, transaction=ZERO, read=ZERO))


def counter(limit_units: int, shards: int) -> ShardedCounter:
    return ShardedCounter("BUDGET#global#global", "2026-11", Caps(usd=from_units(limit_units)), None, shards)


def put_held(db: SimDynamo, key: ItemKey, units: int, **extra: Any) -> None:
    db.items[(TABLE, key.pk, key.sk)] = {"pk": key.pk, "sk": key.sk, HELD_USD: Decimal(units), **extra}


def raw(db: SimDynamo, c: ShardedCounter, span: int = 0) -> dict[ItemKey, dict[str, Any] | None]:
    return {k: db.read((TABLE, k.pk, k.sk)) for k in c.items(span)}


@given(total=st.integers(-10**6, 10**6), weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=20))
def test_a_split_is_exact_and_never_more_than_a_share_rounded_up(total: int, weights: list[int]) -> None:
    parts = split(total, weights)
    assert sum(parts) == total and len(parts) == len(weights)
    if sum(weights) > 0:
        for part, weight in zip(parts, weights, strict=True):
            exact = total * weight / sum(weights)
            assert exact - 1 < part < exact + 1
            if weight == 0:
                assert part == 0


@given(limit=st.integers(0, 10**15), shards=st.integers(2, 64))
def test_slices_sum_to_the_limit(limit: int, shards: int) -> None:
    c = counter(limit, shards)
    assert sum(c.slice(i, limit) for i in range(shards)) == limit
    assert max(c.slice(i, limit) for i in range(shards)) - min(c.slice(i, limit) for i in range(shards)) <= 1


def test_hot_scopes_choose_the_counter() -> None:
    hot = HotScopes(frozenset({"global", "team:big"}), 8)
    assert hot(ScopeRef("global", "global")) == 8 and hot(ScopeRef("team", "big")) == 8
    assert hot(ScopeRef("team", "small")) == 1 and hot(ScopeRef("key", "big")) == 1
    assert isinstance(budget_counter("team", "big", "2026-11", Caps(usd=Decimal(1)), shards=8), ShardedCounter)
    assert budget_counter("team", "big", "2026-11", Caps(usd=Decimal(1))).shards == 1
    # a rate window's slice must hold a few requests: 40 RPM over 8 shards would be 5 a shard
    assert rate_counter("team", "big", "2026-11-25T16:05", Caps(requests=40), shards=8).shards == 5
    assert rate_counter("team", "big", "2026-11-25T16:05", Caps(requests=10), shards=8).shards == 1


@settings(max_examples=60, deadline=None)
@given(shards=st.integers(2, 16), old_span=st.integers(1, 24), limit=st.integers(0, 10_000),
       seed=st.integers(0, 10**6))
def test_a_layout_keeps_the_sum_and_balances_every_shard(shards: int, old_span: int, limit: int, seed: int) -> None:
    rng = random.Random(seed)
    db = sim()
    c = counter(limit, shards)
    held = [rng.randint(-200, 1_200) for _ in range(old_span)]  # loans make shards negative; legacy > slice
    for i, units in enumerate(held):
        extra = {"lay": f"{old_span}/old/-/-"} if old_span > 1 else {}
        if i == 0 and old_span > 1:
            extra["span"] = Decimal(old_span)
        put_held(db, c.item(i), units, **extra)
    found = raw(db, c, old_span)
    db.client().transact_write_items(TransactItems=c.layout_items(TABLE, found))
    after = raw(db, c, max(old_span, shards))
    now = [number(after[c.item(i)], HELD_USD) for i in range(max(old_span, shards))]
    assert sum(now) == sum(held)  # held moved, never created
    assert c.laid_out(after) and c.span_of(after) == max(old_span, shards)
    assert all(units == 0 for units in now[shards:])  # shards beyond the new count emptied
    if sum(held) <= limit:
        assert all(now[i] <= c.slice(i, limit) for i in range(shards))  # the invariant holds again
    else:
        assert all(now[i] >= c.slice(i, limit) for i in range(shards))  # over: every shard refuses


def test_a_layout_refuses_when_a_shard_grew_since_it_was_read() -> None:
    db = sim()
    c = counter(1_000, 4)
    put_held(db, c.item(0), 700)  # a plain counter's item that became hot
    items = c.layout_items(TABLE, raw(db, c))
    put_held(db, c.item(0), 750)  # a stale writer reserved meanwhile
    client = db.client()
    try:
        client.transact_write_items(TransactItems=items)
    except client.exceptions.TransactionCanceledException as exc:
        assert exc.response["CancellationReasons"][0]["Code"] == "ConditionalCheckFailed"
    else:
        raise AssertionError("a layout must not apply over a read that moved")


@settings(max_examples=60, deadline=None)
@given(shards=st.integers(2, 16), seed=st.integers(0, 10**6), need=st.integers(1, 300))
def test_placement_transfers_keep_the_sum_and_parts_pay_exactly(shards: int, seed: int, need: int) -> None:
    rng = random.Random(seed)
    db = sim()
    limit = shards * 200
    c = counter(limit, shards)
    for i in range(shards):
        put_held(db, c.item(i), c.slice(i, limit) - rng.randint(0, 120), lay=c.layout)
    found = raw(db, c)
    rooms = [r[0] for r in c.rooms(found)]
    place = c.placement(TABLE, found, from_units(need), 0, rng)
    if sum(rooms) < need:
        assert place is None
        return
    assert place is not None
    if place.parts:
        assert sum(p.usd for p in place.parts) == from_units(need) and sum(p.requests for p in place.parts) == 1
        assert all(from_units(rooms[p.shard]) >= p.usd > 0 for p in place.parts)
    elif place.transfer:
        before = sum(number(v, HELD_USD) for v in found.values())
        db.client().transact_write_items(TransactItems=place.transfer)
        after = raw(db, c)
        assert sum(number(v, HELD_USD) for v in after.values()) == before
        assert c.rooms(after)[place.shard][0] >= need
        assert all(number(after[c.item(i)], HELD_USD) <= c.slice(i, limit) for i in range(shards))
    else:
        assert rooms[place.shard] >= need


def test_hot_scopes_are_configured_by_name_and_the_global_budget_is_hot_by_default() -> None:
    default = load_config({}).budgets
    assert default.hot_scopes == ["global"] and default.shards == 16
    assert load_config({"budgets": {"hot_scopes": ["global", "team:research", "key:key_abcd"], "shards": 8}})
    for bad in ({"hot_scopes": ["team"]}, {"hot_scopes": ["teams:x"]}, {"shards": 65}, {"shards": 0},
                {"hot_scope": ["global"]}):
        with pytest.raises(ValueError, match=r"hot scope|shards|hot_scope"):
            load_config({"budgets": bad})
