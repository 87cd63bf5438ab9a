"""Steps 1-2 of the hot path, shared by every front door: read the body within its
limit, authenticate the key, resolve the model and check the key may use it."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aigw.auth.keys import extract_key
from aigw.auth.records import KeyRecord
from aigw.config.models import ModelConfig
from aigw.errors import AuthenticationFailed, GatewayError, NotFound, PayloadTooLarge, PermissionDenied
from aigw.gateway import Services
from aigw.http.streaming import EventStreamResponse
from aigw.pipeline.outcome import JsonOutcome, Outcome


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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


def render(outcome: Outcome) -> Response:
    if isinstance(outcome, JsonOutcome):
        return JSONResponse(outcome.body, status_code=outcome.status, headers=outcome.headers)
    return EventStreamResponse(outcome.body, status_code=outcome.status, headers=outcome.headers)


def error_response(exc: GatewayError, request_id: str, *, envelope: str = "openai",
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = exc.anthropic_body() if envelope == "anthropic" else exc.openai_body()
    merged = {**(headers or {}), **exc.headers, "x-request-id": request_id}
    retry_after = getattr(exc, "retry_after_s", None)
    if exc.status == 429 and retry_after and "retry-after" not in merged:
        merged["retry-after"] = str(max(int(retry_after + 0.999), 1))
    return JSONResponse(body, status_code=exc.status, headers=merged)
