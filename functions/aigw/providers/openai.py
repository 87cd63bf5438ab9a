"""OpenAI Chat Completions and Embeddings, and any server that speaks them
(`openai-compatible`: vLLM, Ollama, Groq, Together, Mistral, ...).

The client already speaks this API, so translation is nearly the identity: set the
upstream model id, always ask for usage on streams, and lift `usage` out of chunks.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from aigw.errors import UpstreamError
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatCall, ChatResult, EmbeddingsCall, EmbeddingsResult, StreamEvent
from aigw.providers.http import (
    HttpChatProvider,
    HttpRequest,
    parse_json_body,
    upstream_status_error,
)
from aigw.providers.sse import SSEEvent

OPENAI_API_BASE = "https://api.openai.com/v1"


def openai_error(status: int, body: Any, headers: httpx.Headers) -> UpstreamError:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or f"upstream returned {status}")
        return upstream_status_error(status, message, headers, code=_str(error.get("code")),
                                     type=_str(error.get("type")), param=_str(error.get("param")))
    if isinstance(error, str):
        return upstream_status_error(status, error, headers)
    return upstream_status_error(status, f"upstream returned {status}", headers)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


class OpenAIChatTranslator:
    def __init__(self) -> None:
        self._done = False

    def url(self, call: ChatCall, path: str) -> str:
        return (call.deployment.api_base or OPENAI_API_BASE).rstrip("/") + path

    def headers(self, call: ChatCall) -> dict[str, str]:
        headers = dict(call.deployment.headers)
        if call.credential is not None and call.credential.api_key:
            headers["authorization"] = f"Bearer {call.credential.api_key}"
        organization = call.credential.values.get("organization") if call.credential else None
        if organization:
            headers["openai-organization"] = organization
        return headers

    def request(self, call: ChatCall, *, stream: bool) -> HttpRequest:
        body = dict(call.body)
        body["model"] = call.deployment.model
        if stream:
            body["stream"] = True
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        return HttpRequest("POST", self.url(call, "/chat/completions"), self.headers(call), body)

    def response(self, body: Any) -> ChatResult:
        if not isinstance(body, dict) or "choices" not in body:
            raise ValueError("not a chat.completion")
        usage = body.get("usage")
        return ChatResult(body=body, usage=Usage.from_openai(usage) if isinstance(usage, dict) else None)

    def stream_event(self, event: SSEEvent) -> list[StreamEvent]:
        if event.data == "[DONE]":
            self._done = True
            return []
        chunk = json.loads(event.data)
        if not isinstance(chunk, dict):
            raise ValueError("chunk is not an object")
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": str(chunk["error"])}
            raise UpstreamError(f"upstream stream error: {error.get('message')}", status=502)
        usage = chunk.pop("usage", None)
        out: list[StreamEvent] = []
        if chunk.get("choices") or not isinstance(usage, dict):
            out.append(chunk)
        if isinstance(usage, dict):
            out.append(Usage.from_openai(usage))
        return out

    def stream_end(self) -> list[StreamEvent]:
        return []

    def error(self, status: int, body: Any, headers: httpx.Headers) -> UpstreamError:
        return openai_error(status, body, headers)


class OpenAIProvider(HttpChatProvider):
    """Chat and embeddings against an OpenAI-shaped API."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        super().__init__(client, OpenAIChatTranslator)

    async def embed(self, call: EmbeddingsCall) -> EmbeddingsResult:
        d = call.deployment
        body = dict(call.body)
        body["model"] = d.model
        translator = OpenAIChatTranslator()
        chat_call = ChatCall(body={}, deployment=d, credential=call.credential, request_id=call.request_id)
        try:
            response = await self._client.post(
                translator.url(chat_call, "/embeddings"), json=body, headers=translator.headers(chat_call),
                timeout=httpx.Timeout(d.timeout_s, connect=d.connect_timeout_s),
            )
        except httpx.TimeoutException:
            raise UpstreamError(f"upstream {d.deployment_id} timed out", status=504, retryable=True) from None
        except httpx.TransportError as exc:
            raise UpstreamError(f"cannot reach upstream {d.deployment_id}: {type(exc).__name__}", status=502,
                                retryable=True) from None
        parsed = parse_json_body(response.content)
        if response.status_code >= 400:
            raise openai_error(response.status_code, parsed, response.headers)
        if not isinstance(parsed, dict) or "data" not in parsed:
            raise UpstreamError("upstream embeddings response not understood", status=502, retryable=True)
        usage = parsed.get("usage") or {}
        return EmbeddingsResult(body=parsed, usage=Usage(input_tokens=int(usage.get("prompt_tokens") or 0)))
