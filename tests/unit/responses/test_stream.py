"""The stream encoder, read by the real openai SDK (`client.responses.stream(...)` and the raw
event stream) through an httpx MockTransport that serves the encoder's bytes."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.errors import UpstreamError
from aigw.pipeline.replay import completion_to_chunks
from aigw.pricing.cost import Usage
from tests.unit.responses.helpers import call, chunk, codec_for, encode, events_of, sdk, text, validated

TOOLS: list[Any] = [{"type": "function", "name": "get_weather", "strict": False,
                     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def test_text_and_a_tool_call_through_the_sdk_stream_helper() -> None:
    codec = codec_for({"model": "m", "input": "hi", "stream": True, "tools": TOOLS, "temperature": 0.5})
    stream = encode(codec, [chunk({"role": "assistant", "content": ""}), text("It is "), text("sunny."),
                            call(0, id="call_1", name="get_weather"), call(0, arguments='{"city":'),
                            call(0, arguments='"Paris"}'), chunk({}, "tool_calls")],
                    Usage(input_tokens=20, output_tokens=9, cache_read_tokens=4, reasoning_tokens=2))
    seen = []
    with sdk(stream).responses.stream(model="m", input="hi", tools=TOOLS) as events:
        for event in events:
            seen.append(event.type)
            if event.type == "response.output_text.delta":
                assert event.snapshot.endswith(event.delta)  # the helper's accumulation works on our deltas
        final = events.get_final_response()
    assert seen == ["response.created", "response.in_progress", "response.output_item.added",
                    "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
                    "response.output_text.done", "response.content_part.done", "response.output_item.done",
                    "response.output_item.added", "response.function_call_arguments.delta",
                    "response.function_call_arguments.delta", "response.function_call_arguments.done",
                    "response.output_item.done", "response.completed"]
    assert final.id == "resp_test" and final.status == "completed" and final.output_text == "It is sunny."
    message, fc = final.output
    assert message.type == "message" and message.id.startswith("msg_") and message.status == "completed"
    assert fc.type == "function_call" and fc.call_id == "call_1" and fc.name == "get_weather"
    assert json.loads(fc.arguments) == {"city": "Paris"} and fc.id and fc.id.startswith("fc_")
    assert final.usage is not None and (final.usage.input_tokens, final.usage.output_tokens) == (20, 9)
    assert final.usage.input_tokens_details.cached_tokens == 4
    assert final.usage.output_tokens_details.reasoning_tokens == 2 and final.usage.total_tokens == 29
    assert final.temperature == 0.5 and final.tools[0].name == "get_weather"  # type: ignore[union-attr]
    assert codec.final is not None and codec.final["status"] == "completed"


def test_every_event_is_a_typed_sdk_event_in_sequence() -> None:
    stream = encode(codec_for(), [chunk({"reasoning_content": "think"}), chunk({"reasoning_signature": "sig"}),
                                  text("a"), chunk({"refusal": "no"}), text("b"), call(0, id="c", name="f"),
                                  chunk({}, "stop")])
    events = events_of(stream)  # validates each against the SDK's union, checks sequence numbers
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [i["type"] for i in done] == ["reasoning", "message", "function_call"]
    assert done[0]["content"] == [{"type": "reasoning_text", "text": "think"}]
    assert done[0]["encrypted_content"] == "sig"
    assert [p["type"] for p in done[1]["content"]] == ["output_text", "refusal", "output_text"]
    final = events[-1]["response"]
    assert final["output_text"] == "ab" and validated(final).output_text == "ab"


def test_a_length_cut_is_incomplete_not_completed() -> None:
    events = events_of(encode(codec_for(), [text("partial"), chunk({}, "length")]))
    last = events[-1]
    assert last["type"] == "response.incomplete" and "response.completed" not in [e["type"] for e in events]
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["output"][0]["status"] == "incomplete"
    with sdk(encode(codec_for(), [text("partial"), chunk({}, "length")])).responses.stream(
            model="m", input="hi") as stream:
        kinds = [e.type for e in stream]
        with pytest.raises(RuntimeError, match=r"response\.completed"):  # as against OpenAI itself
            stream.get_final_response()
    assert kinds[-1] == "response.incomplete"


def test_a_content_filter_stop_is_incomplete_with_that_reason() -> None:
    last = events_of(encode(codec_for(), [text("x"), chunk({}, "content_filter")]))[-1]
    assert last["response"]["incomplete_details"] == {"reason": "content_filter"}


def test_a_failure_mid_stream_is_response_failed_then_an_error_the_sdk_raises() -> None:
    broken = UpstreamError("upstream stream ended without a finish", status=502)
    stream = encode(codec_for(), [text("half an ans")], error=broken)
    events = events_of(stream)
    assert [e["type"] for e in events][-2:] == ["response.failed", "error"]
    failed = events[-2]["response"]
    assert failed["status"] == "failed" and failed["error"] == {"code": "server_error", "message": broken.message}
    assert failed["output"][0]["status"] == "incomplete"
    assert failed["output"][0]["content"][0]["text"] == "half an ans"
    seen = []
    with pytest.raises(openai.APIError, match="without a finish"), \
            sdk(stream).responses.stream(model="m", input="hi") as events_iter:
        for event in events_iter:
            seen.append(event.type)
    assert seen[-1] == "response.failed"  # delivered before the SDK raises on `error`


def test_a_call_without_an_upstream_id_gets_one_that_holds_from_added_to_done() -> None:
    stream = encode(codec_for(), [call(0, name="f", arguments="{}"), chunk({}, "tool_calls")])
    events = events_of(stream)
    added = next(e["item"] for e in events if e["type"] == "response.output_item.added")
    done = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    assert added["call_id"].startswith("call_") and added["call_id"] == done["call_id"]
    with sdk(stream).responses.stream(model="m", input="hi") as sdk_events:
        final = sdk_events.get_final_response()
    assert final.output[0].type == "function_call" and final.output[0].call_id == added["call_id"]


def test_an_empty_stream_still_completes() -> None:
    events = events_of(encode(codec_for(), []))
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "response.completed"]
    assert events[-1]["response"]["output"] == []


def test_nothing_after_the_end() -> None:
    codec = codec_for()
    codec.chunk(text("x"))
    codec.end(None, Usage)
    assert codec.chunk(text("late")) == b"" and codec.end(None, Usage) == b""
    assert codec.error(UpstreamError("x", status=502)) == b""


def test_a_streamed_answer_and_the_same_answer_complete_have_one_shape() -> None:
    body = {"id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "up", "choices": [
        {"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}]}
    usage = Usage(5, 6)
    streamed = events_of(encode(codec_for(), completion_to_chunks(body), usage))[-1]["response"]
    complete = codec_for().body(body, usage)

    def shape(response: dict[str, Any]) -> Any:
        items = [{k: v for k, v in item.items() if k != "id"} for item in response["output"]]
        return {**{k: v for k, v in response.items() if k not in ("output", "completed_at")}, "output": items}

    assert shape(streamed) == shape(complete)


_piece = st.text(min_size=1, max_size=6)
_step = st.one_of(st.tuples(st.just("text"), _piece), st.tuples(st.just("reasoning"), _piece),
                  st.tuples(st.just("args"), st.integers(0, 2), _piece))


@settings(max_examples=150, deadline=None)
@given(st.lists(_step, max_size=25))
def test_any_split_and_interleaving_reassembles_exactly(steps: list[Any]) -> None:
    """Text, reasoning and the arguments of up to three parallel calls, in any order: the SDK's
    final response holds exactly what was streamed."""
    chunks, texts, reasoning, args, opened = [], [], [], {0: "", 1: "", 2: ""}, set()
    for step in steps:
        if step[0] == "text":
            chunks.append(text(step[1]))
            texts.append(step[1])
        elif step[0] == "reasoning":
            chunks.append(chunk({"reasoning_content": step[1]}))
            reasoning.append(step[1])
        else:
            _, n, piece = step
            first = n not in opened
            opened.add(n)
            chunks.append(call(n, id=f"call_{n}" if first else None, name=f"f{n}" if first else None,
                               arguments=piece))
            args[n] += piece
    chunks.append(chunk({}, "stop"))
    stream = encode(codec_for(), chunks)
    events_of(stream)
    with sdk(stream).responses.stream(model="m", input="hi") as events:
        final = events.get_final_response()
    assert final.output_text == "".join(texts)
    calls = {item.call_id: item for item in final.output if item.type == "function_call"}
    assert {c: i.arguments for c, i in calls.items()} == {f"call_{n}": args[n] for n in opened}
    assert all(calls[f"call_{n}"].name == f"f{n}" for n in opened)
    thoughts = [i for i in final.output if i.type == "reasoning"]
    assert "".join(p.text for i in thoughts for p in i.content or []) == "".join(reasoning)
