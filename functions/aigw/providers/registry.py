"""Provider name -> adapter instance, built once per process on first use.

Adapters are imported lazily, so a function that only serves OpenAI never imports the
Bedrock or Gemini translators (cold start). New providers register one factory here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import httpx

from aigw.errors import InvalidRequest
from aigw.providers.base import ChatProvider, EmbeddingsProvider

# provider name -> "module:factory"; a factory takes the shared httpx client (and the
# registry's options) and returns a ChatProvider.
FACTORIES: dict[str, str] = {
    "openai": "aigw.providers.openai:OpenAIProvider",
    "openai-compatible": "aigw.providers.openai:OpenAIProvider",
    "mock": "aigw.providers.mock:MockProvider",
    "anthropic": "aigw.providers.anthropic:AnthropicProvider",
    "bedrock": "aigw.providers.bedrock:BedrockProvider",
    "gemini": "aigw.providers.gemini:GeminiProvider",
    "azure": "aigw.providers.azure:AzureOpenAIProvider",
}


def _load(path: str) -> Callable[..., Any]:
    module, _, attribute = path.partition(":")
    factory: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
    return factory


class ProviderRegistry:
    def __init__(self, http_client: httpx.AsyncClient, *, overrides: dict[str, Any] | None = None,
                 options: dict[str, Any] | None = None) -> None:
        self._http = http_client
        self._instances: dict[str, Any] = dict(overrides or {})
        self._options = options or {}

    def _get(self, provider: str) -> Any:
        instance = self._instances.get(provider)
        if instance is None:
            path = FACTORIES.get(provider)
            if path is None:
                raise InvalidRequest(f"provider {provider!r} is not available in this gateway build")
            factory = _load(path)
            instance = factory(self._http) if provider != "mock" else factory()
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
