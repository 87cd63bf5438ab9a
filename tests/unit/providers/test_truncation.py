"""Every translator knows its protocol's end: a stream cut anywhere before it is `truncated`,
never a success; one that reached it ends cleanly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aigw.errors import UpstreamError
from aigw.providers.anthropic import AnthropicTranslator
from aigw.providers.anthropic_native import AnthropicNativeTranslator
from aigw.providers.azure import AzureChatTranslator
from aigw.providers.bedrock_converse import BedrockStreamState
from aigw.providers.gemini import GeminiTranslator
from aigw.providers.openai import OpenAIChatTranslator
from aigw.providers.sse import SSEEvent


def openai_events(choices: int) -> tuple[list[SSEEvent], int]:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> SSEEvent:
        choice = {"index": index, "delta": delta, "finish_reason": finish}
        return SSEEvent(None, json.dumps({**base, "choices": [choice]}))

    events = [chunk(i, {"role": "assistant", "content": ""}) for i in range(choices)]
    events += [chunk(i, {"content": "hi"}) for i in range(choices)]
    events += [chunk(i, {}, "stop") for i in range(choices)]
    complete = len(events)  # every choice finished
    events.append(SSEEvent(None, json.dumps({**base, "choices": [], "usage": {"prompt_tokens": 1}})))
    events.append(SSEEvent(None, "[DONE]"))
    return events, complete


def anthropic_events() -> tuple[list[SSEEvent], int]:
    raw = [("message_start", {"message": {"id": "msg_1", "model": "c", "usage": {"input_tokens": 3}}}),
           ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
           ("ping", {}),
           ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "hi"}}),
           ("content_block_stop", {"index": 0}),
           ("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}}),
           ("message_stop", {})]
    events = [SSEEvent(name, json.dumps({"type": name, **data})) for name, data in raw]
    return events, len(events)


def gemini_events() -> tuple[list[SSEEvent], int]:
    chunks = [{"candidates": [{"content": {"parts": [{"text": "a"}]}}]},
              {"candidates": [{"content": {"parts": [{"text": "b"}]}, "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 2}}]
    return [SSEEvent(None, json.dumps(c)) for c in chunks], len(chunks)


def _run(translator: Any, events: list[SSEEvent], cut: int) -> None:
    for event in events[:cut]:
        translator.stream_event(event)
    translator.stream_end()


CASES = {
    "openai": (OpenAIChatTranslator, lambda: openai_events(1)),
    "openai-n3": (OpenAIChatTranslator, lambda: openai_events(3)),
    "azure": (AzureChatTranslator, lambda: openai_events(1)),
    "anthropic": (AnthropicTranslator, anthropic_events),
    "anthropic-native": (AnthropicNativeTranslator, anthropic_events),
    "gemini": (GeminiTranslator, gemini_events),
}


@pytest.mark.parametrize("name", sorted(CASES))
@given(cut=st.integers(min_value=0, max_value=20))
def test_a_cut_before_the_protocol_end_is_truncated(name: str, cut: int) -> None:
    factory, make = CASES[name]
    events, complete = make()
    cut = min(cut, len(events))
    if cut >= complete:
        _run(factory(), events, cut)
        return
    with pytest.raises(UpstreamError) as failure:
        _run(factory(), events, cut)
    assert (failure.value.status, failure.value.code, failure.value.retryable) == (502, "truncated", True)


def test_an_openai_choice_left_open_is_truncated_even_if_another_finished() -> None:
    events, _ = openai_events(2)
    translator = OpenAIChatTranslator()
    for event in events[:5]:  # both opened, choice 0 finished, choice 1 not
        translator.stream_event(event)
    with pytest.raises(UpstreamError, match="incomplete"):
        translator.stream_end()


@given(cut=st.integers(min_value=0, max_value=6))
def test_bedrock_needs_message_stop_and_metadata(cut: int) -> None:
    events = [{"messageStart": {"role": "assistant"}},
              {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "hi"}}},
              {"contentBlockStop": {"contentBlockIndex": 0}},
              {"messageStop": {"stopReason": "end_turn"}},
              {"metadata": {"usage": {"inputTokens": 1, "outputTokens": 1}}}]
    state = BedrockStreamState("m")
    for event in events[:cut]:
        state.event(event)
    assert state.finished == (cut >= len(events))
    metadata_only = BedrockStreamState("m")
    metadata_only.event(events[-1])
    assert not metadata_only.finished  # metadata without messageStop is not the end
