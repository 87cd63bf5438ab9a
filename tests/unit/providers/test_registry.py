"""One translator per (client API, provider API), chosen from the registry's table."""

from __future__ import annotations

import httpx
import pytest

from aigw.config.models import Deployment
from aigw.providers.anthropic import AnthropicTranslator
from aigw.providers.anthropic_native import AnthropicNativeTranslator
from aigw.providers.base import ChatCall, Credential, EmbeddingsCall, NativeRequest
from aigw.providers.http import HttpChatProvider
from aigw.providers.openai import OpenAIProvider
from aigw.providers.registry import PROVIDERS, TRANSLATORS, ProviderRegistry, translators_for


def test_every_provider_with_http_has_its_canonical_translator() -> None:
    for name, spec in PROVIDERS.items():
        if spec.kind == "http":
            assert "openai" in translators_for(name), name
    assert ("anthropic", "anthropic") in TRANSLATORS


def test_the_client_api_picks_the_translator() -> None:
    provider = ProviderRegistry(httpx.AsyncClient()).chat("anthropic")
    assert isinstance(provider, HttpChatProvider)
    d = Deployment(provider="anthropic", model="claude")
    canonical = ChatCall({"messages": []}, d, None, "r")
    native = ChatCall({"messages": []}, d, None, "r", native=NativeRequest("messages", {"messages": []}))
    assert isinstance(provider._translator(canonical), AnthropicTranslator)
    assert isinstance(provider._translator(native), AnthropicNativeTranslator)
    # A client API with no pair of its own for this provider goes through the canonical body.
    gemini = ProviderRegistry(httpx.AsyncClient()).chat("gemini")
    assert type(gemini._translator(native)).__name__ == "GeminiTranslator"  # type: ignore[attr-defined]


def test_an_http_provider_needs_the_canonical_translator() -> None:
    with pytest.raises(ValueError, match="canonical"):
        HttpChatProvider(httpx.AsyncClient(), {"anthropic": AnthropicNativeTranslator})


async def test_embeddings_are_sent_without_a_chat_call() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"object": "list", "data": [{"embedding": [0.1]}],
                                         "usage": {"prompt_tokens": 4}})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    provider = OpenAIProvider(client, translators_for("openai"))
    d = Deployment(provider="openai", model="text-embedding-3-small", api_base="https://up.example/v1")
    result = await provider.embed(EmbeddingsCall({"input": "hi"}, d, Credential({"api_key": "sk-embed-key-123456"}),
                                                 "r"))
    assert result.usage is not None and result.usage.input_tokens == 4
    assert str(seen[0].url) == "https://up.example/v1/embeddings"
    assert seen[0].headers["authorization"] == "Bearer sk-embed-key-123456"
