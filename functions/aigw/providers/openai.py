"""OpenAI Chat Completions and Embeddings, and any server that speaks them
(`openai-compatible`: vLLM, Ollama, Groq, Together, Mistral, ...).

The client already speaks this API, so translation is nearly the identity: set the
upstream model id, always ask for usage on streams, and lift `usage` out of chunks.
"""

from __future__ import annotations

from typing import Any

import httpx

from aigw.config.models import Deployment
from aigw.errors import UpstreamError, stream_truncated
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatCall, ChatResult, Credential, EmbeddingsCall, EmbeddingsResult, StreamEvent
from aigw.providers.http import (
    HttpChatProvider,
    HttpRequest,
    parse_json_body,
    upstream_status_error,
    with_call_context,
)
from aigw.providers.sse import SSEEvent, loads
from aigw.providers.usage import count, openai_usage

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


def api_url(deployment: Deployment, path: str) -> str:
    return (deployment.api_base or OPENAI_API_BASE).rstrip("/") + path


def api_headers(deployment: Deployment, credential: Credential | None) -> dict[str, str]:
    headers = dict(deployment.headers)
    if credential is not None and credential.api_key:
        headers["authorization"] = f"Bearer {credential.api_key}"
    organization = credential.values.get("organization") if credential else None
    if organization:
        headers["openai-organization"] = organization
    return headers


class OpenAIChatTranslator:
    """Nearly the identity. A stream is complete at `data: [DONE]`, or once every choice it
    opened has a finish_reason (some compatible servers never send [DONE]); anything short of
    that is a truncated answer."""

    def __init__(self) -> None:
        self._done = False
        self._open: set[int] = set()  # choice indices seen without a finish_reason yet
        self._finished: set[int] = set()

    def url(self, call: ChatCall, path: str) -> str:
        return api_url(call.deployment, path)

    def headers(self, call: ChatCall) -> dict[str, str]:
        return api_headers(call.deployment, call.credential)

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
        if not isinstance(body, dict) or not isinstance(body.get("choices"), list) or not body["choices"]:
            raise ValueError("not a chat.completion")
        if not all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in body["choices"]):
            raise ValueError("a choice has no message")
        usage = openai_usage(body.get("usage"))
        if usage is not None and usage.openai is None and "usage" in body:
            body = {**body, "usage": usage.to_openai()}
        return ChatResult(body=body, usage=usage)

    def stream_event(self, event: SSEEvent) -> list[StreamEvent]:
        data = event.data
        if data[:1] != "{" and data.strip() == "[DONE]":  # (strip copies: not for every chunk)
            self._done = True
            return []
        chunk = loads(data)
        if not isinstance(chunk, dict):
            raise ValueError("chunk is not an object")
        if "error" in chunk:
            error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": str(chunk["error"])}
            raise UpstreamError(f"upstream stream error: {error.get('message')}", status=502)
        choices = chunk.get("choices")
        if choices is not None and not isinstance(choices, list):
            raise ValueError("choices is not a list")
        for choice in choices or ():
            if not isinstance(choice, dict):
                raise ValueError("a choice is not an object")
            index = choice.get("index", 0)
            if choice.get("finish_reason"):
                self._finished.add(index)
                self._open.discard(index)
            elif index not in self._finished:
                self._open.add(index)
        usage = chunk.pop("usage", None)
        if usage is None:
            return [chunk]
        out: list[StreamEvent] = []
        if choices or not isinstance(usage, dict):
            out.append(chunk)
        parsed = openai_usage(usage)
        if parsed is not None:
            out.append(parsed)
        return out

    def ended(self) -> bool:
        return self._done

    def stream_end(self) -> list[StreamEvent]:
        if not self._done and (self._open or not self._finished):
            raise stream_truncated("[DONE] or a finish_reason on every choice")
        return []

    def error(self, status: int, body: Any, headers: httpx.Headers) -> UpstreamError:
        return openai_error(status, body, headers)


class OpenAIProvider(HttpChatProvider):
    """Chat and embeddings against an OpenAI-shaped API."""

    async def embed(self, call: EmbeddingsCall) -> EmbeddingsResult:
        d = call.deployment
        body = dict(call.body)
        body["model"] = d.model
        try:
            response = await self._client.post(
                api_url(d, "/embeddings"), json=body, headers=api_headers(d, call.credential),
                timeout=httpx.Timeout(d.timeout_s, connect=d.connect_timeout_s),
            )
        except httpx.TimeoutException:
            raise UpstreamError(f"upstream {d.deployment_id} timed out", status=504, retryable=True) from None
        except httpx.TransportError as exc:
            raise UpstreamError(f"cannot reach upstream {d.deployment_id}: {type(exc).__name__}", status=502,
                                retryable=True) from None
        parsed = parse_json_body(response.content)
        if response.status_code >= 400:
            raise with_call_context(openai_error(response.status_code, parsed, response.headers), d,
                                    call.request_id)
        if not isinstance(parsed, dict) or not isinstance(parsed.get("data"), list):
            raise UpstreamError("upstream embeddings response not understood", status=502, retryable=True,
                                code="upstream_invalid_response")
        usage = parsed.get("usage")
        prompt = count(usage.get("prompt_tokens")) if isinstance(usage, dict) else 0
        return EmbeddingsResult(body=parsed, usage=Usage(input_tokens=prompt))
