"""POST /v1/chat/completions end to end: the official openai SDK -> gateway on loopback ->
a fake OpenAI upstream speaking the real wire format."""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx
import openai
import pytest

from aigw.pricing import Usage, builtin_price, cost_usd


def config(base_url: str, **settings: Any) -> dict[str, Any]:
    def model(name: str, upstream: str, **extra: Any) -> dict[str, Any]:
        deployment = {"provider": "openai", "model": upstream, "api_base": base_url, "credentials": "openai-test",
                      **extra}
        return {"name": name, "deployments": [deployment]}

    return {
        "models": [
            model("gpt-4o-mini", "gpt-4o-mini"),
            model("gpt-4o-mini-nousage", "gpt-4o-mini-nousage"),
            model("broken", "gpt-4o-mini-broken"),
            {"name": "compat", "deployments": [{"provider": "openai-compatible", "model": "llama-3-8b",
                                                "api_base": base_url,
                                                "price": {"input_per_mtok": 0.2, "output_per_mtok": 0.4}}]},
            {"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]},
        ],
        "settings": settings,
    }


@pytest.fixture
def gw(make_gateway: Any, fake_openai: Any) -> Any:
    return make_gateway(config(fake_openai.base_url))


def client(gw: Any, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0, **kwargs)


MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there gateway"}]


def expected_cost(prompt: int, completion: int, model: str = "gpt-4o-mini") -> float:
    price = builtin_price(model)
    assert price is not None
    return cost_usd(Usage(input_tokens=prompt, output_tokens=completion), price)


def test_non_streaming_exact_shape_usage_cost_and_headers(gw: Any, fake_openai: Any) -> None:
    raw = client(gw).chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello from gpt-4o-mini: you said hello there gateway"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7 + 3 + 2 + 3 + 3, 8)
    headers = raw.headers
    assert headers["x-request-id"].startswith("req_")
    assert headers["x-aigw-provider"] == "openai"
    assert headers["x-aigw-deployment"] == "openai/gpt-4o-mini"
    assert float(headers["x-aigw-cost-usd"]) == pytest.approx(expected_cost(18, 8), abs=1e-8)
    assert float(headers["x-aigw-overhead-ms"]) >= 0
    upstream = fake_openai.calls[-1]
    assert upstream.headers["authorization"] == "Bearer sk-test-upstream"
    assert "stream" not in upstream.body
    [record] = [r for r in gw.records if r["request_id"] == headers["x-request-id"]]
    assert record["cost_usd"] == pytest.approx(expected_cost(18, 8), abs=1e-9)
    assert (record["input_tokens"], record["output_tokens"], record["status"]) == (18, 8, 200)
    assert record["team"] == "dev" and record["key_id"].startswith("key_")
    assert gw.key not in gw.log.getvalue()  # the key never reaches the log


def test_stream_without_include_usage_strips_usage_but_prices_it(gw: Any, fake_openai: Any) -> None:
    chunks = list(client(gw).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from gpt-4o-mini: you said hello there gateway"
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert fake_openai.calls[-1].body["stream_options"] == {"include_usage": True}
    record = gw.last_record(1)
    assert (record["input_tokens"], record["output_tokens"]) == (18, 8)
    assert record["cost_usd"] == pytest.approx(expected_cost(18, 8), abs=1e-9)
    assert record["ttft_ms"] is not None and record["stream"] is True


def test_stream_with_include_usage_ends_with_usage_chunk(gw: Any) -> None:
    chunks = list(client(gw).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (18, 8)
    assert all(c.usage is None for c in chunks[:-1])



def test_a_paced_upstream_s_words_reach_the_client_as_they_come(gw: Any, fake_openai: Any) -> None:
    """Frames of one upstream read go out together; none waits for the upstream's next read:
    with the upstream pausing between words, each word arrives on its own, a pause apart."""
    fake_openai.fake.word_delay_s = 0.12
    arrivals: list[tuple[float, str]] = []
    for c in client(gw).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
        if c.choices and c.choices[0].delta.content:
            arrivals.append((time.monotonic(), c.choices[0].delta.content))
    assert "".join(text for _, text in arrivals) == "Hello from gpt-4o-mini: you said hello there gateway"
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(arrivals)]
    assert len(gaps) >= 5 and min(gaps) > 0.06, gaps  # held frames would arrive together (gap ~0)

async def test_async_client_streaming_and_not(gw: Any) -> None:
    async with openai.AsyncOpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0) as aclient:
        completion = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert completion.choices[0].finish_reason == "stop"
        stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                                       stream_options={"include_usage": True})
        chunks = [c async for c in stream]
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 26


TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object",
                                                          "properties": {"city": {"type": "string"}}}}}]


def test_tools_non_streaming_and_streamed_argument_deltas(gw: Any, fake_openai: Any) -> None:
    c = client(gw)
    completion = c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS,
                                           tool_choice="required")
    call = completion.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')
    assert fake_openai.calls[-1].body["tools"] == TOOLS
    arguments = ""
    for chunk in c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS,
                                           tool_choice="required", stream=True):
        for delta_call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            arguments += delta_call.function.arguments or ""
    assert arguments == '{"city": "Paris"}'
    # A tool result goes back upstream untouched.
    follow_up = [*MESSAGES, completion.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
    c.chat.completions.create(model="gpt-4o-mini", messages=follow_up)
    assert fake_openai.calls[-1].body["messages"][-1] == {"role": "tool", "tool_call_id": call.id, "content": "sunny"}


def test_unknown_fields_multimodal_response_format_and_n_pass_through(gw: Any, fake_openai: Any) -> None:
    content = [{"type": "text", "text": "what is this"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]
    completion = client(gw).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": content}], n=2, seed=7, temperature=0.2,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        extra_body={"custom_vendor_field": {"nested": [1, 2, 3]}, "logit_bias": {"50256": -100}})
    assert len(completion.choices) == 2
    sent = fake_openai.calls[-1].body
    assert sent["messages"][0]["content"] == content
    assert sent["custom_vendor_field"] == {"nested": [1, 2, 3]}
    assert sent["response_format"]["type"] == "json_schema"
    assert (sent["n"], sent["seed"], sent["temperature"], sent["logit_bias"]) == (2, 7, 0.2, {"50256": -100})


def test_openai_compatible_and_mock_providers(gw: Any, fake_openai: Any) -> None:
    c = client(gw)
    completion = c.chat.completions.create(model="compat", messages=MESSAGES)
    assert completion.model == "llama-3-8b"
    assert fake_openai.calls[-1].body["model"] == "llama-3-8b"
    assert gw.records[-1]["cost_usd"] == pytest.approx((18 * 0.2 + 8 * 0.4) / 1e6)
    mock = c.chat.completions.create(model="mock-fast", messages=MESSAGES, max_tokens=4)
    assert mock.choices[0].finish_reason == "length"
    assert mock.usage is not None and 0 < mock.usage.completion_tokens <= 4


def test_upstream_without_usage_is_counted_with_tiktoken(gw: Any) -> None:
    client(gw).chat.completions.create(model="gpt-4o-mini-nousage", messages=MESSAGES)
    record = gw.last_record(1)
    assert record["usage_estimated"] is True
    assert record["input_tokens"] > 0 and record["output_tokens"] > 0 and record["cost_usd"] > 0


def test_models_lists_only_what_the_key_may_use(gw: Any) -> None:
    everything = {m.id for m in client(gw).models.list()}
    assert {"gpt-4o-mini", "compat", "mock-fast"} <= everything
    narrow = gw.create_key(models=["gpt-4o*"])
    listed = {m.id for m in openai.OpenAI(base_url=gw.base_url, api_key=narrow).models.list()}
    assert listed == {"gpt-4o-mini", "gpt-4o-mini-nousage"}


def test_embeddings_openai_and_mock(make_gateway: Any, fake_openai: Any) -> None:
    gw = make_gateway({"models": [
        {"name": "text-embedding-3-small", "mode": "embedding", "deployments": [
            {"provider": "openai", "model": "text-embedding-3-small", "api_base": fake_openai.base_url,
             "credentials": "openai-test"}]},
        {"name": "mock-embed", "mode": "embedding", "deployments": [{"provider": "mock", "model": "mock-embed"}]},
    ]})
    c = client(gw)
    result = c.embeddings.create(model="text-embedding-3-small", input=["one two", "three"])
    assert [d.index for d in result.data] == [0, 1]
    assert result.usage.prompt_tokens == 3
    assert gw.records[-1]["cost_usd"] == pytest.approx(3 * 0.02 / 1e6)
    vectors = c.embeddings.create(model="mock-embed", input="same text").data[0].embedding
    again = c.embeddings.create(model="mock-embed", input="same text").data[0].embedding
    assert vectors == again and len(vectors) == 256


def test_health(gw: Any) -> None:
    response = httpx.get(gw.url + "/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_models_answer_the_anthropic_sdk_in_its_own_shape(gw: Any) -> None:
    import anthropic

    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    assert {m.id for m in client.models.list()} >= {"gpt-4o-mini", "compat", "mock-fast"}
    with pytest.raises(anthropic.AuthenticationError) as failure:
        anthropic.Anthropic(base_url=gw.url, api_key="sk-aigw-wrong", max_retries=0).models.list()
    assert failure.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
