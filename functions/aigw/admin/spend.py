"""Budgets and usage for the admin service: set and show a scope's budgets with what is spent,
reserved and left; usage aggregates by team, key or model per month."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aigw.admin.models import BudgetsPut, InvalidRequest, KeyUpdate, NotFound, TeamUpdate, budget_view, money
from aigw.budgets import periods
from aigw.budgets.counters import COST_USD, ItemKey, Snapshot, budget_pk, rate_pk, usage_pk
from aigw.budgets.money import from_units
from aigw.budgets.scopes import GLOBAL_ID, entity_key
from aigw.budgets.spec import SCOPES, Budget, Limits, budget_to_item, merge_budgets

if TYPE_CHECKING:
    from aigw.admin.service import AdminService


def put_budgets(svc: AdminService, scope: str, scope_id: str, body: BudgetsPut) -> dict[str, Any]:
    budgets = merge_budgets(body.budgets)
    if scope == "key":
        svc.update_key(scope_id, KeyUpdate(budgets=budgets))
    elif scope == "team":
        svc.update_team(scope_id, TeamUpdate(budgets=budgets))
    elif scope in ("project", "global"):
        scope_id = GLOBAL_ID if scope == "global" else scope_id
        svc._entities().update_item(Key=entity_key(scope, scope_id),  # type: ignore[arg-type]
                                     UpdateExpression="SET budgets = :b, id = :id, updated_at = :now",
                                     ExpressionAttributeValues={":b": [budget_to_item(b) for b in budgets],
                                                                ":id": scope_id, ":now": Decimal(str(svc._clock()))})
        svc._on_change(scope, scope_id)
    else:
        raise NotFound(f"unknown budget scope {scope!r}; use one of {', '.join(SCOPES)}", code="unknown_scope")
    return get_budgets(svc, scope, scope_id)


def get_budgets(svc: AdminService, scope: str, scope_id: str) -> dict[str, Any]:
    limits = _scope_limits(svc, scope, scope_id)
    scope_id = GLOBAL_ID if scope == "global" else scope_id
    now = svc._clock()
    keys = [ItemKey(budget_pk(scope, scope_id), periods.period_key(b.period, now)) for b in limits.budgets]
    window = ItemKey(rate_pk(scope, scope_id), "m#" + periods.window_key(now))
    snapshots = _read_counters(svc, [*keys, window])
    rows = []
    for budget, key in zip(limits.budgets, keys, strict=True):
        rows.append(_budget_row(budget, key.sk, snapshots[key], periods.period_end(budget.period, now)))
    rate = snapshots[window]
    return {"scope": scope, "id": scope_id, "budgets": rows, "rpm": limits.rpm, "tpm": limits.tpm,
            "rate_window": {"window": window.sk[2:], "requests": rate.requests, "tokens": rate.held_tokens,
                            "resets_at": periods.window_end(now)}}


def _scope_limits(svc: AdminService, scope: str, scope_id: str) -> Limits:
    if scope == "key":
        record = svc._current_record(scope_id)
        return Limits(budgets=record.budgets, rpm=record.rpm, tpm=record.tpm)
    if scope == "team":
        return Limits.from_item(svc._team_item(scope_id))
    if scope in ("project", "global"):
        item = svc._entities().get_item(Key=entity_key(scope, scope_id),  # type: ignore[arg-type]
                                         ConsistentRead=True).get("Item")
        return Limits.from_item(item)
    raise NotFound(f"unknown budget scope {scope!r}; use one of {', '.join(SCOPES)}", code="unknown_scope")


def _read_counters(svc: AdminService, keys: list[ItemKey]) -> dict[ItemKey, Snapshot]:
    table = svc._counters()
    out = {}
    for key in keys:
        item = table.get_item(Key=key.key(), ConsistentRead=True).get("Item")
        out[key] = Snapshot.from_item(item)
    return out


def usage(svc: AdminService, *, by: str = "team", period: str | None = None) -> dict[str, Any]:
    if by not in ("team", "key", "model"):
        raise InvalidRequest(f"by must be team, key or model, not {by!r}", code="invalid_usage_dimension")
    period = period or periods.period_key("month", svc._clock())
    if not _valid_usage_period(period):
        raise InvalidRequest(f"period must be a month such as 2026-11, not {period!r}",
                             code="invalid_period")
    table = svc._counters()
    kwargs: dict[str, Any] = {"KeyConditionExpression": "pk = :pk AND begins_with(sk, :dim)",
                              "ExpressionAttributeValues": {":pk": usage_pk(period), ":dim": f"{by}#"}}
    sums: dict[str, list[int]] = {}
    while True:
        page = table.query(**kwargs)
        for item in page.get("Items", []):
            ident = item["sk"].split("#")[1]  # <dim>#<id>#<shard>: ids never contain '#'
            row = sums.setdefault(ident, [0, 0, 0, 0])
            for i, attr in enumerate(("requests", "input_tokens", "output_tokens", COST_USD)):
                row[i] += int(item.get(attr, 0))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    ordered = sorted(sums.items(), key=lambda pair: pair[1][3], reverse=True)
    rows = [{by: ident, "requests": r[0], "input_tokens": r[1], "output_tokens": r[2],
             "cost_usd": money(from_units(r[3]))} for ident, r in ordered]
    return {"by": by, "period": period, "rows": rows,
            "total": {"requests": sum(r[0] for r in sums.values()),
                      "cost_usd": money(from_units(sum(r[3] for r in sums.values())))}}


def _valid_usage_period(period: str) -> bool:
    return re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period) is not None


def _budget_row(budget: Budget, period_key: str, snap: Snapshot, resets_at: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {**budget_view(budget), "period_key": period_key, "spent_usd": money(snap.spent_usd),
                           "reserved_usd": money(snap.reserved_usd), "spent_tokens": snap.spent_tokens,
                           "reserved_tokens": snap.reserved_tokens, "requests": snap.requests, "resets_at": resets_at}
    row["remaining_usd"] = money(max(budget.limit_usd - snap.held_usd, Decimal(0))) \
        if budget.limit_usd is not None else None
    row["remaining_tokens"] = max(budget.limit_tokens - snap.held_tokens, 0) if budget.limit_tokens is not None \
        else None
    return row
