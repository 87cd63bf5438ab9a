"""Gemini deployments behind both front doors, against a fake Gemini API (real paths,
`alt=sse` stream, `x-goog-api-key`, Google's error envelope)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from aigw.pricing import Usage, builtin_price, cost_usd
from tests.fakes.provider_fixtures import last_record

TOOLS: Any = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]


def config(url: str) -> dict[str, Any]:
    def model(name: str, upstream: str) -> dict[str, Any]:
        return {"name": name, "deployments": [{"provider": "gemini", "model": upstream, "api_base": url,
                                               "credentials": "gemini-test"}]}

    return {"models": [model("flash", "gemini-2.5-flash"), model("flash-cache", "gemini-2.5-flash-cache"),
                       model("flash-thinking", "gemini-2.5-flash-thinking"),
                       model("flash-broken", "gemini-2.5-flash-broken"),
                       model("flash-badjson", "gemini-2.5-flash-badjson"),
                       {"name": "flash-ha", "deployments": [
                           {"provider": "gemini", "model": "gemini-2.5-flash-fail-429", "api_base": url,
                            "credentials": "gemini-test", "id": "exhausted"},
                           {"provider": "gemini", "model": "gemini-2.5-flash", "api_base": url,
                            "credentials": "gemini-test", "id": "fresh"}]}],
            "routing": {"backoff_base_s": 0.01, "backoff_max_s": 0.05}}


@pytest.fixture
def gw(provider_gateway: Any, fake_gemini: Any) -> Any:
    return provider_gateway(config(fake_gemini.url))


def oai(gw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)


def flash_cost(usage: Usage) -> float:
    price = builtin_price("gemini-2.5-flash")
    assert price is not None
    return cost_usd(usage, price)


def test_generate_content(gw: Any, fake_gemini: Any) -> None:
    raw = oai(gw).chat.completions.with_raw_response.create(
        model="flash", messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}],
        max_tokens=64, temperature=0.2)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Gemini gemini-2.5-flash heard: hi there"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (9, 5)
    assert float(raw.headers["x-aigw-cost-usd"]) == pytest.approx(flash_cost(Usage(9, 5)), abs=1e-8)
    sent = fake_gemini.fake.calls[-1]
    assert sent.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert sent.headers["x-goog-api-key"] == "gm-test"
    assert sent.body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert sent.body["generationConfig"] == {"maxOutputTokens": 64, "temperature": 0.2}


def test_stream_with_cached_prompt_tokens(gw: Any, fake_gemini: Any) -> None:
    chunks = list(oai(gw).chat.completions.create(model="flash-cache", messages=[{"role": "user", "content": "a b"}],
                                                  stream=True, stream_options={"include_usage": True}))
    assert fake_gemini.fake.calls[-1].path.endswith(":streamGenerateContent?alt=sse")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Gemini gemini-2.5-flash-cache heard: a b"
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens == 27 and usage.completion_tokens == 5
    record = last_record(gw)
    assert (record["input_tokens"], record["cached_tokens"]) == (27, 20)  # cached is within the prompt count
    expected = (7 * 0.30 + 20 * 0.075 + 5 * 2.50) / 1e6  # gemini-2.5-flash: uncached, cached, output rates
    assert record["cost_usd"] == pytest.approx(expected, abs=1e-10)


def test_thinking_tokens_are_billed_as_output(gw: Any) -> None:
    completion = oai(gw).chat.completions.create(model="flash-thinking", messages=[{"role": "user", "content": "x"}])
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4 + 7
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 7
    assert completion.choices[0].message.content == "Gemini gemini-2.5-flash-thinking heard: x"


def test_function_call_and_response_round_trip(gw: Any, fake_gemini: Any) -> None:
    chunks = list(oai(gw).chat.completions.create(model="flash", messages=[{"role": "user", "content": "weather"}],
                                                  tools=TOOLS, tool_choice="required", stream=True))
    calls = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert len(calls) == 1 and calls[0].function is not None
    assert json.loads(calls[0].function.arguments or "") == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]
    messages: Any = [
        {"role": "user", "content": "weather"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": calls[0].id, "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": '{"sky": "clear"}'},
    ]
    oai(gw).chat.completions.create(model="flash", messages=messages, tools=TOOLS)
    sent = fake_gemini.fake.calls[-1].body
    assert sent["contents"][1] == {"role": "model", "parts": [{"functionCall": {"name": "weather",
                                                                                "args": {"city": "Paris"}}}]}
    assert sent["contents"][2] == {"role": "user", "parts": [{"functionResponse": {"name": "weather",
                                                                                   "response": {"sky": "clear"}}}]}


def test_resource_exhausted_fails_over_using_retry_info(gw: Any) -> None:
    raw = oai(gw).chat.completions.with_raw_response.create(model="flash-ha",
                                                            messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-aigw-deployment"] == "fresh"
    assert last_record(gw)["path"] == ["flash-ha:exhausted:429", "flash-ha:fresh:200"]


def test_broken_stream_and_bad_json(gw: Any) -> None:
    with pytest.raises(openai.APIError):
        list(oai(gw).chat.completions.create(model="flash-broken", messages=[{"role": "user", "content": "a b c d"}],
                                             stream=True))
    assert last_record(gw)["status"] == 502
    with pytest.raises(openai.APIStatusError) as info:
        oai(gw).chat.completions.create(model="flash-badjson", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 502


def test_anthropic_sdk_through_gemini(gw: Any) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    message = client.messages.create(model="flash", max_tokens=20, messages=[{"role": "user", "content": "yo"}])
    assert message.content[0].type == "text"
    assert message.content[0].text == "Gemini gemini-2.5-flash heard: yo"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (6, 4)
