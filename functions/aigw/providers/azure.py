"""Azure OpenAI: the OpenAI translator with Azure's URL scheme and key header.

    POST {api_base}/openai/deployments/{model}/chat/completions?api-version={api_version}
    api-key: <key>

`model` is the Azure deployment name; `api_base` the resource endpoint
(https://<resource>.openai.azure.com); `api_version` is required by the config schema.
A credential with `azure_ad_token` instead of `api_key` is sent as a bearer token.
Streams drop Azure's leading content-filter chunk (no choices, `prompt_filter_results`).
"""

from __future__ import annotations

from urllib.parse import quote

from aigw.providers.base import ChatCall, StreamEvent
from aigw.providers.http import HttpRequest
from aigw.providers.openai import OpenAIChatTranslator
from aigw.providers.sse import SSEEvent


class AzureChatTranslator(OpenAIChatTranslator):
    def url(self, call: ChatCall, path: str) -> str:
        d = call.deployment
        return f"{(d.api_base or '').rstrip('/')}/openai/deployments/{quote(d.model, safe='')}{path}"

    def headers(self, call: ChatCall) -> dict[str, str]:
        headers = dict(call.deployment.headers)
        credential = call.credential
        if credential is not None and credential.api_key:
            headers["api-key"] = credential.api_key
        elif credential is not None and credential.values.get("azure_ad_token"):
            headers["authorization"] = f"Bearer {credential.values['azure_ad_token']}"
        return headers

    def request(self, call: ChatCall, *, stream: bool) -> HttpRequest:
        spec = super().request(call, stream=stream)
        spec.params["api-version"] = call.deployment.api_version or ""
        return spec

    def stream_event(self, event: SSEEvent) -> list[StreamEvent]:
        # Azure opens a stream with a chunk of content-filter annotations and no choices
        # (`prompt_filter_results`): not part of the OpenAI stream, so not for the client.
        return [e for e in super().stream_event(event)
                if not (isinstance(e, dict) and not e.get("choices") and "prompt_filter_results" in e)]
