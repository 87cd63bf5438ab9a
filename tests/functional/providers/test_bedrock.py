"""Bedrock deployments (Converse / ConverseStream through boto3) behind both front doors,
against a fake Bedrock Runtime that writes the real binary event-stream frames."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from aigw.pricing import Usage, builtin_price, cost_usd
from tests.fakes.provider_fixtures import last_record

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
TOOLS: Any = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]


def config(url: str) -> dict[str, Any]:
    def model(name: str, suffix: str = "") -> dict[str, Any]:
        return {"name": name, "deployments": [{"provider": "bedrock", "model": MODEL + suffix, "api_base": url,
                                               "region": "us-west-2", "timeout_s": 5}]}

    return {"models": [model("haiku"), model("haiku-cache", "-cache"), model("haiku-broken", "-broken"),
                       model("haiku-streamerr", "-streamerr"), model("haiku-400", "-fail-400"),
                       model("haiku-badjson", "-badjson"),
                       {"name": "haiku-ha", "deployments": [
                           {"provider": "bedrock", "model": MODEL + "-fail-429", "api_base": url, "id": "throttled"},
                           {"provider": "bedrock", "model": MODEL, "api_base": url, "id": "healthy"}]}],
            "routing": {"backoff_base_s": 0.01, "backoff_max_s": 0.05}}


@pytest.fixture
def gw(provider_gateway: Any, fake_bedrock: Any) -> Any:
    return provider_gateway(config(fake_bedrock.url))


def oai(gw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)


def haiku_cost(usage: Usage) -> float:
    price = builtin_price(MODEL)
    assert price is not None
    return cost_usd(usage, price)


def test_converse_non_streaming(gw: Any, fake_bedrock: Any) -> None:
    raw = oai(gw).chat.completions.with_raw_response.create(
        model="haiku", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}],
        temperature=0.5, max_tokens=77, stop=["END"])
    completion = raw.parse()
    assert completion.choices[0].message.content == f"Bedrock {MODEL} heard: hi there"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (9, 5)
    assert float(raw.headers["x-aigw-cost-usd"]) == pytest.approx(haiku_cost(Usage(9, 5)), abs=1e-8)
    sent = fake_bedrock.fake.calls[-1]
    assert sent.path == f"/model/{MODEL}/converse"
    assert sent.body["system"] == [{"text": "be brief"}]
    assert sent.body["inferenceConfig"] == {"maxTokens": 77, "temperature": 0.5, "stopSequences": ["END"]}
    assert "us-west-2" in sent.headers["authorization"]  # SigV4-signed for the deployment's region


def test_converse_stream_event_stream_frames(gw: Any) -> None:
    chunks = list(oai(gw).chat.completions.create(model="haiku-cache", messages=[{"role": "user", "content": "a b"}],
                                                  stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Bedrock {MODEL}-cache heard: a b"
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.prompt_tokens == 7 + 150  # uncached + cache read + cache write, counted once
    record = last_record(gw)
    assert (record["cached_tokens"], record["cache_write_tokens"]) == (100, 50)
    expected = haiku_cost(Usage(157, usage.completion_tokens, cache_read_tokens=100, cache_write_tokens=50))
    assert record["cost_usd"] == pytest.approx(expected, abs=1e-10)


def test_stream_tool_call_arguments_arrive_as_deltas(gw: Any) -> None:
    chunks = list(oai(gw).chat.completions.create(model="haiku", messages=[{"role": "user", "content": "weather"}],
                                                  tools=TOOLS, tool_choice="required", stream=True))
    pieces = [tc.function.arguments for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []
              if tc.function and tc.function.arguments]
    assert pieces == ['{"city"', ': "Paris"}']
    assert json.loads("".join(pieces)) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_tool_result_turns_are_translated(gw: Any, fake_bedrock: Any) -> None:
    messages: Any = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
        {"role": "user", "content": [{"type": "text", "text": "and?"}, {
            "type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
    ]
    oai(gw).chat.completions.create(model="haiku", messages=messages, tools=TOOLS)
    sent = fake_bedrock.fake.calls[-1].body
    assert sent["messages"][1]["content"] == [{"toolUse": {"toolUseId": "t1", "name": "weather",
                                                           "input": {"city": "Paris"}}}]
    last = sent["messages"][2]
    assert last["role"] == "user"  # the tool result and the next user turn merge (roles alternate)
    assert last["content"][0] == {"toolResult": {"toolUseId": "t1", "content": [{"text": "sunny"}]}}
    assert last["content"][2]["image"]["format"] == "png"
    assert sent["toolConfig"]["tools"][0]["toolSpec"]["name"] == "weather"


def test_throttled_deployment_fails_over(gw: Any) -> None:
    raw = oai(gw).chat.completions.with_raw_response.create(model="haiku-ha",
                                                            messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-aigw-deployment"] == "healthy"
    assert raw.headers["x-aigw-attempts"] == "2"
    assert last_record(gw)["path"] == ["haiku-ha:throttled:429", "haiku-ha:healthy:200"]


def test_validation_error_is_a_400(gw: Any) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(model="haiku-400", messages=[{"role": "user", "content": "hi"}])
    assert "fake failure 400" in str(info.value)


def test_malformed_json_is_a_502(gw: Any) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        oai(gw).chat.completions.create(model="haiku-badjson", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 502


@pytest.mark.parametrize("model", ["haiku-broken", "haiku-streamerr"])
def test_stream_failing_mid_way_ends_with_an_error_event(gw: Any, model: str) -> None:
    with pytest.raises(openai.APIError):
        list(oai(gw).chat.completions.create(model=model, messages=[{"role": "user", "content": "a b c"}],
                                             stream=True))
    record = last_record(gw)
    assert record["status"] == 502 and record["output_tokens"] > 0


def test_anthropic_sdk_through_bedrock(gw: Any) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    with client.messages.stream(model="haiku", max_tokens=20, messages=[{"role": "user", "content": "yo"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == f"Bedrock {MODEL} heard: yo"
    assert final.usage.input_tokens == 6 and final.usage.output_tokens == 4


@pytest.mark.parametrize("stream", [False, True])
def test_structured_output_through_a_forced_tool(gw: Any, fake_bedrock: Any, stream: bool) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    kwargs: Any = {"model": "haiku", "messages": [{"role": "user", "content": "where?"}],
                   "response_format": {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}}
    if stream:
        chunks = list(oai(gw).chat.completions.create(stream=True, **kwargs))
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    else:
        completion = oai(gw).chat.completions.create(**kwargs)
        content, finish = completion.choices[0].message.content or "", [completion.choices[0].finish_reason]
        assert completion.choices[0].message.tool_calls is None
    assert json.loads(content) == {"city": "Paris"} and finish == ["stop"]
    sent = fake_bedrock.fake.calls[-1].body["toolConfig"]
    assert sent["toolChoice"] == {"tool": {"name": "json_response"}}
    assert sent["tools"][0]["toolSpec"]["inputSchema"] == {"json": schema}
