"""Providers reached over HTTP: one pooled httpx client, a translator per call.

This module owns transport concerns (timeouts, connection errors, status codes, SSE
framing) so translators deal only in provider wire shapes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from aigw.config.models import Deployment
from aigw.errors import TRUNCATED, GatewayError, UpstreamError
from aigw.providers.base import CAUGHT_UP, ChatCall, ChatResult, StreamEvent, StreamItem
from aigw.providers.sse import SSEEvent, SSEParser, loads
from aigw.providers.upstream_client import UpstreamClient, iter_body
from aigw.providers.wire import Answer, Streamed


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
        """Events to emit once the upstream stream ends (e.g. a final usage event); raises
        `errors.stream_truncated` if the protocol's end was not reached."""
        ...

    def ended(self) -> bool:
        """The protocol's terminal event was seen ([DONE], message_stop...): read no further."""
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


AUTH_FAILED = "upstream_auth_failed"


def upstream_status_error(status: int, message: str, headers: httpx.Headers, *,
                          code: str | None = None, type: str | None = None,
                          param: str | None = None) -> UpstreamError:
    """Map an upstream HTTP failure: 4xx reach the client as is, 5xx become 502.

    401 and 403 are about the gateway's own credential, not the client's key: the client gets
    a 502 with a plain message (an SDK must not tell its user their key is wrong) and what the
    upstream said goes to the log only (`detail`, redacted like everything else). Not retried:
    the same credential would be refused again."""
    retry_after = retry_after_seconds(headers)
    if status in (401, 403):
        return UpstreamError("the upstream provider refused the gateway's credentials for this deployment",
                             status=502, upstream_status=status, code=AUTH_FAILED,
                             detail=f"upstream answered {status}: {message}")
    if status >= 500:
        return UpstreamError(f"upstream error ({status}): {message}", status=502, upstream_status=status,
                             retryable=True, retry_after_s=retry_after)
    return UpstreamError(message, status=status, upstream_status=status, code=code, type=type, param=param,
                         retryable=status in (408, 409, 429), retry_after_s=retry_after)


def with_call_context(exc: UpstreamError, deployment: Deployment, request_id: str) -> UpstreamError:
    """Add what the client and the operator need to an upstream credential failure: the request
    id in the message, and in the log-only detail which secret to fix and how."""
    if exc.code != AUTH_FAILED:
        return exc
    from aigw.credentials import secret_name

    if deployment.credentials:
        hint = (f"deployment {deployment.deployment_id} uses credential {deployment.credentials!r}: check the value "
                f"of secret {secret_name(deployment.credentials)} (aws secretsmanager put-secret-value)")
    else:
        hint = f"deployment {deployment.deployment_id}: check the function role's access to the provider"
    return UpstreamError(f"{exc.message} (request {request_id}); the gateway's operators can find the cause in "
                         "its log", status=exc.status, upstream_status=exc.upstream_status, code=exc.code,
                         retryable=exc.retryable, retry_after_s=exc.retry_after_s,
                         detail=f"{exc.detail}; {hint}")


def not_understood(what: str, exc: BaseException) -> UpstreamError:
    """An upstream answer the translator could not read (cut, garbage, wrong types): a clean 502."""
    return UpstreamError(f"upstream {what} not understood: {type(exc).__name__}", status=502, retryable=True,
                         code="upstream_invalid_response")


def parse_json_body(content: bytes) -> Any:
    try:
        return loads(content) if content else None
    except ValueError:
        return None


TranslatorFactory = Callable[[], ChatTranslator]
# The client APIs a call can come from, by `NativeRequest.api` (front doors name it either way).
CLIENT_APIS: dict[str, str] = {"messages": "anthropic", "anthropic": "anthropic"}


def client_api(call: ChatCall) -> str:
    """The API the client spoke: "openai" (the canonical body) unless it sent its own body."""
    return CLIENT_APIS.get(call.native.api, "openai") if call.native is not None else "openai"


class HttpChatProvider:
    """`ChatProvider` over HTTP: per call, the translator for (the client's API, this provider's
    API) from the registry's table, else the canonical OpenAI-shaped one."""

    marks_caught_up = True  # its streams yield CAUGHT_UP when asked (ChatCall.caught_up)

    def __init__(self, client: httpx.AsyncClient, translators: Mapping[str, TranslatorFactory]) -> None:
        if "openai" not in translators:
            raise ValueError("an HTTP provider needs the translator for the canonical (openai) body")
        self._client = client
        self._translators = dict(translators)
        self._urls: dict[str, httpx.URL] = {}
        self._timeouts: dict[tuple[float, float], httpx.Timeout] = {}

    def _translator(self, call: ChatCall) -> ChatTranslator:
        factory = self._translators.get(client_api(call)) or self._translators["openai"]
        return factory()

    def _target(self, spec: HttpRequest, call: ChatCall) -> tuple[httpx.URL, httpx.Timeout]:
        d = call.deployment
        timeout = self._timeouts.get((d.timeout_s, d.connect_timeout_s))
        if timeout is None:  # httpx.Timeout is immutable; one per distinct pair in the config
            timeout = httpx.Timeout(d.timeout_s, connect=d.connect_timeout_s)
            if len(self._timeouts) < 1024:
                self._timeouts[(d.timeout_s, d.connect_timeout_s)] = timeout
        url = self._urls.get(spec.url)
        if url is None:  # parsing a URL string costs about as much as the rest of building the request
            url = httpx.URL(spec.url)
            if len(self._urls) < 1024:  # upstream URLs come from the config: a small, fixed set
                self._urls[spec.url] = url
        return url, timeout

    def _build(self, spec: HttpRequest, call: ChatCall) -> httpx.Request:
        url, timeout = self._target(spec, call)
        if spec.json is not None and isinstance(self._client, UpstreamClient):
            return self._client.build_json_request(spec.method, url, headers=spec.headers, json=spec.json,
                                                   params=spec.params or None, timeout=timeout)
        return self._client.build_request(
            spec.method, url, headers=spec.headers, json=spec.json, params=spec.params or None,
            timeout=timeout,
        )

    async def _call(self, spec: HttpRequest, call: ChatCall) -> httpx.Response | Answer:
        """The request sent and its answer read whole."""
        if spec.json is not None and isinstance(self._client, UpstreamClient):
            url, timeout = self._target(spec, call)
            return await self._client.send_json(spec.method, url, headers=spec.headers, json=spec.json,
                                                params=spec.params or None, timeout=timeout)
        return await self._client.send(self._build(spec, call))

    async def complete(self, call: ChatCall) -> ChatResult:
        translator = self._translator(call)
        spec = translator.request(call, stream=False)
        try:
            response = await self._call(spec, call)
        except httpx.TimeoutException:
            raise _timeout(call) from None
        except (httpx.ConnectError, httpx.ProxyError, httpx.UnsupportedProtocol) as exc:
            raise _connection(call, exc) from None
        except httpx.TransportError as exc:  # the answer broke off on its way
            raise UpstreamError(f"upstream response broke ({type(exc).__name__}): the answer is incomplete",
                                status=502, code=TRUNCATED, retryable=True) from None
        body = parse_json_body(response.content)
        if response.status_code >= 400:
            raise with_call_context(translator.error(response.status_code, body, response.headers),
                                    call.deployment, call.request_id)
        if body is None:
            raise UpstreamError("upstream returned a body that is not JSON", status=502, retryable=True,
                                upstream_status=response.status_code, code="upstream_invalid_response")
        try:
            return translator.response(body)
        except GatewayError:
            raise
        except Exception as exc:  # whatever an upstream sends, the client gets a clean 502
            raise not_understood("response", exc) from None

    async def _open(self, spec: HttpRequest, call: ChatCall) -> httpx.Response | Streamed:
        """The request sent and its answer's head read; the body to be read as it arrives."""
        if spec.json is not None and isinstance(self._client, UpstreamClient):
            url, timeout = self._target(spec, call)
            return await self._client.open_stream(spec.method, url, headers=spec.headers, json=spec.json,
                                                  params=spec.params or None, timeout=timeout)
        return await self._client.send(self._build(spec, call), stream=True)

    async def stream(self, call: ChatCall) -> AsyncIterator[StreamItem]:
        translator = self._translator(call)
        spec = translator.request(call, stream=True)
        try:
            response = await self._open(spec, call)
        except httpx.TimeoutException:
            raise _timeout(call) from None
        except httpx.TransportError as exc:
            raise _connection(call, exc) from None
        try:
            if response.status_code >= 400:
                raise with_call_context(await self._error(translator, response), call.deployment, call.request_id)
            broken: UpstreamError | None = None
            caught_up = call.caught_up
            parser = SSEParser()
            try:
                body: AsyncIterator[bytes] = iter_body(response) if isinstance(response, httpx.Response) \
                    else response
                async for part in body:
                    events = parser.feed(part)
                    if events is None:  # no line ended: no event can have come
                        continue
                    for event in events:
                        for item in translator.stream_event(event):
                            yield item
                        if translator.ended():
                            break
                    if translator.ended():
                        await _drain(body)  # what follows the protocol's end is not part of the answer
                        break
                    if caught_up:  # the events of this read are out; the next needs a read
                        yield CAUGHT_UP
                else:
                    for event in parser.end():
                        for item in translator.stream_event(event):
                            yield item
                        if translator.ended():
                            break
            except httpx.TimeoutException:
                broken = UpstreamError("upstream stream stalled (read timeout)", status=504, retryable=True)
            except httpx.TransportError as exc:
                broken = UpstreamError(f"upstream stream broke ({type(exc).__name__}): the answer is incomplete",
                                       status=502, code=TRUNCATED, retryable=True)
            except GatewayError:
                raise
            except Exception as exc:
                raise not_understood("stream", exc) from None
            try:
                ending = translator.stream_end()  # a connection lost after the protocol's end loses nothing
            except UpstreamError:
                if broken is not None:
                    raise broken from None
                raise
            for item in ending:
                yield item
        finally:
            await response.aclose()

    @staticmethod
    async def _error(translator: ChatTranslator, response: httpx.Response | Streamed) -> UpstreamError:
        try:
            content = await response.aread()
        except httpx.HTTPError:  # the error body itself broke off: the status still says enough
            content = b""
        return translator.error(response.status_code, parse_json_body(content), response.headers)


DRAIN_BYTES = 64 * 1024
DRAIN_S = 0.05


async def _drain(body: AsyncIterator[bytes]) -> None:
    """Read the little left after a stream's protocol end (the chunked body's last chunk,
    usually already received), so its connection is reused: closing a body not read to its
    end closes the connection, and the next stream paid a new TCP (and TLS) handshake.
    Bounded in bytes and time; an upstream that sends on after its end only loses that.
    Usually the rest came with the end, and is dropped without a wait (or a timer)."""
    if isinstance(body, Streamed) and body.let_go_if_whole():
        return

    async def rest() -> None:
        read = 0
        async for part in body:
            read += len(part)
            if read > DRAIN_BYTES:
                return

    with contextlib.suppress(TimeoutError, httpx.HTTPError):  # then the connection closes: no answer lost
        async with asyncio.timeout(DRAIN_S):  # a timer, where wait_for made a task of rest() too
            await rest()


def _timeout(call: ChatCall) -> UpstreamError:
    return UpstreamError(f"upstream {call.deployment.deployment_id} timed out", status=504, retryable=True)


def _connection(call: ChatCall, exc: Exception) -> UpstreamError:
    return UpstreamError(f"cannot reach upstream {call.deployment.deployment_id}: {type(exc).__name__}",
                         status=502, retryable=True)
