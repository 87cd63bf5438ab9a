"""Azure OpenAI deployments: Azure's URL scheme, api-version and api-key header, against a
fake resource that refuses anything else."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from aigw.pricing import Usage, cost_usd
from tests.fakes.provider_fixtures import last_record


def config(url: str, api_version: str = "2024-10-21") -> dict[str, Any]:
    def model(name: str, deployment: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "deployments": [{"provider": "azure", "model": deployment, "api_base": url,
                                               "api_version": api_version, "credentials": "azure-test",
                                               "price": {"input_per_mtok": 0.15, "output_per_mtok": 0.6}, **extra}]}

    return {"models": [model("azure-mini", "my-gpt4o-mini"),
                       {"name": "azure-ha", "deployments": [
                           {"provider": "azure", "model": "eastus-fail-503", "api_base": url, "id": "eastus",
                            "api_version": api_version, "credentials": "azure-test", "price": {
                                "input_per_mtok": 0.15, "output_per_mtok": 0.6}},
                           {"provider": "azure", "model": "westeurope", "api_base": url, "id": "westeurope",
                            "api_version": api_version, "credentials": "azure-test", "price": {
                                "input_per_mtok": 0.15, "output_per_mtok": 0.6}}]}],
            "routing": {"backoff_base_s": 0.01, "backoff_max_s": 0.05}}


@pytest.fixture
def gw(provider_gateway: Any, fake_azure: Any) -> Any:
    return provider_gateway(config(fake_azure.url))


def oai(gw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)


def test_azure_url_scheme_and_key_header(gw: Any, fake_azure: Any) -> None:
    raw = oai(gw).chat.completions.with_raw_response.create(model="azure-mini",
                                                            messages=[{"role": "user", "content": "hi"}])
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello from my-gpt4o-mini: you said hi"
    call = fake_azure.fake.calls[-1]
    assert call.path == "/openai/deployments/my-gpt4o-mini/chat/completions?api-version=2024-10-21"
    assert call.headers["api-key"] == "az-test"
    assert "authorization" not in call.headers
    assert completion.usage is not None
    expected = cost_usd(Usage(completion.usage.prompt_tokens, completion.usage.completion_tokens),
                        gw.services.config.model("azure-mini").deployments[0].resolved_price)
    assert float(raw.headers["x-aigw-cost-usd"]) == pytest.approx(expected, abs=1e-8)


def test_azure_stream_drops_the_content_filter_chunk(gw: Any) -> None:
    chunks = list(oai(gw).chat.completions.create(model="azure-mini", messages=[{"role": "user", "content": "hi"}],
                                                  stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices and chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == \
        "Hello from my-gpt4o-mini: you said hi"
    assert chunks[-1].usage is not None


def test_azure_failover_between_regions(gw: Any) -> None:
    raw = oai(gw).chat.completions.with_raw_response.create(model="azure-ha",
                                                            messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-aigw-deployment"] == "westeurope"
    assert last_record(gw)["path"] == ["azure-ha:eastus:502", "azure-ha:westeurope:200"]


def test_wrong_api_version_is_a_clean_404(provider_gateway: Any, fake_azure: Any) -> None:
    gw = provider_gateway(config(fake_azure.url, api_version="1999-01-01"))
    with pytest.raises(openai.NotFoundError):
        oai(gw).chat.completions.create(model="azure-mini", messages=[{"role": "user", "content": "hi"}])


def test_anthropic_sdk_streams_through_azure(gw: Any) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    with client.messages.stream(model="azure-mini", max_tokens=20, messages=[{"role": "user", "content": "yo"}]) as s:
        text = "".join(s.text_stream)
    assert text == "Hello from my-gpt4o-mini: you said yo"
