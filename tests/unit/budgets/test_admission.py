"""Planning a reservation and explaining a refusal (no DynamoDB: a fake store)."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from aigw.budgets.admission import Admission, Refusal, Reservation, plan
from aigw.budgets.counters import Counter, ItemKey, Snapshot, TransactionResult, WriteResult
from aigw.budgets.demand import Demand, Quote
from aigw.budgets.scopes import ScopeRef
from aigw.budgets.spec import Budget, Limits
from aigw.pricing.cost import Price

NOW = dt.datetime(2026, 11, 25, 16, 5, 30, tzinfo=dt.UTC).timestamp()
KEY = ScopeRef("key", "key_1")
TEAM = ScopeRef("team", "research")


class FakeStore:
    def __init__(self, *results: TransactionResult) -> None:
        self.results = list(results)
        self.items: list[Any] = []
        self.writes: list[dict[str, Any]] = []
        self.cleared: list[tuple[Counter, str]] = []

    def table_name(self) -> str:
        return "counters"

    def transact(self, items: list[Any], *, token: str | None = None) -> TransactionResult:
        self.items.append(items)
        return self.results.pop(0) if len(self.results) > 1 else self.results[0]

    def write(self, update: dict[str, Any]) -> WriteResult:
        self.writes.append(update)
        return WriteResult(ok=True)

    def totals(self, counters: list[Counter]) -> list[Snapshot]:
        return [Snapshot() for _ in counters]

    def clear_overrun(self, counter: Counter, marker: str) -> None:
        self.cleared.append((counter, marker))


def admission(*results: TransactionResult) -> tuple[Admission, FakeStore]:
    fake = FakeStore(*results)
    return Admission(fake, clock=lambda: NOW), fake  # type: ignore[arg-type]


PRICE = Price(input_per_mtok=10, output_per_mtok=10)  # $0.01 per 1,000 tokens


def demand(prompt: int = 100, output: int = 400, *, flexible: bool = False, floor: int = 1) -> Demand:
    """100 + 400 tokens = 500 tokens = $0.005."""
    return Demand([Quote(prompt, PRICE)], output=output, flexible=flexible, floor=floor)


TEAM_MONTH = ItemKey("BUDGET#team#research", "2026-11")
KEY_WINDOW = ItemKey("RATE#key#key_1", "m#2026-11-25T16:05")
KEY_DAY = ItemKey("BUDGET#key#key_1", "2026-11-25")


SCOPES = {
    KEY: Limits(budgets=[Budget(period="day", limit_tokens=10_000)], rpm=60),
    TEAM: Limits(budgets=[Budget(period="month", limit_usd=Decimal(50))]),
}


def test_plan_charges_every_budget_and_window() -> None:
    charges = plan(SCOPES, usd=Decimal("0.01"), tokens=500, now=NOW)
    assert [(c.kind, c.counter.pk, c.counter.sk) for c in charges] == [
        ("budget", "BUDGET#key#key_1", "2026-11-25"),
        ("rate", "RATE#key#key_1", "m#2026-11-25T16:05"),
        ("budget", "BUDGET#team#research", "2026-11"),
    ]
    assert charges[1].usd == 0 and charges[1].tokens == 500


def test_one_transaction_for_all_scopes() -> None:
    adm, fake = admission(TransactionResult(ok=True))
    result = asyncio.run(adm.admit(SCOPES, demand()))
    assert isinstance(result, Reservation) and len(result.charges) == 3
    assert len(fake.items) == 1 and len(fake.items[0]) == 3


def test_budget_refusal_names_the_scope_and_period_end() -> None:
    old = Snapshot(held_usd=Decimal("49.995"), spent_usd=Decimal("49.99"), reserved_usd=Decimal("0.005"))
    adm, _ = admission(TransactionResult(ok=False, refused={TEAM_MONTH: old}))
    refusal = asyncio.run(adm.admit(SCOPES, demand(output=900)))  # $0.01
    assert isinstance(refusal, Refusal)
    assert refusal.code == "budget_exceeded" and refusal.scope == TEAM
    assert "team 'research'" in refusal.message and "$49.990000 spent" in refusal.message
    assert "this month (2026-11)" in refusal.message
    end = dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
    assert refusal.retry_after_s == end - NOW
    assert adm.remaining(refusal.charges).usd == Decimal("0.005")
    assert refusal.should_retry is False  # x-should-retry: false, the SDKs must not sleep till December


def test_rate_refusal_waits_for_the_window() -> None:
    adm, _ = admission(TransactionResult(ok=False, refused={KEY_WINDOW: Snapshot(requests=60)}))
    refusal = asyncio.run(adm.admit(SCOPES, demand()))
    assert isinstance(refusal, Refusal) and refusal.code == "rate_limit_exceeded"
    assert "60 of 60 requests per minute" in refusal.message and refusal.retry_after_s == 30
    assert adm.remaining(refusal.charges).requests == 0
    assert refusal.should_retry is None  # a short wait helps: the SDKs may retry after Retry-After
    headers = adm.remaining(refusal.charges).headers()
    assert headers["x-ratelimit-limit-requests"] == "60" and headers["x-ratelimit-reset-requests"] == "30s"


def test_a_request_bigger_than_the_budget_is_refused_without_a_write() -> None:
    adm, fake = admission(TransactionResult(ok=True))
    refusal = asyncio.run(adm.admit(SCOPES, demand(output=19_900)))
    assert isinstance(refusal, Refusal) and "more than the limit" in refusal.message
    assert refusal.should_retry is False and refusal.retry_after_s is None  # it can never fit
    assert fake.items == []


def test_settlement_is_one_transaction_and_the_usage_single_writes_once() -> None:
    adm, fake = admission(TransactionResult(ok=True))
    reservation = asyncio.run(adm.admit(SCOPES, demand()))
    assert isinstance(reservation, Reservation)
    dims = [("key", "key_1"), ("team", "research"), ("model", "gpt-4o")]
    asyncio.run(adm.settle(reservation, cost=Decimal("0.002"), input_tokens=100, output_tokens=50, usage_dims=dims))
    asyncio.run(adm.settle(reservation, cost=Decimal("0.002"), input_tokens=100, output_tokens=50, usage_dims=dims))
    assert len(fake.items) == 2  # admit + one settlement
    assert len(fake.items[1]) == 3  # the three counters, all or nothing
    # usage by key, team and model for the month: UpdateItems of their own (no transaction
    # conflicts on the gateway-wide model aggregate), on one of the aggregates' shards
    assert len(fake.writes) == 3 and {w["Key"]["pk"] for w in fake.writes} == {"USAGE#2026-11"}
    assert {w["Key"]["sk"].rsplit("#", 1)[0] for w in fake.writes} == {"key#key_1", "team#research", "model#gpt-4o"}


def test_no_limits_no_admission_write() -> None:
    adm, fake = admission(TransactionResult(ok=True))
    reservation = asyncio.run(adm.admit({}, demand()))
    assert isinstance(reservation, Reservation) and reservation.charges == [] and fake.items == []


def test_an_unset_output_limit_is_lowered_to_what_the_budget_can_pay() -> None:
    # 2000 tokens a day, a default worst case of 100 + 4096: the request goes with 1900.
    scopes = {KEY: Limits(budgets=[Budget(period="day", limit_tokens=2_000)])}
    adm, fake = admission(TransactionResult(ok=True))
    result = asyncio.run(adm.admit(scopes, demand(output=4_096, flexible=True, floor=256)))
    assert isinstance(result, Reservation) and result.adjusted and result.output == 1_900
    assert result.tokens == 2_000 and len(fake.items) == 1  # straight from the caps: no refused write first
    # ... and a limit the client set is never changed: refused as too big, with no write.
    adm, fake = admission(TransactionResult(ok=True))
    refusal = asyncio.run(adm.admit(scopes, demand(output=4_096, flexible=False)))
    assert isinstance(refusal, Refusal) and fake.items == []


def test_a_refusal_tells_what_is_left_and_the_retry_asks_for_that() -> None:
    old = Snapshot(held_usd=Decimal("49.998"), spent_usd=Decimal("49.998"))  # $0.002 left: 200 tokens
    adm, fake = admission(TransactionResult(ok=False, refused={TEAM_MONTH: old}), TransactionResult(ok=True))
    result = asyncio.run(adm.admit(SCOPES, demand(output=400, flexible=True, floor=50)))
    assert isinstance(result, Reservation) and result.output == 100 and result.adjusted
    assert result.usd == Decimal("0.002") and len(fake.items) == 2
    # below the floor: refused, budget_exceeded, never retried by the SDKs
    adm, fake = admission(TransactionResult(ok=False, refused={TEAM_MONTH: old}))
    refusal = asyncio.run(adm.admit(SCOPES, demand(output=400, flexible=True, floor=256)))
    assert isinstance(refusal, Refusal) and refusal.code == "budget_exceeded" and refusal.should_retry is False
    assert "at least 256 output tokens" in refusal.message and len(fake.items) == 1


def test_an_rpm_refusal_is_not_worked_around_by_lowering_the_output() -> None:
    adm, fake = admission(TransactionResult(ok=False, refused={KEY_WINDOW: Snapshot(requests=60)}))
    refusal = asyncio.run(adm.admit(SCOPES, demand(flexible=True)))
    assert isinstance(refusal, Refusal) and refusal.code == "rate_limit_exceeded" and len(fake.items) == 1


def test_an_overrun_mark_refuses_the_next_request_once() -> None:
    marked = Snapshot(held_usd=Decimal(1), overrun="sreq_9")
    adm, fake = admission(TransactionResult(ok=False, refused={TEAM_MONTH: marked}))
    refusal = asyncio.run(adm.admit(SCOPES, demand()))
    assert isinstance(refusal, Refusal) and refusal.code == "budget_exceeded" and refusal.scope == TEAM
    assert "cost more than its reservation" in refusal.message
    assert [(c.pk, m) for c, m in fake.cleared] == [("BUDGET#team#research", "sreq_9")]


def test_settlement_beyond_the_reservation_is_an_overrun_and_marks_the_capped_counters() -> None:
    adm, fake = admission(TransactionResult(ok=True))
    reservation = asyncio.run(adm.admit(SCOPES, demand()))
    assert isinstance(reservation, Reservation) and reservation.usd == Decimal("0.005")
    dims = [("key", "key_1")]
    overrun = asyncio.run(adm.settle(reservation, cost=Decimal("0.009"), input_tokens=600, output_tokens=300,
                                     usage_dims=dims, token="sreq_2"))
    assert overrun is not None and overrun.usd == Decimal("0.004") and overrun.tokens == 400
    settle = {(i["Update"]["Key"]["pk"], i["Update"]["Key"]["sk"]): i["Update"] for i in fake.items[1]}
    # every capped counter is marked: the key's token budget, the team's USD budget (no TPM cap: the window is not)
    assert settle[(KEY_DAY.pk, KEY_DAY.sk)]["ExpressionAttributeValues"][":ov"] == "sreq_2"
    assert settle[(TEAM_MONTH.pk, TEAM_MONTH.sk)]["ExpressionAttributeValues"][":ov"] == "sreq_2"
    assert ":ov" not in settle[(KEY_WINDOW.pk, KEY_WINDOW.sk)]["ExpressionAttributeValues"]
    cheap = asyncio.run(adm.admit(SCOPES, demand()))
    assert isinstance(cheap, Reservation)
    assert asyncio.run(adm.settle(cheap, cost=Decimal("0.001"), input_tokens=60, output_tokens=40,
                                  usage_dims=dims)) is None


def test_tightest_is_the_largest_share_of_any_cap_among_the_counters_seen() -> None:
    from aigw.budgets.headers import tightest

    limits = Limits(budgets=[Budget(period="month", limit_usd=Decimal(10)),
                             Budget(period="day", limit_tokens=1000)], rpm=5)
    charges = plan({ScopeRef("team", "t"): limits, ScopeRef("key", "k"): Limits(budgets=[
        Budget(period="month", limit_usd=Decimal(100))])}, usd=Decimal(1), tokens=10, now=1.8e9)
    by = {(c.scope.scope, c.period): c for c in charges}
    month, day, rate, key = by["team", "month"], by["team", "day"], by["team", "minute"], by["key", "month"]
    seen = {month.counter.id: Snapshot(held_usd=Decimal(5)), day.counter.id: Snapshot(held_tokens=700),
            rate.counter.id: Snapshot(requests=5), key.counter.id: Snapshot(held_usd=Decimal(90))}
    found = tightest(charges, seen)
    assert found is not None and found[0] is key and found[1] == 0.9  # rate windows never count
    del seen[key.counter.id]  # not seen yet: left out, never guessed
    found = tightest(charges, seen)
    assert found is not None and found[0] is day and found[1] == 0.7
    assert tightest(charges, {}) is None
