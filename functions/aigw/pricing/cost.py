"""Usage as every provider reports it, normalized once, and its price in USD.

Token categories are disjoint so nothing is counted twice: `input_tokens` is the whole
prompt (OpenAI's `prompt_tokens`), of which `cache_read_tokens` were served from the
provider's prompt cache and `cache_write_tokens` were written to it. Adapters for
providers that report these separately (Anthropic, Bedrock) add them into `input_tokens`.
"""

from __future__ import annotations

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


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0  # part of output_tokens, reported for visibility
    estimated: bool = False  # counted by the gateway (tiktoken), not reported upstream
    # The usage object in OpenAI wire shape as the upstream sent it, handed to clients as is.
    openai: dict[str, Any] | None = field(default=None, repr=False)
    # Uses of provider-run tools billed beyond tokens, by tool: {"web_search": 3} (see below).
    server_tool_uses: dict[str, int] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def from_openai(cls, usage: dict[str, Any]) -> Usage:
        prompt_details = usage.get("prompt_tokens_details") or {}
        completion_details = usage.get("completion_tokens_details") or {}
        return cls(
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            cache_read_tokens=int(prompt_details.get("cached_tokens") or 0),
            reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
            openai=usage,
        )

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
