"""Counter updates: one conditional ADD per item (no read-modify-write), and the transaction
runner's handling of refusals (ALL_OLD) versus conflicts (retried)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from aigw.budgets.counters import Caps, Counter, CounterStore, Hold, ItemKey, Snapshot


def test_reserve_is_one_conditional_add() -> None:
    counter = Counter("BUDGET#team#t", "2026-11", Caps(usd=Decimal(10), tokens=1000, requests=5), 123)
    hold, item = counter.reserve("counters", usd=Decimal("0.25"), tokens=100)
    op = item["Update"]
    assert hold == Hold(ItemKey("BUDGET#team#t", "2026-11"), Decimal("0.25"), 100)
    assert op["Key"] == {"pk": "BUDGET#team#t", "sk": "2026-11"}
    assert op["UpdateExpression"].startswith("ADD #hu :u, #ru :u, #ht :t, #rt :t, #rq :one")
    assert "if_not_exists(#ex, :ex)" in op["UpdateExpression"]
    values = op["ExpressionAttributeValues"]
    assert values[":u"] == Decimal(250_000_000_000)  # pico-dollars
    assert values[":cu"] == Decimal(9_750_000_000_000)  # the most held before this request
    assert values[":ct"] == 900 and values[":cr"] == 4
    assert op["ConditionExpression"] == ("(attribute_not_exists(#hu) OR #hu <= :cu) AND "
                                         "(attribute_not_exists(#ht) OR #ht <= :ct) AND "
                                         "(attribute_not_exists(#rq) OR #rq <= :cr) AND "
                                         "attribute_not_exists(#ov) AND "  # an overrun mark refuses
                                         "attribute_not_exists(#ly)")  # ... and so does a sharded layout
    assert op["ExpressionAttributeNames"]["#ov"] == "overrun" and op["ExpressionAttributeNames"]["#ly"] == "lay"
    assert op["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


def test_reserve_without_caps_has_no_condition() -> None:
    op = Counter("p", "s").reserve("t", usd=Decimal(0), tokens=1)[1]["Update"]
    assert "ConditionExpression" not in op and "SET" not in op["UpdateExpression"]


def test_settle_moves_the_reservation_to_spent() -> None:
    counter = Counter("p", "s")
    hold = Hold(ItemKey("p", "s"), Decimal("0.5"), 100)
    op = counter.settle("t", hold, spent_usd=Decimal("0.2"), spent_tokens=40)["Update"]
    v = op["ExpressionAttributeValues"]
    assert v[":du"] == -300_000_000_000 and v[":su"] == 200_000_000_000 and v[":nu"] == -500_000_000_000
    assert v[":dt"] == -60 and v[":st"] == 40 and v[":nt"] == -100
    assert "ConditionExpression" not in op and "SET" not in op["UpdateExpression"]


def test_an_overrun_marks_the_counter_and_only_its_own_mark_is_lifted() -> None:
    counter = Counter("p", "s", Caps(usd=Decimal(1)))
    hold = Hold(ItemKey("p", "s"), Decimal("0.1"), 10)
    op = counter.settle("t", hold, spent_usd=Decimal("0.3"), spent_tokens=40, overrun="sreq_1")["Update"]
    assert op["UpdateExpression"].endswith(" SET #ov = :ov") and op["ExpressionAttributeValues"][":ov"] == "sreq_1"
    (clear,) = counter.clear_overrun("t", "sreq_1")
    assert clear["UpdateExpression"] == "REMOVE #ov" and clear["ConditionExpression"] == "#ov = :ov"
    assert Snapshot.from_item({"overrun": "sreq_1"}).overrun == "sreq_1"


def test_a_counter_sums_its_items_and_finds_its_refusal() -> None:
    counter = Counter("p", "s")
    found = {ItemKey("p", "s"): Snapshot(held_usd=Decimal(2), requests=3), ItemKey("q", "s"): Snapshot(requests=9)}
    assert counter.total(found) == Snapshot(held_usd=Decimal(2), requests=3)
    assert counter.total({}) == Snapshot()
    assert counter.refusal({ItemKey("q", "s"): Snapshot()}) is None
    assert counter.refusal(found) == Snapshot(held_usd=Decimal(2), requests=3)


class Canceled(Exception):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        self.response = {"CancellationReasons": reasons}


class InProgress(Exception):
    pass


class FakeClient:
    class exceptions:
        TransactionCanceledException = Canceled
        TransactionInProgressException = InProgress

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.calls: list[dict[str, Any]] = []

    def transact_write_items(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome


def store(client: FakeClient) -> CounterStore:
    return CounterStore(lambda: client, table_name=lambda: "t", sleep=lambda s: None)


def test_conflicts_are_retried_not_refused() -> None:
    conflict = Canceled([{"Code": "TransactionConflict"}, {"Code": "None"}])
    client = FakeClient([conflict, conflict, None])
    result = store(client).transact([{}, {}], token="areq")
    assert result.ok and result.attempts == 3
    assert [c["ClientRequestToken"] for c in client.calls] == ["areq.1", "areq.2", "areq.3"]


def test_refusal_names_the_item_and_its_old_values() -> None:
    refused = Canceled([{"Code": "None"}, {"Code": "ConditionalCheckFailed", "Item": {
        "held_pusd": Decimal(5 * 10**12), "spent_pusd": Decimal(4 * 10**12), "reserved_pusd": Decimal(10**12),
        "requests": Decimal(7)}}])
    items = [Counter(pk, "s").reserve("t", usd=Decimal(1), tokens=1)[1] for pk in ("a", "b")]
    result = store(FakeClient([refused])).transact(items)
    assert not result.ok and list(result.refused) == [ItemKey("b", "s")]  # by item, not by position
    assert result.refused[ItemKey("b", "s")] == Snapshot(held_usd=Decimal(5), spent_usd=Decimal(4),
                                                         reserved_usd=Decimal(1), requests=7)


def test_other_cancellations_raise() -> None:
    with pytest.raises(Canceled):
        store(FakeClient([Canceled([{"Code": "ValidationError"}])])).transact([{}])
    conflicts = [Canceled([{"Code": "TransactionConflict"}]) for _ in range(20)]
    with pytest.raises(Canceled):
        store(FakeClient(conflicts)).transact([{}])


class Conflict(Exception):
    pass


class Refused(Exception):
    def __init__(self, item: dict[str, Any]) -> None:
        self.response = {"Item": item}


class WriteClient:
    class exceptions:
        TransactionConflictException = Conflict
        ConditionalCheckFailedException = Refused

    def __init__(self, outcomes: list[Any]) -> None:
        self.outcomes = outcomes
        self.calls = 0

    def update_item(self, **kwargs: Any) -> None:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome


def test_a_single_write_retries_conflicts_and_returns_what_refused_it() -> None:
    client = WriteClient([Conflict(), Conflict(), None])
    result = CounterStore(lambda: client, table_name=lambda: "t", sleep=lambda s: None).write({})
    assert result.ok and result.attempts == 3 and client.calls == 3
    typed = {"held_pusd": {"N": "5"}, "lay": {"S": "4/5/-/-"}, "pk": {"S": "p"}}
    refused = CounterStore(lambda: WriteClient([Refused(typed)]), table_name=lambda: "t",
                           sleep=lambda s: None).write({})
    assert not refused.ok and refused.old == {"held_pusd": Decimal(5), "lay": "4/5/-/-", "pk": "p"}
