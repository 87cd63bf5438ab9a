"""Budget alert thresholds and the settlement clauses that decide them (no DynamoDB: the
clauses' effect on real items is tested against moto in tests/functional/budgets)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from aigw.budgets.alerts import BudgetAlert, Guard, Threshold, guards, settle, thresholds
from aigw.budgets.counters import Caps, Counter, Hold, ItemKey, Snapshot, TransactionResult
from aigw.budgets.money import PICO
from aigw.budgets.spec import Budget, merge_budgets, parse_alerts

ITEM = ItemKey("BUDGET#team#research", "2026-11")


def guard(*percents: int, usd: int = 500, add_usd: Decimal = Decimal(1), tokens: int | None = None,
          add_tokens: int = 0, index: int = 0) -> Guard:
    found = thresholds(Caps(usd=Decimal(usd), tokens=tokens), percents)
    return Guard(index, ITEM, found, int(add_usd * PICO), add_tokens, "team", "research", "month", "2026-11")


def settle_op() -> dict[str, Any]:
    hold = Hold(ITEM, Decimal(2), 100)
    return Counter(ITEM.pk, ITEM.sk).settle("counters", hold, spent_usd=Decimal(1), spent_tokens=40)


def test_thresholds_are_percents_of_each_limit_rounded_up() -> None:
    found = thresholds(Caps(usd=Decimal(500), tokens=999), [80, 50, 80])
    assert found == (Threshold(50, "usd", 250 * 10**12, 500 * 10**12), Threshold(80, "usd", 400 * 10**12, 500 * 10**12),
                     Threshold(50, "tokens", 500, 999), Threshold(80, "tokens", 800, 999))
    assert [t.tag for t in found] == ["usd:50", "usd:80", "tokens:50", "tokens:80"]
    assert thresholds(Caps(usd=Decimal(0)), [50]) == ()  # a zero budget has nothing to warn about


def test_budget_alert_percents_are_validated_sorted_and_merged() -> None:
    assert Budget(limit_usd=Decimal(5), alert_at_percent=[100, 50, 50]).alert_at_percent == [50, 100]
    for bad in ([0], [101], [-5], list(range(1, 13))):
        with pytest.raises(ValidationError):
            Budget(limit_usd=Decimal(5), alert_at_percent=bad)
    merged = merge_budgets([Budget(limit_usd=Decimal(5), alert_at_percent=[80]),
                            Budget(limit_tokens=10, alert_at_percent=[50])])
    assert merged == [Budget(limit_usd=Decimal(5), limit_tokens=10, alert_at_percent=[50, 80])]
    assert parse_alerts("50, 80%,100") == [50, 80, 100]
    for text in ("", "fifty", "50;80"):
        with pytest.raises(ValueError, match="alert threshold"):
            parse_alerts(text)


def test_common_case_clause_passes_unless_this_settlement_reaches_a_threshold() -> None:
    op = guard(50, 80).apply(settle_op(), ())["Update"]
    assert op["UpdateExpression"].startswith("ADD #hu ")  # nothing added to `alerted`
    assert op["ConditionExpression"] == (
        "(contains(#aal, :atag0) OR attribute_not_exists(#asu) OR #asu < :abelow0) AND "
        "(contains(#aal, :atag1) OR attribute_not_exists(#asu) OR #asu < :abelow1)")
    values = op["ExpressionAttributeValues"]
    assert values[":atag0"] == "usd:50" and values[":abelow0"] == Decimal(249 * 10**12)  # 250 - this $1
    names = op["ExpressionAttributeNames"]
    assert names["#aal"] == "alerted" and names["#asu"] == "spent_pusd"
    assert "#ast" not in op["ExpressionAttributeNames"]  # DynamoDB refuses unused names
    assert op["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"


def test_a_due_threshold_is_added_once_and_an_existing_condition_kept() -> None:
    base = settle_op()
    base["Update"]["ConditionExpression"] = "attribute_exists(pk)"
    g = guard(50, 80)
    op = g.apply(base, (g.thresholds[0],))["Update"]
    assert op["UpdateExpression"].startswith("ADD #aal :aadd, #hu ")
    assert op["ExpressionAttributeValues"][":aadd"] == {"usd:50"}
    assert op["ConditionExpression"].startswith("(attribute_exists(pk)) AND NOT contains(#aal, :atag0) AND (")
    assert base["Update"]["UpdateExpression"].startswith("ADD #hu ")  # the original is untouched


def test_a_settlement_larger_than_a_threshold_can_only_pass_if_it_was_sent() -> None:
    op = guard(1, add_usd=Decimal(10)).apply(settle_op(), ())["Update"]  # $10 > 1% of $500
    assert op["ConditionExpression"] == "contains(#aal, :atag0)" and "#asu" not in op["ExpressionAttributeNames"]


@given(spent=st.integers(0, 600), add=st.integers(0, 200), sent=st.sets(st.sampled_from(["usd:50", "usd:80"])))
def test_due_is_what_this_settlement_reaches_and_nobody_sent(spent: int, add: int, sent: set[str]) -> None:
    g = guard(50, 80, add_usd=Decimal(add))
    due = g.due(Snapshot(spent_usd=Decimal(spent), alerted=frozenset(sent)))
    assert {t.percent for t in due} == {p for p in (50, 80) if f"usd:{p}" not in sent and spent + add >= 5 * p}


class ScriptedStore:
    """Answers each transaction from a script: (ok, or the item as it was when it refused)."""

    def __init__(self, *answers: Snapshot | None) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[list[dict[str, Any]], str | None]] = []

    def table_name(self) -> str:
        return "counters"

    def transact(self, items: list[dict[str, Any]], *, token: str | None = None) -> TransactionResult:
        self.calls.append((items, token))
        old = self.answers.pop(0)
        return TransactionResult(ok=True) if old is None else TransactionResult(ok=False, refused={ITEM: old})


def test_no_threshold_crossed_is_one_transaction() -> None:
    store = ScriptedStore(None)
    assert settle(store, [settle_op()], [guard(50)], token="sreq_1") == []  # type: ignore[arg-type]
    assert [token for _, token in store.calls] == ["sreq_1"]


def test_the_crossing_settlement_retries_with_the_threshold_and_reports_it() -> None:
    store = ScriptedStore(Snapshot(spent_usd=Decimal("249.5")), None)
    (alert,) = settle(store, [settle_op()], [guard(50, 80)], token="sreq_1")  # type: ignore[arg-type]
    assert alert == BudgetAlert("team", "research", "month", "2026-11", 50, "usd", Decimal("250.5"), Decimal(500))
    assert alert.detail() == {"scope": "team", "id": "research", "period": "2026-11", "period_type": "month",
                              "threshold": 50, "unit": "usd", "spent": 250.5, "limit": 500}
    assert [token for _, token in store.calls] == ["sreq_1", "sreq_1-1"]  # a new call, a new token
    assert store.calls[1][0][0]["Update"]["ExpressionAttributeValues"][":aadd"] == {"usd:50"}


def test_losing_the_race_for_a_threshold_reports_nothing() -> None:
    store = ScriptedStore(Snapshot(spent_usd=Decimal("249.5")),
                          Snapshot(spent_usd=Decimal("251"), alerted=frozenset({"usd:50"})), None)
    assert settle(store, [settle_op()], [guard(50, 80)], token="sreq_1") == []  # type: ignore[arg-type]
    assert len(store.calls) == 3 and ":aadd" not in store.calls[2][0][0]["Update"]["ExpressionAttributeValues"]


def test_guards_only_for_held_budget_charges_with_thresholds() -> None:
    from aigw.budgets.admission import plan
    from aigw.budgets.scopes import ScopeRef
    from aigw.budgets.spec import Limits

    scopes = {ScopeRef("key", "k"): Limits(budgets=[Budget(period="day", limit_usd=Decimal(1))], rpm=5),
              ScopeRef("team", "t"): Limits(budgets=[Budget(limit_usd=Decimal(9), alert_at_percent=[90])])}
    charges = plan(scopes, usd=Decimal("0.1"), tokens=10, now=1_700_000_000)
    for c in charges:
        c.hold = Hold(c.counter.items()[0], c.usd, c.tokens)
    items = [c.counter.settle("counters", c.hold, spent_usd=Decimal("0.05"), spent_tokens=7)  # type: ignore[arg-type]
             for c in charges]
    (g,) = guards(charges, items, spent_usd=Decimal("0.05"), spent_tokens=7)
    assert (g.index, g.scope, g.scope_id, g.period, g.add_tokens) == (2, "team", "t", "month", 7)
    (g,) = guards(charges, items[::-1], spent_usd=Decimal("0.05"), spent_tokens=7)
    assert g.index == 0  # found by its key, wherever the transaction has it
    assert guards(charges, items[:2], spent_usd=Decimal("0.05"), spent_tokens=7) == []  # not settled here
    charges[2].hold = None
    assert guards(charges, items, spent_usd=Decimal("0.05"), spent_tokens=7) == []
