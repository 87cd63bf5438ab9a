"""The simulated DynamoDB: the gateway's expressions mean there what they mean in moto, and
throttling, transaction costs and transaction conflicts happen as DynamoDB documents them."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw.aws import table_name
from aigw.budgets.counters import Caps, Counter, Hold, ItemKey
from aigw.names import COUNTERS
from tests.fakes.dynamo_sim import Latency, LogNormal, SimDynamo
from tests.fakes.virtual_time import VirtualClock

ZERO_LATENCY = Latency(leg=LogNormal(0.0, 0.0), write=LogNormal(0.0, 0.0), transaction=LogNormal(0.0, 0.0),
                       read=LogNormal(0.0, 0.0))

ops = st.lists(st.tuples(st.sampled_from(["reserve", "settle", "mark", "clear"]),
                         st.integers(min_value=0, max_value=40), st.integers(min_value=0, max_value=400),
                         st.booleans()), min_size=1, max_size=25)


def _apply(client: Any, table: str, counter: Counter, op: str, cents: int, tokens: int, as_tx: bool,
           holds: list[Hold]) -> str:
    usd = Decimal(cents) / 100
    if op == "reserve":
        hold, item = counter.reserve(table, usd=usd, tokens=tokens)
        holds.append(hold)
        update = item["Update"]
    elif op in ("settle", "mark"):
        if not holds:
            return "skip"
        update = counter.settle(table, holds.pop(0), spent_usd=usd / 2, spent_tokens=tokens // 2,
                                overrun="sreq_1" if op == "mark" else None)["Update"]
    else:
        update = counter.clear_overrun(table, "sreq_1")[0]
    try:
        if as_tx:
            client.transact_write_items(TransactItems=[{"Update": update}])
        else:
            client.update_item(**update)
    except client.exceptions.TransactionCanceledException as exc:
        reasons = exc.response["CancellationReasons"]
        return f"cancel:{reasons[0]['Code']}:{sorted(reasons[0].get('Item', {}))}"
    except client.exceptions.ConditionalCheckFailedException as exc:
        return f"refused:{sorted(exc.response.get('Item', {}))}"
    return "ok"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=ops)
def test_the_gateways_counter_writes_mean_the_same_as_in_moto(local_aws: Any, sequence: list[Any]) -> None:
    table = table_name(COUNTERS)
    moto = local_aws.aws.dynamodb_client()
    sim = SimDynamo(latency=ZERO_LATENCY).client()
    counter = Counter("SIMTEST#" + uuid.uuid4().hex[:8], "2026-11", Caps(usd=Decimal(1), tokens=2_000, requests=9), 99)
    holds: dict[str, list[Hold]] = {"moto": [], "sim": []}
    for op, cents, tokens, as_tx in sequence:
        expected = _apply(moto, table, counter, op, cents, tokens, as_tx, holds["moto"])
        got = _apply(sim, table, counter, op, cents, tokens, as_tx, holds["sim"])
        assert got == expected, (op, cents, tokens, as_tx)
    key = counter.items()[0].key()
    in_moto = moto.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    in_sim = sim.get_item(TableName=table, Key=key).get("Item")
    assert in_sim == in_moto


def _tx(counter_pk: str) -> dict[str, Any]:
    return {"Update": {"TableName": "t", "Key": {"pk": counter_pk, "sk": "s"}, "UpdateExpression": "ADD n :one",
                       "ExpressionAttributeValues": {":one": Decimal(1)}}}


def test_a_transaction_in_flight_holds_its_items() -> None:
    clock = VirtualClock()
    latency = Latency(leg=LogNormal(0.001, 0.0), write=LogNormal(0.001, 0.0), transaction=LogNormal(0.005, 0.0),
                      read=LogNormal(0.001, 0.0))
    sim = SimDynamo(clock, latency=latency)
    client = sim.client()
    seen: dict[str, Any] = {}

    def first() -> None:
        client.transact_write_items(TransactItems=[_tx("a"), _tx("b")])
        seen["first"] = clock.now()

    def second() -> None:  # arrives while the first is in flight, on item b
        try:
            client.transact_write_items(TransactItems=[_tx("c"), _tx("b")])
        except client.exceptions.TransactionCanceledException as exc:
            seen["second"] = [r["Code"] for r in exc.response["CancellationReasons"]]

    def single() -> None:
        try:
            client.update_item(**_tx("a")["Update"])
        except client.exceptions.TransactionConflictException as exc:
            seen["single"] = exc.response["Error"]["Code"]

    def later() -> None:  # after the first committed
        client.update_item(**_tx("a")["Update"])
        seen["later"] = sim.items[("t", "a", "s")]["n"]

    clock.spawn(first)
    clock.spawn(second, at=0.002)
    clock.spawn(single, at=0.003)
    clock.spawn(later, at=0.010)
    clock.run()
    assert seen["second"] == ["None", "TransactionConflict"]
    assert seen["single"] == "TransactionConflictException"
    assert seen["later"] == 2  # the first transaction and this write; nothing from the refused ones
    assert seen["first"] == pytest.approx(0.007)  # leg + service + leg
    assert ("t", "c", "s") not in sim.items


def _load(per_second: int, *, transactional: bool, attempts: int) -> tuple[SimDynamo, int, int]:
    clock = VirtualClock()
    # No time in flight, so that transactions never conflict here: this is about capacity alone.
    sim = SimDynamo(clock, max_attempts=attempts, latency=Latency(transaction=LogNormal(0.0, 0.0)))
    client = sim.client()
    ok = refused = 0

    def writer(i: int) -> None:
        nonlocal ok, refused
        try:
            if transactional:
                client.transact_write_items(TransactItems=[_tx("hot")])
            else:
                client.update_item(**_tx("hot")["Update"])
            ok += 1
        except (client.exceptions.ProvisionedThroughputExceededException,
                client.exceptions.TransactionCanceledException) as exc:
            refused += 1
            assert "Throughput exceeds the current capacity" in str(exc.response)

    for i in range(per_second):  # one second of evenly spread writes on one item
        clock.spawn(lambda i=i: writer(i), at=i / per_second)
    clock.run()
    return sim, ok, refused


def test_one_item_takes_about_a_thousand_write_units_a_second() -> None:
    _, ok, refused = _load(900, transactional=False, attempts=1)
    assert refused == 0 and ok == 900
    _, ok, refused = _load(1_500, transactional=False, attempts=1)
    assert 1_000 <= ok <= 1_060 and refused == 1_500 - ok  # 1,000/s plus a 50 ms burst
    # A transaction costs two units per item: 600 a second on one item is 1,200 units.
    _, ok, refused = _load(600, transactional=True, attempts=1)
    assert 500 <= ok <= 530 and refused == 600 - ok


def test_throttled_writes_are_retried_as_botocore_does() -> None:
    sim, ok, refused = _load(1_500, transactional=False, attempts=10)
    assert ok == 1_500 and refused == 0  # everything lands, later
    assert sim.stats.retries > 0 and sim.stats.outcomes["sdk_retry"] == sim.stats.retries


def test_condition_failures_carry_the_old_item_typed_as_botocore_returns_it() -> None:
    client = SimDynamo(latency=ZERO_LATENCY).client()
    update = Counter("p", "s", Caps(usd=Decimal("0.01"))).reserve("t", usd=Decimal("0.01"), tokens=1)[1]["Update"]
    client.update_item(**update)
    with pytest.raises(client.exceptions.ConditionalCheckFailedException) as caught:
        client.update_item(**update)
    assert caught.value.response["Item"]["held_pusd"] == {"N": "10000000000"}
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(TransactItems=[{"Update": update}])
    (reason,) = cancelled.value.response["CancellationReasons"]
    assert reason["Code"] == "ConditionalCheckFailed" and reason["Item"]["requests"] == {"N": "1"}
    assert ItemKey("p", "s").key() == {"pk": "p", "sk": "s"}
