"""Calendar periods in UTC and the sort keys of their counter items.

    day    2026-11-25        ends at the next midnight UTC
    week   2026-W48          ISO week (Monday to Sunday), ends next Monday 00:00 UTC
    month  2026-11           ends on the 1st of next month
    total  total             never ends
    minute 2026-11-25T16:05  rate windows (fixed, one minute)

A new period is simply a new item (created by the first ADD), so budgets roll over with no
reset job; `expires_at` lets DynamoDB TTL delete old items once their retention has passed.
"""

from __future__ import annotations

import datetime as dt

from aigw.budgets.spec import Period

UTC = dt.UTC
TOTAL = "total"
RATE_WINDOW_S = 60
# How long a finished period's counters stay for reporting before TTL removes them.
BUDGET_RETENTION_S = 400 * 86_400
RATE_RETENTION_S = 3_600


def _at(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, UTC)


def period_key(period: Period, now: float) -> str:
    t = _at(now)
    if period == "day":
        return t.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = t.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return t.strftime("%Y-%m")
    return TOTAL


def period_end(period: Period, now: float) -> float | None:
    """Epoch seconds when the period containing `now` ends; None for `total`."""
    t = _at(now)
    midnight = dt.datetime(t.year, t.month, t.day, tzinfo=UTC)
    if period == "day":
        return (midnight + dt.timedelta(days=1)).timestamp()
    if period == "week":
        return (midnight + dt.timedelta(days=7 - t.weekday())).timestamp()
    if period == "month":
        year, month = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
        return dt.datetime(year, month, 1, tzinfo=UTC).timestamp()
    return None


def window_key(now: float) -> str:
    return _at(now).strftime("%Y-%m-%dT%H:%M")


def window_end(now: float) -> float:
    return (int(now) // RATE_WINDOW_S + 1) * RATE_WINDOW_S


def budget_expiry(period: Period, now: float) -> int | None:
    end = period_end(period, now)
    return None if end is None else int(end) + BUDGET_RETENTION_S

