"""Planning a reservation and explaining a refusal (no DynamoDB: a fake store)."""

from __future__ import annotations

import asyncio
import datetime as dt
from decimal import Decimal
from typing import Any

from aigw.budgets.admission import Admission, Refusal, Reservation, plan
from aigw.budgets.counters import Snapshot, TransactionResult
from aigw.budgets.scopes import ScopeRef
from aigw.budgets.spec import Budget, Limits

NOW = dt.datetime(2026, 11, 25, 16, 5, 30, tzinfo=dt.UTC).timestamp()
KEY = ScopeRef("key", "key_1")
TEAM = ScopeRef("team", "research")


class FakeStore:
    def __init__(self, result: TransactionResult) -> None:
        self.result = result
        self.items: list[Any] = []

    def table_name(self) -> str:
        return "counters"

    def transact(self, items: list[Any], *, token: str | None = None) -> TransactionResult:
        self.items.append(items)
        return self.result

    def read(self, keys: list[Any]) -> dict[Any, Snapshot]:
        return {k: Snapshot() for k in keys}


def admission(result: TransactionResult) -> tuple[Admission, FakeStore]:
    fake = FakeStore(result)
    return Admission(fake, clock=lambda: NOW), fake  # type: ignore[arg-type]


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
    result = asyncio.run(adm.admit(SCOPES, usd=Decimal("0.01"), tokens=500))
    assert isinstance(result, Reservation) and len(result.charges) == 3
    assert len(fake.items) == 1 and len(fake.items[0]) == 3


def test_budget_refusal_names_the_scope_and_period_end() -> None:
    old = Snapshot(held_usd=Decimal("49.995"), spent_usd=Decimal("49.99"), reserved_usd=Decimal("0.005"))
    adm, _ = admission(TransactionResult(ok=False, refused={2: old}))
    refusal = asyncio.run(adm.admit(SCOPES, usd=Decimal("0.01"), tokens=500))
    assert isinstance(refusal, Refusal)
    assert refusal.code == "budget_exceeded" and refusal.scope == TEAM
    assert "team 'research'" in refusal.message and "$49.990000 spent" in refusal.message
    assert "this month (2026-11)" in refusal.message
    end = dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
    assert refusal.retry_after_s == end - NOW
    assert adm.remaining(refusal.charges).usd == Decimal("0.005")


def test_rate_refusal_waits_for_the_window() -> None:
    adm, _ = admission(TransactionResult(ok=False, refused={1: Snapshot(requests=60)}))
    refusal = asyncio.run(adm.admit(SCOPES, usd=Decimal("0.01"), tokens=500))
    assert isinstance(refusal, Refusal) and refusal.code == "rate_limit_exceeded"
    assert "60 of 60 requests per minute" in refusal.message and refusal.retry_after_s == 30
    assert adm.remaining(refusal.charges).requests == 0


def test_a_request_bigger_than_the_budget_is_refused_without_a_write() -> None:
    adm, fake = admission(TransactionResult(ok=True))
    refusal = asyncio.run(adm.admit(SCOPES, usd=Decimal("0.01"), tokens=20_000))
    assert isinstance(refusal, Refusal) and "more than the limit" in refusal.message
    assert fake.items == []


def test_settlement_is_one_transaction_with_usage_and_idempotent() -> None:
    adm, fake = admission(TransactionResult(ok=True))
    reservation = asyncio.run(adm.admit(SCOPES, usd=Decimal("0.01"), tokens=500))
    assert isinstance(reservation, Reservation)
    dims = [("key", "key_1"), ("team", "research"), ("model", "gpt-4o")]
    asyncio.run(adm.settle(reservation, cost=Decimal("0.002"), input_tokens=100, output_tokens=50, usage_dims=dims))
    asyncio.run(adm.settle(reservation, cost=Decimal("0.002"), input_tokens=100, output_tokens=50, usage_dims=dims))
    assert len(fake.items) == 2  # admit + one settlement
    settle = fake.items[1]
    assert len(settle) == 3 + 3  # three counters, usage by key, team and model for the month
    assert {i["Update"]["Key"]["pk"] for i in settle[3:]} == {"USAGE#2026-11"}


def test_no_limits_no_admission_write() -> None:
    adm, fake = admission(TransactionResult(ok=True))
    reservation = asyncio.run(adm.admit({}, usd=Decimal("0.01"), tokens=500))
    assert isinstance(reservation, Reservation) and reservation.charges == [] and fake.items == []
