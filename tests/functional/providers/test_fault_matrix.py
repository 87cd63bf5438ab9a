"""Every provider x every injected fault x streaming or not, through both SDKs: the client
always gets a well-formed answer or a well-formed error in its own API's envelope (never a
dropped connection, a parse failure or a stack trace), and the log line agrees."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.provider_fixtures import last_record

FAULTS = ["fail-429", "fail-500", "fail-503", "slow", "broken", "badjson"]
PROVIDERS = ["anthropic", "bedrock", "gemini", "azure", "openai"]
UPSTREAM = {"anthropic": "claude-sonnet-4-5", "bedrock": "anthropic.claude-3-5-haiku-20241022-v1:0",
            "gemini": "gemini-2.5-flash", "azure": "gpt-4o-mini", "openai": "gpt-4o-mini"}
EXPECTED_STATUS = {"fail-429": 429, "fail-500": 502, "fail-503": 502, "slow": 504, "badjson": 502}
# (fault, stream) pairs the fakes answer normally: they drop connections only while streaming, and
# the Gemini and Bedrock fakes send a bad JSON body only to non-streaming calls.
SUCCEEDS = {"broken": {False}, "badjson": set()}
SUCCEEDS_BY_PROVIDER = {"gemini": {"badjson": {True}}, "bedrock": {"badjson": {True}}}


def may_succeed(provider: str, fault: str, stream: bool) -> bool:
    extra = SUCCEEDS_BY_PROVIDER.get(provider, {}).get(fault, set())
    return stream in SUCCEEDS.get(fault, set()) | extra


def deployment(provider: str, fault: str, urls: dict[str, str]) -> dict[str, Any]:
    # Only the slow fault meets a short timeout: a loaded CI machine must not turn others into 504s.
    d: dict[str, Any] = {"provider": provider, "model": f"{UPSTREAM[provider]}-{fault}",
                         "timeout_s": 0.3 if fault == "slow" else 10}
    if provider == "anthropic":
        d.update(api_base=urls["anthropic"], credentials="anthropic-test")
    elif provider == "bedrock":
        d.update(api_base=urls["bedrock"], region="us-east-1")
    elif provider == "gemini":
        d.update(api_base=urls["gemini"], credentials="gemini-test")
    elif provider == "azure":
        d.update(api_base=urls["azure"], api_version="2024-10-21", credentials="azure-test")
    else:
        d.update(api_base=urls["openai"], credentials="openai-test")
    d["price"] = {"input_per_mtok": 1, "output_per_mtok": 2}
    return d


@pytest.fixture
def gw(provider_gateway: Any, fake_anthropic: Any, fake_bedrock: Any, fake_gemini: Any, fake_azure: Any,
       fake_openai: Any) -> Any:
    urls = {"anthropic": fake_anthropic.url, "bedrock": fake_bedrock.url, "gemini": fake_gemini.url,
            "azure": fake_azure.url, "openai": fake_openai.base_url}
    models = [{"name": f"{p}-{f}", "deployments": [deployment(p, f, urls)]} for p in PROVIDERS for f in FAULTS]
    return provider_gateway({"models": models, "routing": {"max_retries": 0, "backoff_base_s": 0.01,
                                                           "backoff_max_s": 0.05}}, stages=[])


def expect_well_formed_openai(gw: Any, model: str, stream: bool) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0, timeout=10)
    messages: Any = [{"role": "user", "content": "one two three four"}]
    fault = model.split("-", 1)[1]
    before = len(gw.records)
    try:
        if stream:
            chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True))
            assert chunks and chunks[-1].choices[0].finish_reason is not None
        else:
            completion = client.chat.completions.create(model=model, messages=messages)
            assert completion.choices[0].message.content
        assert may_succeed(model.split("-", 1)[0], fault, stream), f"{model} (stream={stream}) succeeded"
    except openai.APIConnectionError as exc:  # pragma: no cover - the failure this test exists for
        pytest.fail(f"{model}: connection-level failure instead of a well-formed error: {exc!r}")
    except openai.APIStatusError as exc:
        body = exc.response.json()
        assert set(body["error"]) >= {"message", "type", "code"}, body
        assert fault in EXPECTED_STATUS, f"{model} (stream={stream}): unexpected HTTP error {exc.status_code}"
        assert exc.status_code == EXPECTED_STATUS[fault], (model, exc.status_code)
        if exc.status_code == 429:
            assert exc.response.headers["retry-after"]
    except openai.APIError as exc:  # an error event after the first byte: only a stream that broke off
        assert stream and fault == "broken" and exc.message, model
        record = last_record(gw, before + 1)
        assert (record["status"], record["error_code"]) == (502, "truncated"), record


@pytest.mark.parametrize("provider", PROVIDERS)
def test_openai_sdk_gets_well_formed_answers_or_errors(gw: Any, provider: str) -> None:
    for fault in FAULTS:
        for stream in (False, True):
            expect_well_formed_openai(gw, f"{provider}-{fault}", stream)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_anthropic_sdk_gets_well_formed_answers_or_errors(gw: Any, provider: str) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0, timeout=10)
    for fault in FAULTS:
        model = f"{provider}-{fault}"
        try:
            with client.messages.stream(model=model, max_tokens=50,
                                        messages=[{"role": "user", "content": "one two three four"}]) as stream:
                final = stream.get_final_message()
            assert may_succeed(provider, fault, True), f"{model}: succeeded with {final.stop_reason!r}"
            assert final.stop_reason == "end_turn" and final.content
        except anthropic.APIConnectionError as exc:  # pragma: no cover
            pytest.fail(f"{model}: connection-level failure instead of a well-formed error: {exc!r}")
        except anthropic.APIStatusError as exc:
            assert exc.body["type"] == "error" and exc.body["error"]["message"], exc.body  # type: ignore[index]
            if exc.status_code == 200:  # an `error` event after the stream started (as Anthropic does it)
                assert fault == "broken", model
            else:
                assert fault in EXPECTED_STATUS, (model, exc.status_code)
                assert exc.status_code == EXPECTED_STATUS[fault], (model, exc.status_code)
