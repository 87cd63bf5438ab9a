"""Providers reached over HTTP: one pooled httpx client, a translator per call.

This module owns transport concerns (timeouts, connection errors, status codes, SSE
framing) so translators deal only in provider wire shapes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from aigw.errors import UpstreamError
from aigw.providers.base import ChatCall, ChatResult, StreamEvent
from aigw.providers.sse import SSEEvent, iter_sse


@dataclass(slots=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    json: Mapping[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)


class ChatTranslator(Protocol):
    """OpenAI Chat Completions <-> one provider API. One instance per call (holds stream state)."""

    def request(self, call: ChatCall, *, stream: bool) -> HttpRequest: ...

    def response(self, body: Any) -> ChatResult: ...

    def stream_event(self, event: SSEEvent) -> list[StreamEvent]:
        """Translate one upstream SSE event; may return nothing, or several events."""
        ...

    def stream_end(self) -> list[StreamEvent]:
        """Events to emit once the upstream stream ends cleanly (e.g. a final usage event)."""
        ...

    def error(self, status: int, body: Any, headers: httpx.Headers) -> UpstreamError: ...


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    for name in ("retry-after-ms", "retry-after"):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            return None  # an HTTP-date: rare from model APIs; fall back to our own backoff
        return seconds / 1000 if name == "retry-after-ms" else seconds
    return None


def upstream_status_error(status: int, message: str, headers: httpx.Headers, *,
                          code: str | None = None, type: str | None = None,
                          param: str | None = None) -> UpstreamError:
    """Map an upstream HTTP failure: 4xx reach the client as is, 5xx become 502."""
    retry_after = retry_after_seconds(headers)
    if status >= 500:
        return UpstreamError(f"upstream error ({status}): {message}", status=502, upstream_status=status,
                             retryable=True, retry_after_s=retry_after)
    return UpstreamError(message, status=status, upstream_status=status, code=code, type=type, param=param,
                         retryable=status in (408, 409, 429), retry_after_s=retry_after)


def parse_json_body(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


class HttpChatProvider:
    """`ChatProvider` over HTTP for any translator."""

    def __init__(self, client: httpx.AsyncClient, translator: Callable[[], ChatTranslator]) -> None:
        self._client = client
        self._translator = translator
        self._urls: dict[str, httpx.URL] = {}

    def _build(self, spec: HttpRequest, call: ChatCall) -> httpx.Request:
        d = call.deployment
        timeout = httpx.Timeout(d.timeout_s, connect=d.connect_timeout_s)
        url = self._urls.get(spec.url)
        if url is None:  # parsing a URL string costs about as much as the rest of building the request
            url = httpx.URL(spec.url)
            if len(self._urls) < 1024:  # upstream URLs come from the config: a small, fixed set
                self._urls[spec.url] = url
        return self._client.build_request(
            spec.method, url, headers=spec.headers, json=spec.json, params=spec.params or None,
            timeout=timeout,
        )

    async def complete(self, call: ChatCall) -> ChatResult:
        translator = self._translator()
        request = self._build(translator.request(call, stream=False), call)
        try:
            response = await self._client.send(request)
        except httpx.TimeoutException:
            raise _timeout(call) from None
        except httpx.TransportError as exc:
            raise _connection(call, exc) from None
        body = parse_json_body(response.content)
        if response.status_code >= 400:
            raise translator.error(response.status_code, body, response.headers)
        if body is None:
            raise UpstreamError("upstream returned a body that is not JSON", status=502, retryable=True,
                                upstream_status=response.status_code)
        try:
            return translator.response(body)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise UpstreamError(f"upstream response not understood: {type(exc).__name__}", status=502,
                                retryable=True) from None

    async def stream(self, call: ChatCall) -> AsyncIterator[StreamEvent]:
        translator = self._translator()
        request = self._build(translator.request(call, stream=True), call)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise _timeout(call) from None
        except httpx.TransportError as exc:
            raise _connection(call, exc) from None
        try:
            if response.status_code >= 400:
                content = await response.aread()
                raise translator.error(response.status_code, parse_json_body(content), response.headers)
            try:
                async for event in iter_sse(response.aiter_lines()):
                    for item in translator.stream_event(event):
                        yield item
                for item in translator.stream_end():
                    yield item
            except httpx.TimeoutException:
                raise UpstreamError("upstream stream stalled (read timeout)", status=504, retryable=True) from None
            except httpx.TransportError as exc:
                raise UpstreamError(f"upstream stream broke: {type(exc).__name__}", status=502,
                                    retryable=True) from None
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise UpstreamError(f"upstream stream not understood: {type(exc).__name__}", status=502,
                                    retryable=True) from None
        finally:
            await response.aclose()


def _timeout(call: ChatCall) -> UpstreamError:
    return UpstreamError(f"upstream {call.deployment.deployment_id} timed out", status=504, retryable=True)


def _connection(call: ChatCall, exc: Exception) -> UpstreamError:
    return UpstreamError(f"cannot reach upstream {call.deployment.deployment_id}: {type(exc).__name__}",
                         status=502, retryable=True)
