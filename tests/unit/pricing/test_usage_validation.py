"""Usage from an upstream is validated on construction: whatever JSON an upstream sends, a
Usage holds plain, plausible ints (nothing non-finite ever reaches a price, a Decimal or a
DynamoDB write) and names what was wrong."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.budgets.money import exact_cost, to_units
from aigw.pricing import Price, Usage, cost_usd
from aigw.pricing.cost import MAX_PLAUSIBLE_TOKENS

PRICE = Price(input_per_mtok=3, output_per_mtok=15, cached_input_per_mtok=0.3)
hostile = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def valid(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value) and value == int(value) and 0 <= value <= MAX_PLAUSIBLE_TOKENS
    return isinstance(value, int) and 0 <= value <= MAX_PLAUSIBLE_TOKENS


@settings(max_examples=500, deadline=None)
@given(prompt=hostile, completion=hostile, cached=hostile)
def test_any_openai_usage_object_gives_sane_counts(prompt: Any, completion: Any, cached: Any) -> None:
    usage = Usage.from_openai({"prompt_tokens": prompt, "completion_tokens": completion,
                               "prompt_tokens_details": {"cached_tokens": cached}})
    for count in (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.reasoning_tokens):
        assert type(count) is int and 0 <= count <= MAX_PLAUSIBLE_TOKENS
    assert math.isfinite(cost_usd(usage, PRICE)) and to_units(exact_cost(usage, PRICE)) >= 0
    consistent = valid(cached) and valid(prompt) and (int(cached or 0) <= int(prompt or 0))
    assert (usage.invalid is None) == (valid(prompt) and valid(completion) and consistent)
    if usage.invalid is not None:
        assert usage.openai is None  # an invalid usage object is never handed to a client as is


def test_the_reported_cases() -> None:
    refund = Usage.from_openai({"prompt_tokens": -1_000_000, "completion_tokens": 10})
    assert refund.input_tokens == 0 and refund.output_tokens == 10 and "input_tokens=-1000000" in (refund.invalid or "")
    infinite = Usage.from_openai({"prompt_tokens": math.inf, "completion_tokens": 10})
    assert infinite.invalid == "input_tokens=inf" and Decimal(infinite.input_tokens) == 0
    assert Usage.from_openai({"prompt_tokens": 12.0, "completion_tokens": 3}).invalid is None  # 12.0 is a count
    assert Usage.parse(input_tokens=(5, None, 2), output_tokens=4) == Usage(input_tokens=7, output_tokens=4)
    assert Usage.parse(input_tokens=(5, math.inf)).invalid is not None
    assert Usage(input_tokens=-3).invalid == "input_tokens=-3"  # adapters building Usage directly are judged too
