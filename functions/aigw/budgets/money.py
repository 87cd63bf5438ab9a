"""Prices in exact Decimal USD, and the integer unit the counters store them in.

Counters hold integer pico-dollars (1e-12 USD, attributes `*_pusd`): DynamoDB adds integers
exactly, so the sum of settled costs equals the counter to the last unit, and no float ever
accumulates. A price with up to 6 decimals per million tokens costs a whole number of
pico-dollars per token; a finer price is rounded up (a budget errs on the safe side).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_CEILING, Decimal

from aigw.pricing.cost import Price, Usage

_MTOK = Decimal(1_000_000)
ZERO = Decimal(0)
PICO = Decimal(10) ** 12
_PICO_QUANTUM = Decimal(1) / PICO


def to_units(usd: Decimal) -> int:
    """USD -> integer pico-dollars, rounded up."""
    return int((usd * PICO).to_integral_value(rounding=ROUND_CEILING))


def from_units(units: int | Decimal) -> Decimal:
    return (Decimal(units) / PICO).normalize() if units else ZERO


def ceil_pico(usd: Decimal) -> Decimal:
    """A cost as the counters will hold it (rounded up to a pico-dollar)."""
    return from_units(to_units(usd))


def d(value: float | int | str | Decimal) -> Decimal:
    """A price as written (0.15 -> Decimal('0.15'), not its binary approximation)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def exact_cost(usage: Usage, price: Price) -> Decimal:
    """`aigw.pricing.cost.cost_usd` in exact arithmetic (same categories, same rates)."""
    uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
    micro = (uncached * d(price.input_per_mtok) + usage.cache_read_tokens * d(price.cached_input)
             + usage.cache_write_tokens * d(price.cache_write) + usage.output_tokens * d(price.output_per_mtok))
    return (micro / _MTOK).normalize() if micro else ZERO


def worst_case(prompt_tokens: int, max_output_tokens: int, prices: Iterable[Price]) -> Decimal:
    """The most a request can cost on any deployment it may reach (fallbacks may cost more)."""
    worst = ZERO
    for price in prices:
        micro = prompt_tokens * d(price.input_per_mtok) + max_output_tokens * d(price.output_per_mtok)
        worst = max(worst, micro / _MTOK)
    return worst.normalize() if worst else ZERO


def usd_text(value: Decimal) -> str:
    """For messages and headers: dollars to 6 places (never exponent notation)."""
    return f"{value.quantize(Decimal('0.000001')):f}"
