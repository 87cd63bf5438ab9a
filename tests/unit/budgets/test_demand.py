"""The largest output limit a remaining budget can pay for: it fits, one more token does not."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.budgets.demand import Demand, Quote
from aigw.pricing.cost import Price

prices = st.builds(Price, input_per_mtok=st.sampled_from([0, 0.035, 0.15, 1.25, 3, 15]),
                   output_per_mtok=st.sampled_from([0, 0.14, 0.6, 10, 15, 75]))
quotes = st.lists(st.builds(Quote, prompt_tokens=st.integers(0, 50_000), price=prices), min_size=1, max_size=3)


@settings(max_examples=400, deadline=None)
@given(quotes=quotes, choices=st.integers(1, 4), output=st.integers(1, 16_384),
       room_usd=st.one_of(st.none(), st.decimals(min_value=0, max_value=5, places=9)),
       room_tokens=st.one_of(st.none(), st.integers(0, 200_000)))
def test_affordable_is_the_largest_output_that_fits(quotes: list[Quote], choices: int, output: int,
                                                    room_usd: Decimal | None, room_tokens: int | None) -> None:
    demand = Demand(quotes, choices=choices, output=output, flexible=True)
    best = demand.affordable(room_usd, room_tokens)
    assert best <= output

    def fits(n: int) -> bool:
        usd_ok = room_usd is None or demand.usd(n) <= room_usd
        return usd_ok and (room_tokens is None or demand.tokens(n) <= room_tokens)

    if best >= 0:
        assert fits(best)
    if best < output:
        assert not fits(best + 1)


def test_worst_case_is_the_dearest_deployment() -> None:
    cheap = Quote(1_000, Price(input_per_mtok=1, output_per_mtok=2))
    dear = Quote(1_300, Price(input_per_mtok=3, output_per_mtok=15))  # more tokens (another tokenizer), dearer
    demand = Demand([cheap, dear], output=100)
    assert demand.usd() == Decimal("0.0054") and demand.tokens() == 1_400
    assert Demand([cheap, dear], output=100, choices=2).tokens() == 1_500
