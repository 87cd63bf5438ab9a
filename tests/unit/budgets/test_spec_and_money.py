from __future__ import annotations

from decimal import Decimal

import pytest

from aigw.budgets.money import ceil_pico, exact_cost, from_units, to_units, worst_case
from aigw.budgets.spec import Budget, Limits, merge_budgets, parse_budget
from aigw.pricing.cost import Price, Usage, cost_usd


@pytest.mark.parametrize(("text", "expected"), [
    ("50usd/month", Budget(period="month", limit_usd=Decimal(50))),
    ("$12.5/week", Budget(period="week", limit_usd=Decimal("12.5"))),
    ("2000000tokens/day", Budget(period="day", limit_tokens=2_000_000)),
    ("2mtokens/day", Budget(period="day", limit_tokens=2_000_000)),
    ("100ktokens/total", Budget(period="total", limit_tokens=100_000)),
    ("10usd", Budget(period="month", limit_usd=Decimal(10))),
])
def test_parse_budget(text: str, expected: Budget) -> None:
    assert parse_budget(text) == expected


@pytest.mark.parametrize("text", ["lots", "50/month", "50usd/year", "1.5tokens/day", "-3usd/day"])
def test_parse_budget_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_budget(text)


def test_budgets_merge_per_period() -> None:
    merged = merge_budgets([parse_budget("5usd/month"), parse_budget("100tokens/day"), parse_budget("1mtokens/month")])
    assert merged == [Budget(period="day", limit_tokens=100),
                      Budget(period="month", limit_usd=Decimal(5), limit_tokens=1_000_000)]
    with pytest.raises(ValueError, match="same unit"):
        merge_budgets([parse_budget("5usd/month"), parse_budget("6usd/month")])
    with pytest.raises(ValueError):
        Budget(period="day")
    assert Limits().empty and not Limits(rpm=1).empty


def test_exact_cost_matches_float_cost() -> None:
    price = Price(input_per_mtok=0.15, output_per_mtok=0.6, cached_input_per_mtok=0.075)
    usage = Usage(input_tokens=1234, output_tokens=567, cache_read_tokens=200)
    exact = exact_cost(usage, price)
    assert exact == Decimal("0.0005103")  # (1034 * 0.15 + 200 * 0.075 + 567 * 0.6) / 1e6
    assert abs(float(exact) - cost_usd(usage, price)) < 1e-15


def test_worst_case_takes_the_dearest_price() -> None:
    cheap = Price(input_per_mtok=0.15, output_per_mtok=0.6)
    dear = Price(input_per_mtok=2.5, output_per_mtok=10)
    assert worst_case(100, 50, [cheap, dear]) == Decimal("0.00075")
    assert worst_case(100, 50, []) == 0


def test_pico_units_round_up_and_back() -> None:
    assert to_units(Decimal("0.000001")) == 1_000_000
    assert to_units(Decimal("1E-13")) == 1  # finer than a pico-dollar rounds up
    assert from_units(to_units(Decimal("12.345"))) == Decimal("12.345")
    assert ceil_pico(Decimal("0.00000000000012")) == Decimal("1E-12") * 1
    assert from_units(0) == 0
