from __future__ import annotations

import datetime as dt

import pytest

from aigw.budgets import periods
from aigw.budgets.spec import Period


def ts(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(("period", "key", "end"), [
    ("day", "2026-11-25", ts(2026, 11, 26)),
    ("week", "2026-W48", ts(2026, 11, 30)),  # 2026-11-25 is a Wednesday; the ISO week ends Sunday night
    ("month", "2026-11", ts(2026, 12, 1)),
    ("total", "total", None),
])
def test_period_keys_and_ends(period: Period, key: str, end: float | None) -> None:
    now = ts(2026, 11, 25, 16, 5, 30)
    assert periods.period_key(period, now) == key
    assert periods.period_end(period, now) == end


def test_year_boundaries() -> None:
    assert periods.period_end("month", ts(2026, 12, 31, 23, 59)) == ts(2027, 1, 1)
    assert periods.period_key("week", ts(2027, 1, 1)) == "2026-W53"  # ISO year, not calendar year
    assert periods.period_key("day", ts(2026, 11, 25, 23, 59, 59)) == "2026-11-25"
    assert periods.period_key("day", ts(2026, 11, 26)) == "2026-11-26"


def test_minute_windows() -> None:
    now = ts(2026, 11, 25, 16, 5, 30)
    assert periods.window_key(now) == "2026-11-25T16:05"
    assert periods.window_end(now) == ts(2026, 11, 25, 16, 6)
    assert periods.budget_expiry("total", now) is None
    assert periods.budget_expiry("day", now) == int(ts(2026, 11, 26)) + periods.BUDGET_RETENTION_S
