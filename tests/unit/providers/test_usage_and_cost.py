"""Usage normalization per provider, and its price: every token category counted once."""

from __future__ import annotations

import pytest

from aigw.pricing import Usage, builtin_price, cost_usd
from aigw.providers.anthropic import usage_from_anthropic
from aigw.providers.bedrock_converse import usage_from_converse
from aigw.providers.gemini import usage_from_gemini


def test_anthropic_adds_cache_reads_and_writes_into_input() -> None:
    usage = usage_from_anthropic({"input_tokens": 1000, "output_tokens": 300, "cache_read_input_tokens": 2000,
                                  "cache_creation_input_tokens": 500})
    assert usage == Usage(input_tokens=3500, output_tokens=300, cache_read_tokens=2000, cache_write_tokens=500)
    p = builtin_price("claude-sonnet-4-5-20250929")
    assert p is not None
    assert cost_usd(usage, p) == pytest.approx((1000 * 3.0 + 2000 * 0.30 + 500 * 3.75 + 300 * 15.0) / 1e6)


def test_bedrock_adds_cache_reads_and_writes_into_input() -> None:
    usage = usage_from_converse({"inputTokens": 1000, "outputTokens": 300, "totalTokens": 3800,
                                 "cacheReadInputTokens": 2000, "cacheWriteInputTokens": 500})
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (3500, 2000, 500)
    p = builtin_price("us.anthropic.claude-haiku-4-5-20251001-v1:0")
    assert p is not None
    assert cost_usd(usage, p) == pytest.approx((1000 * 1.0 + 2000 * 0.10 + 500 * 1.25 + 300 * 5.0) / 1e6)


def test_gemini_cached_is_within_prompt_and_thoughts_are_output() -> None:
    usage = usage_from_gemini({"promptTokenCount": 3000, "cachedContentTokenCount": 2000,
                               "candidatesTokenCount": 100, "thoughtsTokenCount": 50, "totalTokenCount": 3150})
    assert usage == Usage(input_tokens=3000, output_tokens=150, cache_read_tokens=2000, reasoning_tokens=50)
    p = builtin_price("gemini-2.5-flash")
    assert p is not None
    assert cost_usd(usage, p) == pytest.approx((1000 * 0.30 + 2000 * 0.075 + 150 * 2.50) / 1e6)


def test_openai_cached_is_within_prompt_and_reasoning_within_completion() -> None:
    usage = Usage.from_openai({"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200,
                               "prompt_tokens_details": {"cached_tokens": 400},
                               "completion_tokens_details": {"reasoning_tokens": 50}})
    p = builtin_price("gpt-4o-mini")
    assert p is not None
    assert cost_usd(usage, p) == pytest.approx((600 * 0.15 + 400 * 0.075 + 200 * 0.60) / 1e6)
    assert usage.reasoning_tokens == 50
