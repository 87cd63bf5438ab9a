"""Steps 1-2 of the hot path, shared by every front door: read the body within its limits,
authenticate the key, resolve the model and check the key may use it; and how errors are
rendered in each client API's envelope."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from aigw.auth.keys import extract_key
from aigw.auth.records import KeyRecord
from aigw.config.models import ModelConfig
from aigw.errors import AuthenticationFailed, GatewayError, NotFound, PayloadTooLarge, PermissionDenied
from aigw.fastjson import dumps_finite
from aigw.http.exchange import Exchange
from aigw.http.streaming import EventStreamResponse
from aigw.pipeline.outcome import JsonOutcome, Outcome
from aigw.services import Services

REQUEST_ID_SCOPE_KEY = "aigw.request_id"  # set once per request by the app's edge middleware


class RequestHeaders(Headers):
    """Starlette's request headers, with `get` that does not raise and catch a KeyError for a
    header the request lacks (Mapping.get's way; the end-user header, absent from most requests,
    is looked up on every one). tests/unit/http/test_request_headers.py holds it to Headers."""

    def get(self, key: str, default: Any = None) -> Any:
        wanted = key.lower().encode("latin-1")
        for name, value in self._list:
            if name == wanted:
                return value.decode("latin-1")
        return default


class GatewayRequest(Request):
    """A Starlette request whose headers are `RequestHeaders`."""

    @property
    def headers(self) -> Headers:
        if not hasattr(self, "_headers"):
            self._headers = RequestHeaders(scope=self.scope)
        return self._headers


class ClientClosed(GatewayError):
    """The client went away while sending its body (not an error of ours: logged at INFO)."""

    status = 499
    type = "client_closed_request"
    code = "client_closed"


class BodyTimeout(GatewayError):
    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class RandomHex:
    """Hex text of OS randomness, read `batch` ids at a time: `secrets.token_hex` is a getrandom
    system call for every id, 14 us per request with cold caches. Each id is as random as
    `token_hex(size)`'s; a forked child starts with an empty pool (never its parent's ids)."""

    def __init__(self, size: int, batch: int = 256) -> None:
        self._chars = 2 * size
        self._batch = size * batch
        self._pool = ""
        self._at = 0
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._empty)

    def _empty(self) -> None:
        self._pool, self._at = "", 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            at = self._at
            if at >= len(self._pool):
                self._pool, at = os.urandom(self._batch).hex(), 0
            self._at = at + self._chars
            return self._pool[at:at + self._chars]


_request_hex = RandomHex(12)


def new_request_id() -> str:
    return "req_" + _request_hex()


def request_id_of(request: Request) -> str:
    """The request id the edge middleware gave this request (the same one its log line has)."""
    existing = request.scope.get(REQUEST_ID_SCOPE_KEY)
    if isinstance(existing, str):
        return existing
    request_id = new_request_id()
    request.scope[REQUEST_ID_SCOPE_KEY] = request_id
    return request_id


async def read_body(request: Request, limit: int, timeout_s: float | None = None) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")
    try:
        if timeout_s is None or _arrived(request):  # nothing to wait for: no timer (6 us)
            return await _receive_body(request, limit)
        async with asyncio.timeout(timeout_s):  # a quarter of anyio.fail_after's cost
            return await _receive_body(request, limit)
    except ClientDisconnect:
        raise ClientClosed("the client closed the connection while sending the request body") from None
    except TimeoutError:
        raise BodyTimeout(f"the request body did not arrive within {timeout_s:g} s") from None


def _arrived(request: Request) -> bool:
    """Whether the gateway's own server (aigw/http/server.py) already holds the whole body, so
    reading it cannot wait on the client. Any other server, or a wrapped `receive`: unknown."""
    owner = getattr(request.receive, "__self__", None)
    return isinstance(owner, Exchange) and owner.body_arrived()


async def _receive_body(request: Request, limit: int) -> bytes:
    """`request.stream()` joined, read from `receive` in a loop: an async generator is
    registered with the event loop and unregistered again, on every request. Marks the
    stream consumed, and a disconnect, as Starlette's does (tests/unit/http/test_read_body.py)."""
    if hasattr(request, "_body") or request._stream_consumed:  # read before: Starlette's own stream
        chunks = [chunk async for chunk in request.stream()]
        if sum(map(len, chunks)) > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        return b"".join(chunks)
    chunks = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            last = not message.get("more_body", False)
            if last:
                request._stream_consumed = True
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
            if last:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            request._is_disconnected = True
            raise ClientDisconnect()


async def authenticate(services: Services, request: Request) -> KeyRecord:
    key = extract_key(request.headers)
    if key is None:
        raise AuthenticationFailed("missing API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`")
    record = await services.keys.lookup(key)
    if record is None:
        raise AuthenticationFailed("invalid API key")
    if record.revoked:
        raise AuthenticationFailed("this API key has been revoked")
    if not record.usable():
        raise AuthenticationFailed("this API key has expired")
    return record


def resolve_model(services: Services, key: KeyRecord, name: str) -> ModelConfig:
    model = services.config.model(name)
    if model is None:
        raise NotFound(f"the model {name!r} does not exist", param="model")
    if not key.allows(name):
        raise PermissionDenied(f"this API key may not use the model {name!r}", param="model")
    return model


class JsonBody(JSONResponse):
    """Starlette's JSONResponse, encoded by pydantic-core (aigw/fastjson.py), its head built in
    one pass: Starlette's `render` and `init_headers` steps, inline (with cold caches, as every
    request on Lambda has them, each step cost microseconds). A body that may hold NaN or
    Infinity takes Starlette's own encoder, which refuses them as before.
    tests/unit/http/test_json_body.py holds body and headers to JSONResponse's."""

    def __init__(self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status_code
        self.background = None
        body = dumps_finite(content)
        self.body = body = JSONResponse.render(self, content) if body is None else body
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()] if headers else []
        length = content_type = True
        for name, _ in raw:
            if name == b"content-length":
                length = False
            elif name == b"content-type":
                content_type = False
        if length and not (status_code < 200 or status_code in (204, 304)):
            raw.append((b"content-length", b"%d" % len(body)))
        if content_type:
            raw.append((b"content-type", b"application/json"))
        self.raw_headers = raw


def render(outcome: Outcome) -> Response:
    if isinstance(outcome, JsonOutcome):
        return JsonBody(outcome.body, status_code=outcome.status, headers=outcome.headers)
    return EventStreamResponse(outcome.body, status_code=outcome.status, headers=outcome.headers)


def envelope_body(exc: GatewayError, api: str) -> dict[str, Any]:
    """The error body of a client API (the Responses API uses OpenAI's)."""
    return exc.anthropic_body() if api == "anthropic" else exc.openai_body()  # "responses": OpenAI's


def api_of(path: str, headers: Mapping[str, str]) -> str:
    """The API a client speaks, for answers no front door renders (unknown routes, 500s)."""
    if path.startswith("/v1/messages") or "anthropic-version" in headers:
        return "anthropic"
    return "openai"


def error_response(exc: GatewayError, request_id: str, *, envelope: str = "openai",
                   headers: dict[str, str] | None = None, body: dict[str, Any] | None = None) -> Response:
    merged = {**(headers or {}), **exc.headers, "x-request-id": request_id}
    retry_after = getattr(exc, "retry_after_s", None)
    if exc.status == 429 and retry_after and "retry-after" not in merged:
        merged["retry-after"] = str(max(int(retry_after + 0.999), 1))
    content = body if body is not None else envelope_body(exc, envelope)
    return JsonBody(content, status_code=exc.status, headers=merged)
