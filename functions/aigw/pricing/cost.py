"""Usage as every provider reports it, normalized once, and its price in USD.

Token categories are disjoint so nothing is counted twice: `input_tokens` is the whole
prompt (OpenAI's `prompt_tokens`), of which `cache_read_tokens` were served from the
provider's prompt cache and `cache_write_tokens` were written to it. Adapters for
providers that report these separately (Anthropic, Bedrock) add them into `input_tokens`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_PER = 1_000_000


class Price(BaseModel):
    """USD per one million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)
    cache_write_per_mtok: float | None = Field(default=None, ge=0)
    # USD per use of a provider-run tool, by tool (overrides SERVER_TOOL_PRICES); see below.
    server_tool_per_use: dict[str, float] = Field(default_factory=dict)

    @property
    def cached_input(self) -> float:
        return self.input_per_mtok if self.cached_input_per_mtok is None else self.cached_input_per_mtok

    @property
    def cache_write(self) -> float:
        return self.input_per_mtok if self.cache_write_per_mtok is None else self.cache_write_per_mtok


# More tokens than any request can use: the largest context windows hold about 2M tokens, so a
# count above this is a broken upstream, never a bill (validated in Usage, settled by the
# gateway's own estimate in pipeline/accounting.py).
MAX_PLAUSIBLE_TOKENS = 10_000_000
_TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")


def token_count(value: Any) -> int | float:
    """An upstream's token number as is, for `Usage(...)`: an int when it is a whole number,
    else NaN (a string, a list, a fraction). Never raises, so adapters can add counts up and let
    Usage judge the sum: NaN, infinities and negatives all survive addition."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value == int(value) else value if math.isinf(value) else math.nan
    return math.nan


@dataclass(slots=True)
class Usage:
    """Token counts of one call. Counts are validated on construction: a negative, non-finite,
    non-integral or absurd (> MAX_PLAUSIBLE_TOKENS) count is replaced by 0 and named in
    `invalid`, so nothing but a plain int ever reaches a price, a Decimal or a DynamoDB write;
    settlement then bills the gateway's own estimate instead (never a refund)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0  # part of output_tokens, reported for visibility
    estimated: bool = False  # counted by the gateway (tiktoken), not reported upstream
    # The usage object in OpenAI wire shape as the upstream sent it, handed to clients as is.
    openai: dict[str, Any] | None = field(default=None, repr=False)
    # "field=value" of every count that was not a plausible token number (None: all valid).
    invalid: str | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in _TOKEN_FIELDS:
            value = getattr(self, name)
            if type(value) is int and 0 <= value <= MAX_PLAUSIBLE_TOKENS:
                continue
            number = token_count(value)
            if isinstance(number, int) and 0 <= number <= MAX_PLAUSIBLE_TOKENS:
                setattr(self, name, number)
                continue
            problems.append(f"{name}={value!r}"[:80])
            setattr(self, name, 0)
        if self.cache_read_tokens + self.cache_write_tokens > self.input_tokens:
            problems.append(f"cache_read_tokens+cache_write_tokens={self.cache_read_tokens + self.cache_write_tokens}"
                            f" > input_tokens={self.input_tokens}")
            self.cache_read_tokens = self.cache_write_tokens = 0
        if self.reasoning_tokens > self.output_tokens:
            problems.append(f"reasoning_tokens={self.reasoning_tokens} > output_tokens={self.output_tokens}")
            self.reasoning_tokens = 0
        if problems:
            self.invalid = ", ".join(([self.invalid] if self.invalid else []) + problems)
            self.openai = None  # never hand an invalid usage object to a client as is
    # Uses of provider-run tools billed beyond tokens, by tool: {"web_search": 3} (see below).
    server_tool_uses: dict[str, int] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def from_openai(cls, usage: dict[str, Any]) -> Usage:
        prompt_details = usage.get("prompt_tokens_details") or {}
        completion_details = usage.get("completion_tokens_details") or {}
        if not isinstance(prompt_details, dict):
            prompt_details = {"cached_tokens": math.nan}
        if not isinstance(completion_details, dict):
            completion_details = {"reasoning_tokens": math.nan}
        return cls.parse(input_tokens=usage.get("prompt_tokens"), output_tokens=usage.get("completion_tokens"),
                         cache_read_tokens=prompt_details.get("cached_tokens"),
                         reasoning_tokens=completion_details.get("reasoning_tokens"), openai=usage)

    @classmethod
    def parse(cls, *, input_tokens: Any = 0, output_tokens: Any = 0, cache_read_tokens: Any = 0,
              cache_write_tokens: Any = 0, reasoning_tokens: Any = 0, openai: dict[str, Any] | None = None) -> Usage:
        """From an upstream's raw JSON numbers, which may be anything (a tuple is summed: Anthropic's
        input is its three input counts). Never raises; what is not a token count is `invalid`."""
        def total(raw: Any) -> Any:
            return sum((token_count(r) for r in raw), 0) if isinstance(raw, tuple) else token_count(raw)

        return cls(input_tokens=total(input_tokens), output_tokens=total(output_tokens),
                   cache_read_tokens=total(cache_read_tokens), cache_write_tokens=total(cache_write_tokens),
                   reasoning_tokens=total(reasoning_tokens), openai=openai)

    def to_openai(self) -> dict[str, Any]:
        if self.openai is not None:
            return self.openai
        body: dict[str, Any] = {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cache_read_tokens:
            body["prompt_tokens_details"] = {"cached_tokens": self.cache_read_tokens}
        if self.reasoning_tokens:
            body["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return body


def cost_usd(usage: Usage, price: Price) -> float:
    """Price one call. Cached and cache-write tokens are billed at their own rates."""
    uncached = max(usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens, 0)
    micro = (
        uncached * price.input_per_mtok
        + usage.cache_read_tokens * price.cached_input
        + usage.cache_write_tokens * price.cache_write
        + usage.output_tokens * price.output_per_mtok
    )
    return micro / _PER + server_tools_usd(usage, price)


# ---- server tools (added by the providers work) -------------------------------------------------
# Fees per use beyond tokens for tools the provider runs, from Anthropic's public price list:
# web search $10 per 1,000 searches; web fetch costs only the tokens it adds; code execution is
# billed by container time, which no response reports, so each response that used a container
# is charged Anthropic's minimum of 5 minutes at $0.05 per container-hour. A deployment's
# `price.server_tool_per_use` overrides any of them; an unknown tool costs its tokens only.
SERVER_TOOL_PRICES: dict[str, float] = {"web_search": 10.0 / 1000, "web_fetch": 0.0, "code_execution": 0.05 / 12}


def server_tools_usd(usage: Usage, price: Price) -> float:
    return sum(max(uses, 0) * price.server_tool_per_use.get(tool, SERVER_TOOL_PRICES.get(tool, 0.0))
               for tool, uses in usage.server_tool_uses.items())


def worst_case_cost_usd(prompt_tokens: int, max_output_tokens: int, price: Price) -> float:
    """The most a call can cost: the reservation the budgets take before the upstream call."""
    return (prompt_tokens * price.input_per_mtok + max_output_tokens * price.output_per_mtok) / _PER
