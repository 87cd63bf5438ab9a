"""What a budget and a rate limit are, as stored on keys and entity items and sent to /admin.

A budget caps spend on one scope (key, project, team, global) per calendar period (UTC),
in USD, in tokens, or both, and may carry alert thresholds in percent of its limits
(`alert_at_percent`, budgets/alerts.py). Rate limits count requests and tokens per minute
(RPM, TPM) on keys and teams. The CLI writes budgets as `50usd/month` or `2000000tokens/day`,
and thresholds as `--alert 50,80,100`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Period = Literal["day", "week", "month", "total"]
Scope = Literal["key", "project", "team", "global"]
SCOPES: tuple[Scope, ...] = ("key", "project", "team", "global")
PERIODS: tuple[Period, ...] = ("day", "week", "month", "total")

MAX_ALERTS = 10  # thresholds per budget: each is one clause of the settlement's condition
_AMOUNT_SUFFIX = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<mult>[km]?)$", re.IGNORECASE)


class Budget(BaseModel):
    """One budget: a limit in USD and/or tokens over one period."""

    model_config = ConfigDict(extra="forbid")

    period: Period = "month"
    limit_usd: Decimal | None = Field(default=None, ge=0, max_digits=20, decimal_places=8)
    limit_tokens: int | None = Field(default=None, ge=0)
    alert_at_percent: list[int] = Field(default_factory=list, max_length=MAX_ALERTS,
                                        description="alert once per period when spend reaches these percents")

    @model_validator(mode="after")
    def _some_limit(self) -> Budget:
        if self.limit_usd is None and self.limit_tokens is None:
            raise ValueError("a budget needs limit_usd, limit_tokens or both")
        return self

    @field_validator("alert_at_percent")
    @classmethod
    def _percents(cls, percents: list[int]) -> list[int]:
        for p in percents:
            if not 1 <= p <= 100:
                raise ValueError(f"an alert threshold is a percent of the budget from 1 to 100, not {p}")
        return sorted(set(percents))

    def describe(self) -> str:
        parts = []
        if self.limit_usd is not None:
            parts.append(f"${self.limit_usd}")
        if self.limit_tokens is not None:
            parts.append(f"{self.limit_tokens} tokens")
        return " + ".join(parts) + (" in total" if self.period == "total" else f" per {self.period}")


class Limits(BaseModel):
    """The limits of one scope: its budgets (at most one per period) and its rate limits."""

    model_config = ConfigDict(extra="forbid")

    budgets: list[Budget] = Field(default_factory=list)
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)

    @field_validator("budgets")
    @classmethod
    def _one_per_period(cls, budgets: list[Budget]) -> list[Budget]:
        return merge_budgets(budgets)

    @property
    def empty(self) -> bool:
        return not self.budgets and self.rpm is None and self.tpm is None

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> Limits:
        if not item:
            return cls()
        return cls.model_validate({
            "budgets": [_budget_from_item(b) for b in item.get("budgets") or []],
            "rpm": _int_or_none(item.get("rpm")),
            "tpm": _int_or_none(item.get("tpm")),
        })


def merge_budgets(budgets: list[Budget]) -> list[Budget]:
    """One budget per period: `50usd/month` and `1000000tokens/month` become one USD+tokens budget.
    Two limits of the same unit and period are an error (which one would be meant?)."""
    by_period: dict[str, Budget] = {}
    for budget in budgets:
        seen = by_period.get(budget.period)
        if seen is None:
            by_period[budget.period] = budget
            continue
        if (seen.limit_usd is not None and budget.limit_usd is not None) or \
                (seen.limit_tokens is not None and budget.limit_tokens is not None):
            raise ValueError(f"two budgets of the same unit for the period {budget.period!r}")
        by_period[budget.period] = Budget(
            period=budget.period,
            limit_usd=seen.limit_usd if seen.limit_usd is not None else budget.limit_usd,
            limit_tokens=seen.limit_tokens if seen.limit_tokens is not None else budget.limit_tokens,
            alert_at_percent=[*seen.alert_at_percent, *budget.alert_at_percent])
    return [by_period[p] for p in PERIODS if p in by_period]


def parse_budget(text: str) -> Budget:
    """`50usd/month`, `$50/month`, `2000000tokens/day`, `2mtokens/day`, `10usd/total` (period
    defaults to month). Raises ValueError with a message a CLI user can act on."""
    match = re.match(r"^\s*\$?(?P<amount>\d+(?:\.\d+)?[km]?)\s*(?P<unit>usd|\$|tokens?|tok)?\s*"
                     r"(?:/\s*(?P<period>day|week|month|total))?\s*$", text, re.IGNORECASE)
    if match is None or (match.group("unit") is None and not text.strip().startswith("$")):
        raise ValueError(f"cannot read the budget {text!r}: write e.g. 50usd/month, 2000000tokens/day "
                         f"(periods: {', '.join(PERIODS)})")
    amount_text = match.group("amount")
    period = (match.group("period") or "month").lower()
    unit = (match.group("unit") or "usd").lower()
    amount = parse_amount(amount_text)
    if unit in ("usd", "$"):
        return Budget(period=period, limit_usd=amount)  # type: ignore[arg-type]
    if amount != amount.to_integral_value():
        raise ValueError(f"a token budget is a whole number of tokens: {text!r}")
    return Budget(period=period, limit_tokens=int(amount))  # type: ignore[arg-type]


def parse_amount(text: str) -> Decimal:
    """`50`, `2.5`, `100k`, `2m` -> Decimal."""
    match = _AMOUNT_SUFFIX.match(text.strip())
    if match is None:
        raise ValueError(f"not a number: {text!r}")
    value = Decimal(match.group("n"))
    mult = match.group("mult").lower()
    return value * (1000 if mult == "k" else 1_000_000 if mult == "m" else 1)


def budget_to_item(budget: Budget) -> dict[str, Any]:
    """DynamoDB attribute value (numbers as Decimal)."""
    item: dict[str, Any] = {"period": budget.period}
    if budget.limit_usd is not None:
        item["limit_usd"] = Decimal(budget.limit_usd)
    if budget.limit_tokens is not None:
        item["limit_tokens"] = Decimal(budget.limit_tokens)
    if budget.alert_at_percent:
        item["alert_at_percent"] = [Decimal(p) for p in budget.alert_at_percent]
    return item


def parse_alerts(text: str) -> list[int]:
    """`50,80,100` -> [50, 80, 100] (percents of the budget). Raises ValueError with a message a
    CLI user can act on."""
    try:
        percents = [int(part.strip().rstrip("%")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"cannot read the alert thresholds {text!r}: write percents, e.g. 50,80,100") from None
    if not percents:
        raise ValueError("give at least one alert threshold, e.g. --alert 50,80,100")
    for p in percents:
        if not 1 <= p <= 100:
            raise ValueError(f"an alert threshold is a percent of the budget from 1 to 100, not {p}")
    if len(set(percents)) > MAX_ALERTS:
        raise ValueError(f"at most {MAX_ALERTS} alert thresholds per budget")
    return percents


def _budget_from_item(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Budget):
        return raw.model_dump()
    out = dict(raw)
    if out.get("limit_tokens") is not None:
        out["limit_tokens"] = int(out["limit_tokens"])
    if out.get("limit_usd") is not None:
        out["limit_usd"] = Decimal(str(out["limit_usd"]))
    out["alert_at_percent"] = [int(p) for p in out.get("alert_at_percent") or []]
    return out


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
