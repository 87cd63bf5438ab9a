"""Anthropic deployments behind the OpenAI front door, and the Anthropic front door
(/v1/messages) in front of Anthropic and OpenAI deployments: official SDKs on both ends of
the gateway, a fake Anthropic upstream speaking the real SSE events."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from aigw.pricing import Usage, builtin_price, cost_usd
from tests.fakes.provider_fixtures import last_record

TOOLS = [{"type": "function", "function": {"name": "weather", "description": "the weather",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]
ANTHROPIC_TOOLS: Any = [{"name": "weather", "description": "the weather",
                         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def config(anthropic_url: str, openai_url: str) -> dict[str, Any]:
    def claude(name: str, upstream: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "deployments": [{"provider": "anthropic", "model": upstream, "api_base": anthropic_url,
                                               "credentials": "anthropic-test", **extra}]}

    return {"models": [
        claude("claude", "claude-sonnet-4-5"),
        claude("claude-cache", "claude-sonnet-4-5-cache"),
        claude("claude-thinking", "claude-sonnet-4-5-thinking"),
        claude("claude-broken", "claude-sonnet-4-5-broken"),
        claude("claude-badjson", "claude-sonnet-4-5-badjson"),
        claude("claude-400", "claude-sonnet-4-5-fail-400"),
        {"name": "claude-ha", "deployments": [
            {"provider": "anthropic", "model": "claude-sonnet-4-5-fail-529", "api_base": anthropic_url,
             "credentials": "anthropic-test"},
            {"provider": "anthropic", "model": "claude-sonnet-4-5", "api_base": anthropic_url,
             "credentials": "anthropic-test"}]},
        {"name": "gpt", "deployments": [{"provider": "openai", "model": "gpt-4o-mini", "api_base": openai_url,
                                         "credentials": "openai-test"}]},
    ], "routing": {"backoff_base_s": 0.01, "backoff_max_s": 0.05}}


@pytest.fixture
def gw(provider_gateway: Any, fake_anthropic: Any, fake_openai: Any) -> Any:
    return provider_gateway(config(fake_anthropic.url, fake_openai.base_url))


def oai(gw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)


def ant(gw: Any, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key or gw.key, max_retries=0)


def sonnet_cost(usage: Usage) -> float:
    price = builtin_price("claude-sonnet-4-5")
    assert price is not None
    return cost_usd(usage, price)


# ---- OpenAI SDK -> Anthropic deployment -------------------------------------------------------------
def test_openai_sdk_to_anthropic_non_streaming(gw: Any, fake_anthropic: Any) -> None:
    raw = oai(gw).chat.completions.with_raw_response.create(
        model="claude", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}])
    completion = raw.parse()
    assert completion.choices[0].message.content == "Claude claude-sonnet-4-5 heard: hi there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5 + 2 + 2, 5)
    assert raw.headers["x-aigw-provider"] == "anthropic"
    sent = fake_anthropic.fake.calls[-1]
    assert sent.body["system"] == [{"type": "text", "text": "be brief"}]
    assert sent.body["max_tokens"] == 4096
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert float(raw.headers["x-aigw-cost-usd"]) == pytest.approx(sonnet_cost(Usage(9, 5)), abs=1e-8)


def test_cache_tokens_counted_once_and_priced_per_category(gw: Any) -> None:
    completion = oai(gw).chat.completions.create(model="claude-cache", messages=[{"role": "user", "content": "hi"}])
    assert completion.usage is not None
    # the fake reports input_tokens=6 (uncached), cache read 100, cache write 50
    assert completion.usage.prompt_tokens == 6 + 100 + 50
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 100
    record = last_record(gw)
    assert (record["input_tokens"], record["cached_tokens"], record["cache_write_tokens"]) == (156, 100, 50)
    expected = (6 * 3.0 + 100 * 0.30 + 50 * 3.75 + completion.usage.completion_tokens * 15.0) / 1e6
    assert record["cost_usd"] == pytest.approx(expected, abs=1e-9)


def test_openai_sdk_streams_tool_call_from_anthropic(gw: Any) -> None:
    stream = oai(gw).chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "weather in Paris?"}], tools=TOOLS,
        tool_choice="required", stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    arguments = "".join(tc.function.arguments or "" for c in chunks if c.choices
                        for tc in c.choices[0].delta.tool_calls or [] if tc.function)
    assert json.loads(arguments) == {"city": "Paris"}
    names = [tc.function.name for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []
             if tc.function and tc.function.name]
    assert names == ["weather"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 9


def test_tool_result_round_trip_is_translated(gw: Any, fake_anthropic: Any) -> None:
    messages: Any = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
    ]
    oai(gw).chat.completions.create(model="claude", messages=messages, tools=TOOLS)
    sent = fake_anthropic.fake.calls[-1].body
    assert sent["messages"][1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}]}
    assert sent["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}


def test_failover_from_overloaded_deployment(gw: Any) -> None:
    raw = oai(gw).chat.completions.with_raw_response.create(model="claude-ha",
                                                            messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-aigw-deployment"] == "anthropic/claude-sonnet-4-5"
    assert raw.headers["x-aigw-attempts"] == "2"
    assert last_record(gw)["path"] == ["claude-ha:anthropic/claude-sonnet-4-5-fail-529:502",
                                      "claude-ha:anthropic/claude-sonnet-4-5:200"]


def test_overloaded_error_event_before_the_first_byte_fails_over(provider_gateway: Any, fake_anthropic: Any) -> None:
    url = fake_anthropic.url
    gw = provider_gateway({"models": [{"name": "m", "deployments": [
        {"provider": "anthropic", "model": "claude-sonnet-4-5-overloaded", "api_base": url, "id": "busy",
         "credentials": "anthropic-test"},
        {"provider": "anthropic", "model": "claude-haiku-4-5", "api_base": url, "id": "idle",
         "credentials": "anthropic-test"}]}]})
    with ant(gw).messages.stream(model="m", max_tokens=20, messages=[{"role": "user", "content": "hi"}]) as s:
        assert "".join(s.text_stream) == "Claude claude-haiku-4-5 heard: hi"
    assert last_record(gw)["path"] == ["m:busy:502", "m:idle:200"]


def test_upstream_400_reaches_openai_client_as_400(gw: Any) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(model="claude-400", messages=[{"role": "user", "content": "hi"}])
    assert "fake failure 400" in str(info.value)


def test_broken_anthropic_stream_ends_with_an_error_event(gw: Any) -> None:
    with pytest.raises(openai.APIError):
        list(oai(gw).chat.completions.create(model="claude-broken", messages=[{"role": "user", "content": "a b c"}],
                                             stream=True))
    record = last_record(gw)
    assert record["status"] == 502
    assert record["output_tokens"] > 0  # what was generated is still billed (estimated)


def test_malformed_upstream_json_is_a_502(gw: Any) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        oai(gw).chat.completions.create(model="claude-badjson", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 502


# ---- Anthropic SDK -> /v1/messages ------------------------------------------------------------------
def test_anthropic_sdk_native_passthrough(gw: Any, fake_anthropic: Any) -> None:
    system: Any = [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}]
    raw = ant(gw).messages.with_raw_response.create(
        model="claude-cache", max_tokens=100, system=system, messages=[{"role": "user", "content": "hello you"}],
        extra_body={"top_k": 5}, extra_headers={"anthropic-beta": "context-1m-2025-08-07"})
    message = raw.parse()
    assert message.content[0].type == "text"
    assert message.content[0].text == "Claude claude-sonnet-4-5-cache heard: hello you"
    assert message.stop_reason == "end_turn"
    assert message.model == "claude-cache"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens,
            message.usage.cache_creation_input_tokens) == (5 + 2 + 2, 100, 50)
    sent = fake_anthropic.fake.calls[-1].body
    assert sent["system"] == system  # cache_control survives: the client's body is sent as is
    assert sent["top_k"] == 5 and sent["model"] == "claude-sonnet-4-5-cache"
    assert fake_anthropic.fake.calls[-1].headers["anthropic-beta"] == "context-1m-2025-08-07"
    assert raw.headers["x-aigw-provider"] == "anthropic"
    assert message._request_id == raw.headers["x-request-id"]


def test_anthropic_sdk_stream_native(gw: Any) -> None:
    with ant(gw).messages.stream(model="claude-thinking", max_tokens=100,
                                 messages=[{"role": "user", "content": "one two"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Claude claude-sonnet-4-5-thinking heard: one two"
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].type == "thinking" and final.content[0].signature == "sig-123"
    assert final.usage.output_tokens == 5
    assert final.usage.input_tokens == 5 + 2
    assert final.stop_reason == "end_turn"


def test_anthropic_sdk_to_openai_deployment(gw: Any, fake_openai: Any) -> None:
    message = ant(gw).messages.create(model="gpt", max_tokens=50, system="be brief",
                                      messages=[{"role": "user", "content": "hello there"}])
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from gpt-4o-mini: you said hello there"
    sent = fake_openai.calls[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent["max_tokens"] == 50
    assert message.usage.input_tokens == 7 + 3 + 2 + 3 + 2


def test_anthropic_sdk_streams_tool_use_from_openai_deployment(gw: Any) -> None:
    with ant(gw).messages.stream(model="gpt", max_tokens=50, tools=ANTHROPIC_TOOLS,
                                 tool_choice={"type": "any"},
                                 messages=[{"role": "user", "content": "weather?"}]) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert final.stop_reason == "tool_use"
    block = final.content[0]
    assert block.type == "tool_use" and block.name == "weather" and block.input == {"city": "Paris"}
    assert final.usage.output_tokens == 9


def test_anthropic_error_envelopes(gw: Any) -> None:
    with pytest.raises(anthropic.AuthenticationError) as auth:
        ant(gw, key="sk-wrong").messages.create(model="claude", max_tokens=5,
                                                messages=[{"role": "user", "content": "x"}])
    assert auth.value.body["type"] == "error"  # type: ignore[index]
    with pytest.raises(anthropic.NotFoundError):
        ant(gw).messages.create(model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError) as bad:
        ant(gw).messages.create(model="claude", max_tokens=0, messages=[{"role": "user", "content": "x"}])
    assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_anthropic_sdk_stream_broken_upstream_raises_error_event(gw: Any) -> None:
    with pytest.raises(anthropic.APIStatusError), ant(gw).messages.stream(
            model="claude-broken", max_tokens=50, messages=[{"role": "user", "content": "a b c d"}]) as stream:
        for _ in stream:
            pass


def test_count_tokens(gw: Any) -> None:
    count = ant(gw).messages.count_tokens(model="claude", messages=[{"role": "user", "content": "hello world"}])
    assert count.input_tokens > 0


def test_provider_credentials_never_reach_clients_or_logs(provider_gateway: Any, local_aws: Any,
                                                         fake_anthropic: Any) -> None:
    from tests.conftest import put_secret

    secret = "sk-ant-SECRET-DO-NOT-LEAK"
    put_secret(local_aws, "anthropic-wrong", json.dumps({"api_key": secret}))
    gw = provider_gateway({"models": [
        {"name": "wrong-key", "deployments": [{"provider": "anthropic", "model": "claude-sonnet-4-5",
                                               "api_base": fake_anthropic.url, "credentials": "anthropic-wrong"}]},
        {"name": "no-secret", "deployments": [{"provider": "anthropic", "model": "claude-sonnet-4-5",
                                               "api_base": fake_anthropic.url, "credentials": "anthropic-absent"}]}]})
    # The upstream refused the gateway's credential, not the client's key: a 502, not a 401.
    with pytest.raises(openai.InternalServerError) as wrong:
        oai(gw).chat.completions.create(model="wrong-key", messages=[{"role": "user", "content": "hi"}])
    assert fake_anthropic.fake.calls[-1].headers["x-api-key"] == secret  # it was used upstream...
    assert wrong.value.response.headers["x-request-id"] in wrong.value.message
    with pytest.raises(anthropic.APIStatusError) as absent:
        ant(gw).messages.create(model="no-secret", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert absent.value.status_code == 502 and "anthropic-absent" not in absent.value.message
    records = [last_record(gw, 1), *gw.records][-2:]
    assert "anthropic-wrong" in (records[0]["error_detail"] or "")  # which secret to fix: the log only
    assert "anthropic-absent" in (records[1]["error_detail"] or "")
    for text in (wrong.value.response.text, absent.value.response.text, gw.log.getvalue(), json.dumps(gw.records)):
        assert secret not in text  # ...and appears nowhere else


@pytest.mark.parametrize("stream", [False, True])
def test_json_mode_on_anthropic(gw: Any, stream: bool) -> None:
    kwargs: Any = {"model": "claude", "messages": [{"role": "user", "content": "where?"}],
                   "response_format": {"type": "json_object"}}
    if stream:
        content = "".join(c.choices[0].delta.content or "" for c in oai(gw).chat.completions.create(
            stream=True, **kwargs) if c.choices)
    else:
        content = oai(gw).chat.completions.create(**kwargs).choices[0].message.content or ""
    assert json.loads(content) == {"city": "Paris"}
