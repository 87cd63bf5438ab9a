"""Azure OpenAI: the OpenAI translator with Azure's URL, api-version and key header."""

from __future__ import annotations

from aigw.config.models import Deployment
from aigw.providers.azure import AzureChatTranslator
from aigw.providers.base import ChatCall, Credential
from aigw.providers.sse import SSEEvent


def call(credential: dict[str, str]) -> ChatCall:
    d = Deployment(provider="azure", model="my deployment", api_base="https://res.openai.azure.com/",
                   api_version="2024-10-21")
    return ChatCall(body={"model": "public", "messages": [{"role": "user", "content": "x"}]}, deployment=d,
                    credential=Credential(credential), request_id="r")


def test_url_version_and_key() -> None:
    spec = AzureChatTranslator().request(call({"api_key": "k"}), stream=True)
    assert spec.url == "https://res.openai.azure.com/openai/deployments/my%20deployment/chat/completions"
    assert spec.params == {"api-version": "2024-10-21"}
    assert spec.headers == {"api-key": "k"}
    assert spec.json is not None and spec.json["stream_options"] == {"include_usage": True}


def test_entra_token_is_a_bearer() -> None:
    spec = AzureChatTranslator().request(call({"azure_ad_token": "t"}), stream=False)
    assert spec.headers == {"authorization": "Bearer t"}


def test_content_filter_preamble_is_dropped() -> None:
    t = AzureChatTranslator()
    assert t.stream_event(SSEEvent(None, '{"choices":[],"prompt_filter_results":[{"prompt_index":0}]}')) == []
    assert t.stream_event(SSEEvent(None, '{"choices":[{"index":0,"delta":{"content":"a"}}]}'))
