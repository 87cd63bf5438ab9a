"""Reported usage is read without trusting it: any JSON in a count neither raises nor is
turned into a plausible number."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.providers.anthropic import usage_from_anthropic
from aigw.providers.bedrock_converse import usage_from_converse
from aigw.providers.gemini import usage_from_gemini
from aigw.providers.usage import INVALID_COUNT, count, is_valid, openai_usage

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=5)


@given(value=JSON_VALUES)
def test_a_count_is_an_int_and_only_integers_survive(value: Any) -> None:
    parsed = count(value)
    assert isinstance(parsed, int)
    if value is None:
        assert parsed == 0
    elif isinstance(value, int) and not isinstance(value, bool):
        assert parsed == value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        assert parsed == int(value)
    else:
        assert parsed == INVALID_COUNT


@given(values=st.dictionaries(st.sampled_from(["prompt_tokens", "completion_tokens", "total_tokens",
                                               "prompt_tokens_details", "completion_tokens_details"]), JSON_VALUES))
def test_openai_usage_never_raises_and_never_forwards_what_it_could_not_read(values: dict[str, Any]) -> None:
    usage = openai_usage(values)
    assert usage is not None
    if usage.openai is not None:  # handed to the client as sent: only when every count was an integer
        assert is_valid(usage)
        for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
            assert name not in values or values[name] is None or isinstance(values[name], int | float)


COUNTS = st.one_of(st.integers(-5, 10**8), JSON_VALUES)
DETAILS = st.none() | JSON_VALUES | st.dictionaries(
    st.sampled_from(["cached_tokens", "reasoning_tokens", "audio_tokens"]), COUNTS, max_size=3)
USAGE = st.fixed_dictionaries({}, optional={
    "prompt_tokens": COUNTS, "completion_tokens": COUNTS, "total_tokens": COUNTS,
    "prompt_tokens_details": DETAILS, "completion_tokens_details": DETAILS, "extra": JSON_VALUES})


@settings(max_examples=500)
@given(values=USAGE)
def test_the_plain_usage_path_reads_what_the_general_one_reads(values: dict[str, Any]) -> None:
    """Ints where counts belong take the short path: the same Usage (counts, validity, the
    object handed to the client), a copy that leaves the upstream's dict alone."""
    from aigw.providers.usage import _openai_usage, _plain_openai_usage

    before = repr(values)
    plain = _plain_openai_usage(values)
    assert repr(values) == before
    if plain is not None:
        assert plain == _openai_usage(values)
        assert plain.openai is None or plain.openai is not values
    assert openai_usage(values) == _openai_usage(values)


def test_the_plain_path_is_taken_for_openai_s_usage() -> None:
    from aigw.providers.usage import _plain_openai_usage

    sent = {"prompt_tokens": 16, "completion_tokens": 11, "total_tokens": 27,
            "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 2, "audio_tokens": 0}}
    usage = _plain_openai_usage(sent)
    assert usage is not None and usage.openai == sent
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.reasoning_tokens) == (16, 11, 4, 2)


@given(value=JSON_VALUES)
def test_provider_usage_readers_never_raise(value: Any) -> None:
    anthropic = usage_from_anthropic({"input_tokens": value, "output_tokens": value, "cache_read_input_tokens": 1,
                                      "server_tool_use": {"web_search_requests": value}})
    gemini = usage_from_gemini({"promptTokenCount": value, "candidatesTokenCount": 2, "thoughtsTokenCount": value})
    bedrock = usage_from_converse({"inputTokens": value, "outputTokens": value})
    for usage in (anthropic, gemini, bedrock):
        assert isinstance(usage.input_tokens, int) and isinstance(usage.output_tokens, int)
        if count(value) < 0:
            assert not is_valid(usage)  # settlement sees it is not believable


def test_a_valid_anthropic_usage_adds_cache_tokens_and_server_tools() -> None:
    usage = usage_from_anthropic({"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100,
                                  "cache_creation_input_tokens": 20, "server_tool_use": {"web_search_requests": 3}},
                                 container_used=True)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == (130, 100, 20)
    assert usage.server_tool_uses == {"web_search": 3, "code_execution": 1}
