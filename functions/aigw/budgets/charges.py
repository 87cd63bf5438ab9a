"""What a request holds on the counters: its charges, its reservation, a refusal, and the
budget alerts its settlement crossed.

These records pass between admission, settlement (holding.py), the alerts (alerts.py,
hot_alerts.py) and the response headers (headers.py); they live here, apart from the code
that makes them, so none of those modules imports another one for its types.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from aigw.budgets.counters import AnyCounter, Caps, Hold
from aigw.budgets.money import ZERO
from aigw.budgets.scopes import ScopeRef

Kind = Literal["budget", "rate"]
Unit = Literal["usd", "tokens"]


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """A threshold crossed: what the `budget_alert` log line and the EventBridge event say."""

    scope: str
    id: str
    period: str  # day | week | month | total
    period_key: str  # the period it was crossed in: 2026-11, 2026-W48, 2026-11-25, total
    threshold: int  # percent
    unit: Unit
    spent: Decimal  # USD or tokens, this settlement included
    limit: Decimal

    def detail(self) -> dict[str, Any]:
        """JSON-ready (numbers stay numbers, so EventBridge patterns can filter on them)."""
        def number(value: Decimal) -> int | float:
            return int(value) if value == value.to_integral_value() else float(value)

        return {"scope": self.scope, "id": self.id, "period": self.period_key, "period_type": self.period,
                "threshold": self.threshold, "unit": self.unit, "spent": number(self.spent),
                "limit": number(self.limit)}



@dataclass(slots=True)
class Charge:
    """One counter one request holds (or asked for) a reservation on."""

    kind: Kind
    scope: ScopeRef
    counter: AnyCounter
    period: str  # "month", "day", ... for budgets; "minute" for rate windows
    period_label: str  # the item's sort key: 2026-11, 2026-W48, 2026-11-25T16:05
    ends_at: float | None  # period or window end (epoch s); None for "total"
    usd: Decimal = ZERO
    tokens: int = 0
    hold: Hold | None = None
    alerts: tuple[int, ...] = ()  # the budget's alert thresholds, percent (budgets/alerts.py)

    @property
    def caps(self) -> Caps:
        return self.counter.caps


@dataclass(slots=True)
class Refusal:
    code: Literal["budget_exceeded", "rate_limit_exceeded"]
    message: str
    scope: ScopeRef
    retry_after_s: float | None
    charges: list[Charge] = field(default_factory=list)
    should_retry: bool | None = None  # False: the SDKs must not retry (x-should-retry: false)


@dataclass(slots=True)
class Reservation:
    charges: list[Charge]
    usd: Decimal
    tokens: int
    output: int = 0  # the output limit per choice reserved for
    adjusted: bool = False  # lowered below the demand's: the upstream must be told
    settled: bool = False
    admitted_at: float = field(default_factory=time.time)
    alerts: list[BudgetAlert] = field(default_factory=list)  # thresholds its settlement crossed


@dataclass(slots=True)
class Settlement:
    transaction: list[dict[str, Any]] = field(default_factory=list)  # ordinary counters: one TransactWriteItems
    writes: list[dict[str, Any]] = field(default_factory=list)  # hot shards: one UpdateItem each
    watched: list[tuple[int, Charge]] = field(default_factory=list)  # writes[i] settles a hot budget with alerts
    usage: list[dict[str, Any]] = field(default_factory=list)  # usage aggregates: one UpdateItem each
    overrun: Overrun | None = None


@dataclass(frozen=True, slots=True)
class Overrun:
    """A settlement that cost more than its reservation (the upstream billed beyond every bound)."""

    usd: Decimal
    tokens: int
    scopes: tuple[str, ...]
