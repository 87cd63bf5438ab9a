"""Provider name -> adapter instance, built once per process on first use; and the table of
translators, one per (client API, provider API) pair.

Adapters and translators are imported lazily, so a function that only serves OpenAI never
imports the Bedrock or Gemini code (cold start). Every front door's request also has a
canonical OpenAI Chat Completions body, so a pair missing from `TRANSLATORS` uses the
("openai", provider) translator; a pair that is present (Anthropic Messages to an Anthropic
deployment) speaks the client's own API end to end, with no round trip through the OpenAI
shape. New providers register one adapter and their translators here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from aigw.errors import InvalidRequest
from aigw.providers.base import ChatProvider, EmbeddingsProvider

CANONICAL_API = "openai"


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """`path` is "module:factory". An "http" factory takes the shared httpx client and its
    translators by client API; "boto" takes the httpx client only (unused); "local" nothing."""

    path: str
    kind: Literal["http", "boto", "local"] = "http"


PROVIDERS: dict[str, ProviderSpec] = {
    "openai": ProviderSpec("aigw.providers.openai:OpenAIProvider"),
    "openai-compatible": ProviderSpec("aigw.providers.openai:OpenAIProvider"),
    "azure": ProviderSpec("aigw.providers.http:HttpChatProvider"),
    "anthropic": ProviderSpec("aigw.providers.http:HttpChatProvider"),
    "gemini": ProviderSpec("aigw.providers.http:HttpChatProvider"),
    "bedrock": ProviderSpec("aigw.providers.bedrock:BedrockProvider", "boto"),
    "mock": ProviderSpec("aigw.providers.mock:MockProvider", "local"),
}

# (client API, provider) -> "module:Translator class"; one instance per upstream call.
TRANSLATORS: dict[tuple[str, str], str] = {
    ("openai", "openai"): "aigw.providers.openai:OpenAIChatTranslator",
    ("openai", "openai-compatible"): "aigw.providers.openai:OpenAIChatTranslator",
    ("openai", "azure"): "aigw.providers.azure:AzureChatTranslator",
    ("openai", "anthropic"): "aigw.providers.anthropic:AnthropicTranslator",
    ("anthropic", "anthropic"): "aigw.providers.anthropic_native:AnthropicNativeTranslator",
    ("openai", "gemini"): "aigw.providers.gemini:GeminiTranslator",
}


def _load(path: str) -> Callable[..., Any]:
    module, _, attribute = path.partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    return factory


def translators_for(provider: str) -> Mapping[str, Callable[[], Any]]:
    """Client API -> translator class, for one provider API (the canonical one always present)."""
    return {client: _load(path) for (client, name), path in TRANSLATORS.items() if name == provider}


class ProviderRegistry:
    def __init__(self, http_client: httpx.AsyncClient, *, overrides: dict[str, Any] | None = None) -> None:
        self._http = http_client
        self._instances: dict[str, Any] = dict(overrides or {})

    def _get(self, provider: str) -> Any:
        instance = self._instances.get(provider)
        if instance is None:
            spec = PROVIDERS.get(provider)
            if spec is None:
                raise InvalidRequest(f"provider {provider!r} is not available in this gateway build")
            factory = _load(spec.path)
            if spec.kind == "http":
                instance = factory(self._http, translators_for(provider))
            elif spec.kind == "boto":
                instance = factory(self._http)
            else:
                instance = factory()
            self._instances[provider] = instance
        return instance

    def chat(self, provider: str) -> ChatProvider:
        provider_instance: ChatProvider = self._get(provider)
        return provider_instance

    def embeddings(self, provider: str) -> EmbeddingsProvider:
        instance = self._get(provider)
        if not isinstance(instance, EmbeddingsProvider):
            raise InvalidRequest(f"provider {provider!r} does not serve embeddings")
        return instance
