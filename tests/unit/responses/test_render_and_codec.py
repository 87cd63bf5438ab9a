"""A complete `chat.completion` as the Responses `response` object, validated by the SDK's own
model and read back through `client.responses.create`; the codec's body/error seam."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aigw.errors import InvalidRequest, TooManyRequests
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatResult
from tests.unit.responses.helpers import codec_for, sdk, validated


def completion(message: dict[str, Any], finish: str = "stop", usage: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "up",
                            "choices": [{"index": 0, "message": {"role": "assistant", **message},
                                         "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = usage
    return body


REQUEST: dict[str, Any] = {
    "model": "m", "input": "hi", "instructions": "be brief", "max_output_tokens": 64, "temperature": 0.3,
    "top_p": 0.8, "metadata": {"app": "x"}, "user": "u", "parallel_tool_calls": False, "store": False,
    "previous_response_id": "resp_prev", "truncation": "auto", "reasoning": {"effort": "low"},
    "text": {"format": {"type": "json_object"}}, "tool_choice": "required",
    "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}, "strict": True}],
}


def test_text_answer_with_echoed_parameters_through_the_sdk() -> None:
    codec = codec_for(REQUEST, response_id="resp_abc")
    body = codec.body(completion({"content": "{\"ok\": true}"}),
                      Usage(input_tokens=12, output_tokens=5, cache_read_tokens=3, reasoning_tokens=1))
    response = validated(body)
    assert response.id == "resp_abc" and response.object == "response" and response.status == "completed"
    assert response.created_at == 1_700_000_000 and response.model == "m" and response.completed_at
    assert response.output_text == "{\"ok\": true}" and body["output_text"] == response.output_text
    message = response.output[0]
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert message.content[0].type == "output_text" and message.content[0].annotations == []
    assert response.usage is not None and response.usage.input_tokens == 12 and response.usage.total_tokens == 17
    assert response.usage.input_tokens_details.cached_tokens == 3
    assert response.usage.output_tokens_details.reasoning_tokens == 1
    assert (response.instructions, response.max_output_tokens, response.temperature, response.top_p) == \
        ("be brief", 64, 0.3, 0.8)
    assert (response.metadata, response.user, response.parallel_tool_calls, body["store"]) == \
        ({"app": "x"}, "u", False, False)  # `store` is in OpenAI's object, not in the SDK's model
    assert (response.previous_response_id, response.truncation, response.tool_choice) == ("resp_prev", "auto",
                                                                                          "required")
    assert response.reasoning is not None and response.reasoning.effort == "low"
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_object"
    tool = response.tools[0]
    assert tool.type == "function" and tool.name == "f" and tool.strict is True
    assert response.incomplete_details is None and response.error is None
    via_sdk = sdk(body).responses.create(model="m", input="hi")
    assert via_sdk.output_text == "{\"ok\": true}" and via_sdk.id == "resp_abc"


def test_defaults_are_echoed_as_openai_does() -> None:
    raw = codec_for({"model": "m", "input": "hi"}).body(completion({"content": "x"}), None)
    body = validated(raw)
    assert (body.tool_choice, body.parallel_tool_calls, raw["store"], body.truncation, body.metadata) == \
        ("auto", True, True, "disabled", {})
    assert body.text is not None and body.text.format is not None and body.text.format.type == "text"
    assert body.tools == [] and body.instructions is None


def test_tool_calls_reasoning_and_refusal_become_items_in_order() -> None:
    body = codec_for().body(completion({
        "content": None, "reasoning_content": "let me think", "reasoning_signature": "sig", "refusal": "nope",
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
                       {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{\"x\":1}"}}]},
        "tool_calls"), Usage(1, 2))
    response = validated(body)
    assert [i.type for i in response.output] == ["reasoning", "message", "function_call", "function_call"]
    reasoning, message, first, second = response.output
    assert reasoning.type == "reasoning" and reasoning.content and reasoning.content[0].text == "let me think"
    assert reasoning.encrypted_content == "sig"
    assert message.type == "message" and message.content[0].type == "refusal"
    assert first.type == "function_call" and (first.call_id, first.name, first.arguments) == ("call_1", "a", "{}")
    assert second.type == "function_call" and second.call_id == "call_2" and first.id != second.id
    assert response.output_text == ""


def test_a_length_cut_is_incomplete_and_usage_falls_back_to_the_body() -> None:
    body = codec_for().body(completion({"content": "trunc"}, "length",
                                       usage={"prompt_tokens": 9, "completion_tokens": 64, "total_tokens": 73}), None)
    response = validated(body)
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"  # type: ignore[union-attr]
    assert response.usage is not None and (response.usage.input_tokens, response.usage.output_tokens) == (9, 64)
    assert "completed_at" not in body


def test_the_codec_takes_a_chat_result_and_keeps_the_final_response() -> None:
    codec = codec_for()
    assert codec.final is None
    body = codec.body(ChatResult(completion({"content": "hi"}), Usage(3, 1)))
    assert body["usage"]["input_tokens"] == 3 and codec.final is body


def test_error_bodies_are_the_openai_envelope() -> None:
    codec = codec_for()
    assert codec.error_body(InvalidRequest("bad", param="input")) == {
        "error": {"message": "bad", "type": "invalid_request_error", "param": "input", "code": None}}
    assert codec.error_body(TooManyRequests("slow down"))["error"]["code"] == "rate_limit_exceeded"


@dataclass
class NativeResult:
    """`ChatResult` as the lead's seam extends it (`native`: the body in the client's own API)."""

    body: dict[str, Any]
    usage: Usage | None
    native: dict[str, Any] | None = None


NATIVE_OUTPUT: list[dict[str, Any]] = [
    {"id": "ws_up", "type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "x"}},
    {"id": "msg_up", "type": "message", "role": "assistant", "status": "completed", "content": [
        {"type": "output_text", "text": "Found it.", "logprobs": [], "annotations": [
            {"type": "url_citation", "start_index": 0, "end_index": 5, "url": "https://x.test", "title": "X"}]}]}]


def test_a_native_responses_answer_keeps_its_items_under_the_gateways_ids() -> None:
    codec = codec_for(response_id="resp_" + "ab" * 24)
    native = {"id": "resp_upstream", "object": "response", "output": NATIVE_OUTPUT}
    body = codec.body(NativeResult(completion({"content": "Found it."}), Usage(4, 2), native=native))
    response = validated(body)
    assert [i.type for i in response.output] == ["web_search_call", "message"]
    assert body["id"] == "resp_" + "ab" * 24 and response.output_text == "Found it."
    assert body["output"][0]["id"] == "ws_up" and body["output"][1]["id"].startswith("msg_" + "ab" * 24)
    assert body["output"][1]["content"][0]["annotations"][0]["url"] == "https://x.test"


def test_a_filtered_canonical_answer_wins_over_the_native_one() -> None:
    native = {"object": "response", "output": NATIVE_OUTPUT}
    body = codec_for().body(NativeResult(completion({"content": "[redacted]"}), Usage(4, 2), native=native))
    assert body["output_text"] == "[redacted]" and [i["type"] for i in body["output"]] == ["message"]


def test_map_native_texts_reaches_every_text_of_a_responses_body() -> None:
    body: dict[str, Any] = {
        "model": "m", "instructions": "SECRET rules", "input": [
            {"role": "user", "content": "SECRET one"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "SECRET two"},
                                                            {"type": "input_image", "image_url": "https://i/x.png"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "SECRET three"},
                                                                 {"type": "refusal", "refusal": "SECRET four"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "SECRET five"}]},
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{\"q\": \"SECRET six\"}"},
            {"type": "function_call_output", "call_id": "c", "output": "SECRET seven"},
            {"type": "function_call_output", "call_id": "d", "output": [{"type": "input_text", "text": "SECRET 8"}]},
        ],
        "tools": [{"type": "function", "name": "f", "description": "SECRET nine"}, {"type": "web_search"}],
    }
    before = json.dumps(body)
    out = codec_for().map_native_texts(body, lambda text: text.replace("SECRET", "[redacted]"))
    assert "SECRET" not in json.dumps(out) and json.dumps(body) == before  # every text; the body untouched
    assert json.dumps(out).count("[redacted]") == before.count("SECRET")
    assert out["input"][1]["content"][1] == {"type": "input_image", "image_url": "https://i/x.png"}
    assert codec_for().map_native_texts({"model": "m", "input": "SECRET"}, str.lower)["input"] == "secret"
