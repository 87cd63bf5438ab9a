"""A Responses create body: validation (a 400 naming the field, never anything else) and its
translation into the canonical Chat Completions body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.errors import InvalidRequest
from aigw.responses.request import chat_body, input_items, parse_request
from aigw.schemas import ChatCompletionRequest, validate


def translate(data: dict[str, Any], native: frozenset[str] = frozenset(),
              prior: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    request = parse_request(data)
    body = chat_body(request, (prior or []) + input_items(request, native), native_tools=native)
    validate(ChatCompletionRequest, body)  # what the chat front door would accept
    return body


def rejects(data: dict[str, Any], param: str, *words: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        translate(data)
    assert caught.value.param == param and caught.value.status == 400
    assert caught.value.openai_body()["error"]["type"] == "invalid_request_error"
    for word in words:
        assert word in caught.value.message


def test_string_input_with_instructions_and_renamed_parameters() -> None:
    body = translate({"model": "m", "input": "hello", "instructions": "be brief", "max_output_tokens": 50,
                      "temperature": 0.2, "top_p": 0.9, "user": "u1", "stream": True, "metadata": {"k": "v"},
                      "store": True, "reasoning": {"effort": "low", "summary": "auto"}, "service_tier": "flex",
                      "prompt_cache_key": "pk", "safety_identifier": "sid", "text": {"verbosity": "low"}})
    assert body == {"model": "m", "messages": [{"role": "system", "content": "be brief"},
                                               {"role": "user", "content": "hello"}],
                    "stream": True, "max_completion_tokens": 50, "temperature": 0.2, "top_p": 0.9, "user": "u1",
                    "reasoning_effort": "low", "service_tier": "flex", "prompt_cache_key": "pk",
                    "safety_identifier": "sid", "verbosity": "low"}  # metadata and store stay in the gateway


def test_item_list_becomes_messages_with_calls_merged_onto_the_assistant_turn() -> None:
    body = translate({"model": "m", "input": [
        {"role": "developer", "content": "rules"},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "what is in "}, {"type": "input_text", "text": "this picture?"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAA", "detail": "high"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look.",
                                                              "annotations": []}]},
        {"type": "function_call", "call_id": "call_a", "name": "zoom", "arguments": "{\"x\":1}"},
        {"type": "reasoning", "id": "rs_2", "summary": []},
        {"type": "function_call", "call_id": "call_b", "name": "zoom", "arguments": "{\"x\":2}"},
        {"type": "function_call_output", "call_id": "call_a", "output": "a cat"},
        {"type": "function_call_output", "call_id": "call_b", "output": [{"type": "input_text", "text": "a "},
                                                                         {"type": "input_text", "text": "hat"}]},
        {"role": "user", "content": "so?"},
    ]})
    assert body["messages"] == [
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": [{"type": "text", "text": "what is in "}, {"type": "text", "text": "this picture?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA",
                                                                         "detail": "high"}}]},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "zoom", "arguments": "{\"x\":1}"}},
            {"id": "call_b", "type": "function", "function": {"name": "zoom", "arguments": "{\"x\":2}"}}]},
        {"role": "tool", "tool_call_id": "call_a", "content": "a cat"},
        {"role": "tool", "tool_call_id": "call_b", "content": "a hat"},
        {"role": "user", "content": "so?"},
    ]


def test_function_calls_without_a_preceding_message_open_an_assistant_turn() -> None:
    body = translate({"model": "m", "input": [
        {"role": "user", "content": "hi"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"}]})
    assert body["messages"][1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}


def test_assistant_refusal_and_audio_and_file_parts() -> None:
    body = translate({"model": "m", "input": [
        {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
                                     {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE",
                                      "filename": "a.pdf"}]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
        {"role": "user", "content": "please"}]})
    assert body["messages"][0]["content"] == [
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}}]
    assert body["messages"][1] == {"role": "assistant", "content": "", "refusal": "no"}


def test_tools_tool_choice_and_parallel_calls() -> None:
    tools = [{"type": "function", "name": "get", "description": "d", "parameters": {"type": "object"}, "strict": True},
             {"type": "function", "name": "put"}]
    body = translate({"model": "m", "input": "x", "tools": tools, "tool_choice": {"type": "function", "name": "get"},
                      "parallel_tool_calls": False})
    assert body["tools"] == [
        {"type": "function", "function": {"name": "get", "description": "d", "parameters": {"type": "object"},
                                          "strict": True}},
        {"type": "function", "function": {"name": "put", "parameters": {"type": "object", "properties": {}}}}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get"}}
    assert body["parallel_tool_calls"] is False
    allowed = translate({"model": "m", "input": "x", "tools": tools, "tool_choice": {
        "type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "put"}]}})
    assert [t["function"]["name"] for t in allowed["tools"]] == ["put"] and allowed["tool_choice"] == "required"
    bare = translate({"model": "m", "input": "x", "tool_choice": "auto", "parallel_tool_calls": True})
    assert "tool_choice" not in bare and "parallel_tool_calls" not in bare  # chat refuses them without tools


def test_text_format_becomes_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    body = translate({"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "out",
                                                                     "schema": schema, "strict": True}}})
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "out", "schema": schema,
                                                                             "strict": True}}
    assert translate({"model": "m", "input": "x", "text": {"format": {"type": "json_object"}}})[
        "response_format"] == {"type": "json_object"}
    assert "response_format" not in translate({"model": "m", "input": "x", "text": {"format": {"type": "text"}}})
    rejects({"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "schema": schema}}},
            "text.format", "name")


def test_builtin_tools_are_a_400_naming_the_tool_unless_run_natively() -> None:
    for tool in ("web_search", "web_search_preview", "file_search", "code_interpreter", "computer_use_preview",
                 "image_generation", "mcp"):
        rejects({"model": "m", "input": "x", "tools": [{"type": tool}]}, "tools[0]", repr(tool))
    data = {"model": "m", "input": [{"role": "user", "content": "x"},
                                    {"type": "web_search_call", "id": "ws_1", "status": "completed"}],
            "tools": [{"type": "web_search_preview"}, {"type": "function", "name": "f"}],
            "tool_choice": {"type": "web_search_preview"}}
    body = translate(data, native=frozenset({"web_search"}))  # the native request carries them; chat does not
    assert [t["function"]["name"] for t in body["tools"]] == ["f"] and "tool_choice" not in body
    assert body["messages"] == [{"role": "user", "content": "x"}]
    with pytest.raises(InvalidRequest, match="web_search_call"):
        translate({**data, "tools": [{"type": "function", "name": "f"}], "tool_choice": "auto"})


@pytest.mark.parametrize(("data", "param"), [
    ({"input": "x"}, "model"),
    ({"model": "m"}, "input"),
    ({"model": "m", "input": []}, "input"),
    ({"model": "m", "input": "x", "temperature": 3}, "temperature"),
    ({"model": "m", "input": "x", "temperature": "0.5"}, "temperature"),
    ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
    ({"model": "m", "input": "x", "store": "yes"}, "store"),
    ({"model": "m", "input": "x", "metadata": {"k": 1}}, "metadata.k"),
    ({"model": "m", "input": "x", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"model": "m", "input": "x", "tool_choice": "sometimes"}, "tool_choice"),
    ({"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice"),
    ({"model": "m", "input": "x", "tool_choice": "required"}, "tool_choice"),
    ({"model": "m", "input": "x", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
    ({"model": "m", "input": "x", "background": True}, "background"),
    ({"model": "m", "input": "x", "conversation": "conv_1"}, "conversation"),
    ({"model": "m", "input": "x", "prompt": {"id": "pmpt_1"}}, "prompt"),
    ({"model": "m", "input": "x", "top_logprobs": 3}, "top_logprobs"),
    ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "output_text", "text": "x"}]}]},
     "input[0].content[0]"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_text"}]}]}, "input[0].content[0].text"),
    ({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]},
     "input[0].content[0]"),
    ({"model": "m", "input": ["x"]}, "input[0]"),
    ({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
    ({"model": "m", "input": [{"type": "function_call_output", "call_id": "c", "output": [
        {"type": "input_image", "image_url": "https://x/y.png"}]}]}, "input[0].output[0]"),
    ({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}, "input"),  # nothing stored to name
    ({"model": "m", "input": [{"type": "item_reference"}]}, "input[0].id"),
    ({"model": "m", "input": [{"type": "teleport"}]}, "input[0]"),
    ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
    ({"model": "m", "input": "x", "tools": [{"type": "function", "name": "f"}, {"type": "function", "name": "f"}]},
     "tools"),
    ({"model": "m", "input": [{"type": "reasoning", "summary": []}]}, "input"),
])
def test_bad_bodies_are_400s_naming_the_field(data: dict[str, Any], param: str) -> None:
    rejects(data, param)


def test_input_items_are_normalized_with_ids_and_parts() -> None:
    items = input_items(parse_request({"model": "m", "input": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello", "id": "msg_keep"},
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}]}))
    assert items[0]["id"].startswith("msg_") and items[0]["type"] == "message" and items[0]["status"] == "completed"
    assert items[0]["content"] == [{"type": "input_text", "text": "hi"}]
    assert items[1]["id"] == "msg_keep"
    assert items[1]["content"] == [{"type": "output_text", "text": "hello", "annotations": []}]
    assert items[2]["id"].startswith("fc_") and len({i["id"] for i in items}) == 3


def test_a_stored_conversation_comes_before_this_turn_and_instructions_lead() -> None:
    prior = input_items(parse_request({"model": "m", "input": [{"role": "user", "content": "one"},
                                                                {"role": "assistant", "content": "two"}]}))
    body = translate({"model": "m", "input": "three", "instructions": "new rules", "previous_response_id": "resp_x"},
                     prior=prior)
    assert body["messages"] == [{"role": "system", "content": "new rules"}, {"role": "user", "content": "one"},
                                {"role": "assistant", "content": "two"}, {"role": "user", "content": "three"}]


_json = st.recursive(st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=3), max_leaves=12)
_keys = st.sampled_from(["model", "input", "instructions", "tools", "tool_choice", "text", "reasoning", "metadata",
                         "temperature", "max_output_tokens", "store", "previous_response_id", "stream", "top_p"])
_item = st.fixed_dictionaries({"type": st.sampled_from(["message", "function_call", "function_call_output",
                                                        "reasoning", "input_text", "web_search_call"])},
                              optional={"role": st.sampled_from(["user", "assistant", "system", "x"]),
                                        "content": _json, "call_id": _json, "name": _json, "arguments": _json,
                                        "output": _json})


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _json | st.lists(_item, max_size=4), max_size=8))
def test_arbitrary_bodies_translate_or_are_a_400(data: dict[str, Any]) -> None:
    try:
        body = translate(data)
    except InvalidRequest as exc:
        assert exc.status == 400 and exc.message
        return
    json.dumps(body)
    assert body["messages"] and body["model"] == data["model"]
