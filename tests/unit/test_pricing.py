from __future__ import annotations

import pytest

from aigw.pricing import Price, Usage, builtin_price, cost_usd
from aigw.pricing.cost import worst_case_cost_usd
from aigw.pricing.table import known_models


@pytest.mark.parametrize(("model", "expected"), [
    ("gpt-4o-mini", (0.15, 0.60)),
    ("gpt-4o-mini-2024-07-18", (0.15, 0.60)),  # dated snapshot -> its family, not gpt-4o
    ("gpt-4o-2024-08-06", (2.50, 10.0)),
    ("gpt-4o-2024-05-13", (5.0, 15.0)),  # an explicit exception wins over the family
    ("claude-3-5-haiku-20241022", (0.80, 4.0)),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", (0.80, 4.0)),  # Bedrock cross-region profile
    ("anthropic.claude-sonnet-4-20250514-v1:0", (3.0, 15.0)),
    ("models/gemini-2.5-flash", (0.30, 2.50)),
    ("amazon.nova-micro-v1:0", (0.035, 0.14)),
])
def test_builtin_prices(model: str, expected: tuple[float, float]) -> None:
    price = builtin_price(model)
    assert price is not None
    assert (price.input_per_mtok, price.output_per_mtok) == expected


def test_unknown_models_have_no_price_rather_than_zero() -> None:
    assert builtin_price("my-private-llama") is None
    assert builtin_price("gpt-4oz") is None  # a prefix match needs a separator


def test_every_table_entry_prices_itself() -> None:
    for model in known_models():
        assert builtin_price(model) is not None


def test_cost_counts_each_token_category_once() -> None:
    price = Price(input_per_mtok=3.0, output_per_mtok=15.0, cached_input_per_mtok=0.3, cache_write_per_mtok=3.75)
    usage = Usage(input_tokens=10_000, output_tokens=2_000, cache_read_tokens=6_000, cache_write_tokens=1_000)
    expected = (3_000 * 3.0 + 6_000 * 0.3 + 1_000 * 3.75 + 2_000 * 15.0) / 1e6
    assert cost_usd(usage, price) == pytest.approx(expected)


def test_cached_rate_defaults_to_input_rate() -> None:
    price = Price(input_per_mtok=1.0, output_per_mtok=2.0)
    assert cost_usd(Usage(input_tokens=100, cache_read_tokens=100), price) == pytest.approx(100 / 1e6)


def test_worst_case_reservation() -> None:
    price = Price(input_per_mtok=0.15, output_per_mtok=0.60)
    assert worst_case_cost_usd(1000, 500, price) == pytest.approx((150 + 300) / 1e6)


def test_usage_from_openai_keeps_the_wire_object() -> None:
    wire = {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25,
            "prompt_tokens_details": {"cached_tokens": 8}, "completion_tokens_details": {"reasoning_tokens": 3}}
    usage = Usage.from_openai(wire)
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.reasoning_tokens) == (20, 5, 8, 3)
    assert usage.to_openai() is wire
    assert Usage(input_tokens=2, output_tokens=3).to_openai() == {"prompt_tokens": 2, "completion_tokens": 3,
                                                                  "total_tokens": 5}
