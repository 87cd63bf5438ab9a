"""What a request may cost at most, and the largest output limit a remaining budget can pay for.

A request's worst case is priced at every deployment it may reach (its own, then its
fallbacks'): the prompt tokens reserved for that deployment (budgets/bounds.py) at its input
price, plus the output limit at its output price; the dearest one is reserved. When the
client set no output limit, the gateway may send a lower one than the default worst case,
the largest the remaining budget or TPM window can pay for, but never below a floor
(`settings.min_output_tokens`): a request that could only answer a few words is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from aigw.budgets.money import ZERO, ceil_pico, d
from aigw.pricing.cost import Price

_MTOK = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Quote:
    """One deployment the request may reach: the prompt tokens reserved there, and its price."""

    prompt_tokens: int
    price: Price


@dataclass(frozen=True, slots=True)
class Demand:
    quotes: Sequence[Quote]
    choices: int = 1  # `n`: every choice may use the whole output limit
    output: int = 0  # output tokens per choice reserved (and sent, when the gateway set it)
    flexible: bool = False  # the client set no output limit: the gateway may lower `output`
    floor: int = 1  # the least output per choice worth sending when lowering it

    @property
    def prompt_tokens(self) -> int:
        return max((q.prompt_tokens for q in self.quotes), default=0)

    def usd(self, output: int | None = None) -> Decimal:
        """The worst case in USD, as the counters will hold it (rounded up to a pico-dollar)."""
        out = self.output if output is None else output
        worst = ZERO
        for q in self.quotes:
            micro = q.prompt_tokens * d(q.price.input_per_mtok) + out * self.choices * d(q.price.output_per_mtok)
            worst = max(worst, micro / _MTOK)
        return ceil_pico(worst) if worst else ZERO

    def tokens(self, output: int | None = None) -> int:
        out = self.output if output is None else output
        return self.prompt_tokens + out * self.choices

    def with_output(self, output: int) -> Demand:
        return replace(self, output=output)

    def affordable(self, room_usd: Decimal | None, room_tokens: int | None) -> int:
        """The largest output per choice, at most `output`, whose worst case fits in the room
        (None = not limited); negative when not even the prompt fits."""
        best = self.output
        if room_tokens is not None:
            best = min(best, (room_tokens - self.prompt_tokens) // self.choices)
        if room_usd is not None:
            for q in self.quotes:
                per_token = d(q.price.output_per_mtok) * self.choices
                if per_token > 0:
                    left = room_usd * _MTOK - q.prompt_tokens * d(q.price.input_per_mtok)
                    best = min(best, int(left / per_token) if left >= 0 else -1)
                elif q.prompt_tokens * d(q.price.input_per_mtok) > room_usd * _MTOK:
                    best = -1
            while best >= 0 and self.usd(best) > room_usd:  # rounding up to pico-dollars
                best -= 1
        return best
