"""Budget alerts: one per threshold per period, decided by the settlement write that crosses it.

A budget may carry thresholds in percent of its limits (`alert_at_percent: [50, 80, 100]`).
Its period item in the Counters table keeps the thresholds already alerted in a string set,
`alerted` ("usd:50", "tokens:80"); a new period is a new item, so alerts re-arm with no job.

No read, and no second write in the common case: the settlement's update of a budget item
with thresholds carries, per threshold T (spend `at` pico-USD or tokens) not yet due, the
clause

    contains(alerted, T)  OR  spent < at - this settlement's amount

("already alerted, or this settlement does not reach it"). While no threshold is being
crossed every clause holds and the settlement is the one TransactWriteItems it always was.
The settlement that would reach T fails that clause instead; the cancelled transaction returns
the item as it was (ALL_OLD), from which the thresholds now due are known exactly, and the
settlement is sent again with, for each due T, `ADD alerted T` under `NOT contains(alerted, T)`
(the other thresholds keep their clause). DynamoDB applies each item write atomically, so of
any number of concurrent settlements exactly one adds T, and only that one reports it; no
write can raise spend past T without either adding T or finding it already there.

The retries are bounded: spend and `alerted` only grow, so each threshold moves from "not
reached" to "due" to "alerted" once, and every failed attempt moves at least one of them.

Sharded counters (shards.py): a clause reads the one item a settlement writes; a counter
spread over several items needs its thresholds checked against its total, which these clauses
cannot see. A guard is made only for a budget item the settlement transaction itself updates;
a hot budget's thresholds are decided by hot_alerts.py (on the total, claimed on shard 0, in
the same `alerted` set).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aigw.budgets.charges import BudgetAlert, Charge, Unit
from aigw.budgets.counters import ALERTED, SPENT_TOKENS, SPENT_USD, Caps, CounterStore, ItemKey, Snapshot
from aigw.budgets.money import from_units, to_units

logger = logging.getLogger("aigw.budgets")


@dataclass(frozen=True, slots=True)
class Threshold:
    """One alert threshold of one budget in one unit."""

    percent: int
    unit: Unit
    at: int  # the spend that reaches it: pico-USD or tokens
    limit: int  # the limit, in the same unit

    @property
    def tag(self) -> str:
        """Its member of the item's `alerted` set."""
        return f"{self.unit}:{self.percent}"


def thresholds(caps: Caps, percents: Sequence[int]) -> tuple[Threshold, ...]:
    """Each percent of each limit (USD, tokens) the budget has; a zero limit has none."""
    out: list[Threshold] = []
    limits: list[tuple[Unit, int]] = []
    if caps.usd is not None:
        limits.append(("usd", to_units(caps.usd)))
    if caps.tokens is not None:
        limits.append(("tokens", caps.tokens))
    for unit, limit in limits:
        if limit <= 0:
            continue
        out.extend(Threshold(p, unit, math.ceil(limit * p / 100), limit) for p in sorted(set(percents)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Guard:
    """The alert clauses of one settlement item (at `index` in the transaction)."""

    index: int
    item: ItemKey
    thresholds: tuple[Threshold, ...]
    add_usd: int  # pico-USD this settlement adds to the item's spend
    add_tokens: int
    scope: str
    scope_id: str
    period: str
    period_key: str

    def adds(self, t: Threshold) -> int:
        return self.add_usd if t.unit == "usd" else self.add_tokens

    def due(self, old: Snapshot) -> tuple[Threshold, ...]:
        """The thresholds this settlement reaches on the item as it was, not yet alerted."""
        spent = {"usd": to_units(old.spent_usd), "tokens": old.spent_tokens}
        return tuple(t for t in self.thresholds if t.tag not in old.alerted and spent[t.unit] + self.adds(t) >= t.at)

    def apply(self, op: dict[str, Any], due: Sequence[Threshold]) -> dict[str, Any]:
        """The settlement item `op` (a TransactWriteItems `Update`), guarded: it adds `due` to the
        item's `alerted` set if none is there yet, and fails if it reaches any other threshold."""
        update = dict(op["Update"])
        names = dict(update.get("ExpressionAttributeNames") or {})
        values = dict(update.get("ExpressionAttributeValues") or {})
        names["#aal"] = ALERTED
        spent_names = {"usd": ("#asu", SPENT_USD), "tokens": ("#ast", SPENT_TOKENS)}
        clauses = []
        for i, t in enumerate(self.thresholds):
            values[f":atag{i}"] = t.tag
            if t in due:
                clauses.append(f"NOT contains(#aal, :atag{i})")
                continue
            below = t.at - self.adds(t)  # the spend this settlement may find and stay under the threshold
            if below <= 0:
                clauses.append(f"contains(#aal, :atag{i})")
                continue
            placeholder, attr = spent_names[t.unit]
            names[placeholder] = attr
            values[f":abelow{i}"] = Decimal(below)
            clauses.append(f"(contains(#aal, :atag{i}) OR attribute_not_exists({placeholder}) OR "
                           f"{placeholder} < :abelow{i})")
        if due:
            expression = str(update["UpdateExpression"])
            if not expression.startswith("ADD "):
                raise ValueError(f"a settlement update without an ADD clause: {expression!r}")
            update["UpdateExpression"] = "ADD #aal :aadd, " + expression[len("ADD "):]
            values[":aadd"] = {t.tag for t in due}
        condition = " AND ".join(clauses)
        if update.get("ConditionExpression"):
            condition = f"({update['ConditionExpression']}) AND {condition}"
        update.update(ConditionExpression=condition, ExpressionAttributeNames=names,
                      ExpressionAttributeValues=values, ReturnValuesOnConditionCheckFailure="ALL_OLD")
        return {"Update": update}

    def alert(self, t: Threshold, old: Snapshot) -> BudgetAlert:
        if t.unit == "usd":
            spent, limit = from_units(to_units(old.spent_usd) + self.add_usd), from_units(t.limit)
        else:
            spent, limit = Decimal(old.spent_tokens + self.add_tokens), Decimal(t.limit)
        return BudgetAlert(self.scope, self.scope_id, self.period, self.period_key, t.percent, t.unit, spent, limit)


def guards(charges: Sequence[Charge], items: Sequence[dict[str, Any]], *, spent_usd: Decimal,
           spent_tokens: int) -> list[Guard]:
    """The guards of the settlement transaction `items`: one per budget charge with thresholds
    whose held item `items` settles (found by its key, wherever it is in the transaction)."""
    at: dict[tuple[str, str], int] = {}
    for position, item in enumerate(items):
        op = item.get("Update")
        if op is not None:
            at.setdefault((str(op["Key"]["pk"]), str(op["Key"]["sk"])), position)
    out = []
    for c in charges:
        if c.kind != "budget" or not c.alerts or c.hold is None:
            continue
        index = at.get((c.hold.item.pk, c.hold.item.sk))
        found = thresholds(c.caps, c.alerts)
        if index is not None and found:
            out.append(Guard(index, c.hold.item, found, to_units(spent_usd), spent_tokens, c.scope.scope,
                             c.scope.id, c.period, c.period_label))
    return out


def settle(store: CounterStore, items: Sequence[dict[str, Any]], found: Sequence[Guard], *,
           token: str | None = None) -> list[BudgetAlert]:
    """Run the settlement transaction `items` with its alert guards (blocking: call through a
    thread). Returns the alerts this settlement won; every one is reported by exactly one."""
    due: dict[int, tuple[Threshold, ...]] = {g.index: () for g in found}
    seen: dict[int, Snapshot] = {}
    attempts = 2 + 2 * sum(len(g.thresholds) for g in found)
    for attempt in range(attempts):
        batch = list(items)
        for g in found:
            batch[g.index] = g.apply(items[g.index], due[g.index])
        result = store.transact(batch, token=token if token is None or attempt == 0 else f"{token}-{attempt}")
        if result.ok:
            return [g.alert(t, seen[g.index]) for g in found for t in due[g.index]]
        refused = False
        for g in found:
            old = result.refused.get(g.item)
            if old is not None:
                refused = True
                seen[g.index] = old
                due[g.index] = g.due(old)
        if not refused:
            raise RuntimeError("a settlement refused by a counter without alert thresholds")
    # Not reachable while spend and `alerted` only grow (see the module doc); the spend is
    # never dropped for an alert: settle without deciding, and say so.
    logger.error("budget_alert_undecided", extra={"counters": [f"{g.item.pk}/{g.item.sk}" for g in found]})
    store.transact(list(items), token=None if token is None else f"{token}-x")
    return []
