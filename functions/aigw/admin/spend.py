"""Budgets and usage for the admin service: set and show a scope's budgets with what is spent,
reserved and left (and which alert thresholds this period has sent); usage aggregates by team,
key, model or end user per month.

Counters are read through `aigw.budgets.counters` (their items and shards are its business),
all of a scope's in one BatchGetItem; key and team limits through the service's own public
operations; project and global budgets are items of their own in the Entities table.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from aigw.admin.models import BudgetsPut, InvalidRequest, KeyUpdate, NotFound, TeamUpdate, budget_view, money
from aigw.budgets import periods
from aigw.budgets.counters import Caps, CounterStore, Snapshot, budget_counter, rate_counter
from aigw.budgets.end_users import USAGE_DIMENSION, parse_usage_id
from aigw.budgets.scopes import GLOBAL_ID, entity_key
from aigw.budgets.spec import SCOPES, Budget, Limits, budget_to_item, merge_budgets


class KeysAndTeams(Protocol):
    """What budgets need of the admin service: key and team records (aigw.admin.service)."""

    def get_key(self, key_id: str) -> dict[str, Any]: ...
    def get_team(self, team_id: str) -> dict[str, Any]: ...
    def update_key(self, key_id: str, body: KeyUpdate) -> dict[str, Any]: ...
    def update_team(self, team_id: str, body: TeamUpdate) -> dict[str, Any]: ...

ChangeHook = Callable[[str, str], None]


class Spend:
    """The budgets-and-usage half of the admin service."""

    def __init__(self, service: KeysAndTeams, entities: Callable[[], Any], counters: Callable[[], Any], *,
                 clock: Callable[[], float] = time.time, on_change: ChangeHook | None = None) -> None:
        self._service = service
        self._entities = entities  # boto3 Table (resource) for Entities: project and global items
        self._store = CounterStore(lambda: counters().meta.client, table_name=lambda: str(counters().name))
        self._clock = clock
        self._on_change = on_change or (lambda kind, ident: None)

    def put_budgets(self, scope: str, scope_id: str, body: BudgetsPut) -> dict[str, Any]:
        budgets = merge_budgets(body.budgets)
        if scope == "key":
            self._service.update_key(scope_id, KeyUpdate(budgets=budgets))
        elif scope == "team":
            self._service.update_team(scope_id, TeamUpdate(budgets=budgets))
        elif scope in ("project", "global"):
            scope_id = GLOBAL_ID if scope == "global" else scope_id
            self._entities().update_item(Key=entity_key(scope, scope_id),  # type: ignore[arg-type]
                                         UpdateExpression="SET budgets = :b, id = :id, updated_at = :now",
                                         ExpressionAttributeValues={":b": [budget_to_item(b) for b in budgets],
                                                                    ":id": scope_id,
                                                                    ":now": Decimal(str(self._clock()))})
            self._on_change(scope, scope_id)
        else:
            raise NotFound(f"unknown budget scope {scope!r}; use one of {', '.join(SCOPES)}", code="unknown_scope")
        return self.get_budgets(scope, scope_id)

    def get_budgets(self, scope: str, scope_id: str) -> dict[str, Any]:
        limits = self._scope_limits(scope, scope_id)
        scope_id = GLOBAL_ID if scope == "global" else scope_id
        now = self._clock()
        counters = [budget_counter(scope, scope_id, periods.period_key(b.period, now),
                                   Caps(usd=b.limit_usd, tokens=b.limit_tokens)) for b in limits.budgets]
        window_key = periods.window_key(now)
        window = rate_counter(scope, scope_id, window_key, Caps(tokens=limits.tpm, requests=limits.rpm))
        *snapshots, rate = self._store.totals([*counters, window])  # one BatchGetItem
        rows = [_budget_row(b, c.sk, snap, periods.period_end(b.period, now))
                for b, c, snap in zip(limits.budgets, counters, snapshots, strict=True)]
        return {"scope": scope, "id": scope_id, "budgets": rows, "rpm": limits.rpm, "tpm": limits.tpm,
                "rate_window": {"window": window_key, "requests": rate.requests, "tokens": rate.held_tokens,
                                "resets_at": periods.window_end(now)}}

    def _scope_limits(self, scope: str, scope_id: str) -> Limits:
        if scope in ("key", "team"):
            view = self._service.get_key(scope_id) if scope == "key" else self._service.get_team(scope_id)
            return Limits(budgets=[_budget_of(b) for b in view.get("budgets") or []], rpm=view.get("rpm"),
                          tpm=view.get("tpm"))
        if scope in ("project", "global"):
            item = self._entities().get_item(Key=entity_key(scope, scope_id),  # type: ignore[arg-type]
                                             ConsistentRead=True).get("Item")
            return Limits.from_item(item)
        raise NotFound(f"unknown budget scope {scope!r}; use one of {', '.join(SCOPES)}", code="unknown_scope")

    def usage(self, *, by: str = "team", period: str | None = None) -> dict[str, Any]:
        if by not in USAGE_BY:
            raise InvalidRequest(f"by must be team, key, model or user, not {by!r}", code="invalid_usage_dimension")
        period = period or periods.period_key("month", self._clock())
        if not _valid_usage_period(period):
            raise InvalidRequest(f"period must be a month such as 2026-11, not {period!r}",
                                 code="invalid_period")
        sums = self._store.usage(period, by)
        ordered = sorted(sums.items(), key=lambda pair: pair[1].cost_usd, reverse=True)
        rows = [{**_usage_row_id(by, ident), "requests": r.requests, "input_tokens": r.input_tokens,
                 "output_tokens": r.output_tokens, "cost_usd": money(r.cost_usd)} for ident, r in ordered]
        return {"by": by, "period": period, "rows": rows,
                "total": {"requests": sum(r.requests for r in sums.values()),
                          "cost_usd": money(sum((r.cost_usd for r in sums.values()), Decimal(0)))}}


USAGE_BY = ("team", "key", "model", USAGE_DIMENSION)


def _usage_row_id(by: str, ident: str) -> dict[str, str]:
    """An end user's row names its team too: an application's user ids are its own."""
    if by != USAGE_DIMENSION:
        return {by: ident}
    team, user = parse_usage_id(ident)
    return {"user": user, "team": team}


def _budget_of(view: dict[str, Any]) -> Budget:
    return Budget(period=view["period"], limit_tokens=view.get("limit_tokens"),
                  limit_usd=None if view.get("limit_usd") is None else Decimal(str(view["limit_usd"])),
                  alert_at_percent=view.get("alert_at_percent") or [])


def _valid_usage_period(period: str) -> bool:
    return re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period) is not None


def _budget_row(budget: Budget, period_key: str, snap: Snapshot, resets_at: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {**budget_view(budget), "period_key": period_key, "spent_usd": money(snap.spent_usd),
                           "reserved_usd": money(snap.reserved_usd), "spent_tokens": snap.spent_tokens,
                           "reserved_tokens": snap.reserved_tokens, "requests": snap.requests, "resets_at": resets_at,
                           "alerted": sorted(snap.alerted)}
    row["remaining_usd"] = money(max(budget.limit_usd - snap.held_usd, Decimal(0))) \
        if budget.limit_usd is not None else None
    row["remaining_tokens"] = max(budget.limit_tokens - snap.held_tokens, 0) if budget.limit_tokens is not None \
        else None
    return row
