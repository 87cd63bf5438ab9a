"""Which tokenizer family a deployment belongs to, and that every family's bound covers what
it is documented to cover."""

from __future__ import annotations

import math

import pytest

from aigw import tokens
from aigw.tokens.families import ANTHROPIC, DEFAULT, FAMILIES, GEMINI, LLAMA, LLAMA3, MISTRAL, OPENAI, family_for


@pytest.mark.parametrize(("provider", "model", "family"), [
    ("openai", "gpt-4o-mini", "openai"), ("azure", "prod-chat", "openai"), ("mock", "mock-fast", "mock"),
    ("anthropic", "claude-sonnet-4-5", "anthropic"), ("bedrock", "us.anthropic.claude-3-5-haiku-20241022-v1:0",
                                                      "anthropic"),
    ("bedrock", "meta.llama3-3-70b-instruct-v1:0", "llama3"), ("bedrock", "meta.llama2-13b-chat-v1", "llama"),
    ("bedrock", "mistral.mistral-large-2407-v1:0", "mistral"), ("bedrock", "cohere.command-r-plus-v1:0", "cohere"),
    ("bedrock", "amazon.nova-pro-v1:0", "amazon"), ("bedrock", "amazon.titan-embed-text-v2:0", "amazon"),
    ("gemini", "gemini-2.5-flash", "gemini"), ("openai-compatible", "google/gemma-2-9b-it", "gemini"),
    ("openai-compatible", "meta-llama/Llama-3.1-8B-Instruct", "llama3"),
    ("openai-compatible", "openai/gpt-oss-120b", "openai-open"), ("openai-compatible", "openai/gpt-4o", "openai"),
    ("openai-compatible", "qwen2.5-72b-instruct", "default"), ("openai-compatible", "deepseek-chat", "default"),
])
def test_family_of_a_deployment(provider: str, model: str, family: str) -> None:
    assert family_for(provider, model).name == family


def test_only_openai_is_exact_and_every_other_family_bounds_a_coarser_tokenizer() -> None:
    assert [f.name for f in FAMILIES if f.exact] == ["openai"]
    for family in FAMILIES:
        assert family.factor >= 1.0
    assert ANTHROPIC.factor >= 1.35  # measured Claude counts: 1.20-1.35x cl100k
    assert min(f.factor for f in (DEFAULT, GEMINI, LLAMA, MISTRAL)) >= 1.3 and LLAMA3.factor >= 1.1


def test_default_bound_covers_1_3x_plus_framing() -> None:
    body = {"messages": [{"role": "system", "content": "be brief " * 30}, {"role": "user", "content": "hi " * 50}]}
    profile = tokens.profile_chat(body)
    assert profile.estimate(DEFAULT, "x") >= math.ceil(1.3 * profile.text_tokens) + 5 * 2 + 10
    assert profile.estimate(OPENAI, "gpt-4o") == profile.text_tokens


def test_claude_tools_add_the_documented_tool_use_prompt() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    body = {"messages": [{"role": "user", "content": "hi"}]}
    plain = tokens.profile_chat(body)
    with_tool = tokens.profile_chat({**body, "tools": [tool]})
    gap = with_tool.estimate(ANTHROPIC, "claude-sonnet-4-5") - plain.estimate(ANTHROPIC, "claude-sonnet-4-5")
    assert gap >= 346
    assert with_tool.estimate(ANTHROPIC, "claude-3-opus-20240229") - plain.estimate(ANTHROPIC, "claude-3-opus") >= 530
