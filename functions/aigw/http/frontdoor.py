"""The one way a front door serves a request: request id, body, key, the door's own context
(validation + translation + codec), the pipeline, the answer, and the error envelope.

A front door is a `build` function that turns an `Incoming` (authenticated, body parsed) into
a `RequestContext` with its codec; everything else is here, so adding a client API is a
translator plus a codec, with no edit to the pipeline. A request refused before it reaches
the pipeline (bad body, unknown key, unknown model) still leaves one log line and counts in
the metrics; one the pipeline handled was logged by it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from aigw.auth.records import KeyRecord
from aigw.errors import GatewayError
from aigw.http.common import authenticate, error_response, read_body, render, request_id_of
from aigw.observability import refusal_record
from aigw.pipeline.context import RequestContext
from aigw.pipeline.headers import response_headers
from aigw.pipeline.outcome import Outcome
from aigw.schemas import parse_json_object
from aigw.services import Services


@dataclass(slots=True)
class Incoming:
    request: Request
    request_id: str
    started: float
    key: KeyRecord
    data: dict[str, Any]  # the parsed JSON body ({} for a request without one)


Build = Callable[[Incoming], Awaitable[RequestContext]]
Decorate = Callable[[Response, str], None]
# What a front door does with the pipeline's outcome before it is sent (e.g. store it).
Deliver = Callable[[RequestContext, Outcome], Awaitable[Outcome]]


async def serve(services: Services, request: Request, *, api: str, build: Build, body: bool = True,
                decorate: Decorate | None = None, deliver: Deliver | None = None) -> Response:
    request_id = request_id_of(request)
    started = time.perf_counter()
    ctx: RequestContext | None = None
    key: KeyRecord | None = None
    try:
        key = await authenticate(services, request)
        data: dict[str, Any] = {}
        if body:
            settings = services.config.settings
            raw = await read_body(request, settings.max_body_bytes, settings.body_read_timeout_s)
            data = parse_json_object(raw)
        ctx = await build(Incoming(request, request_id, started, key, data))
        ctx.end_user = end_user(request, data)
        outcome = await services.pipeline.handle(ctx)
        if deliver is not None:
            outcome = await deliver(ctx, outcome)
        response = render(outcome)
    except GatewayError as exc:
        if ctx is None:
            refused(services, request, api, exc, started, key, request_id)
            response = error_response(exc, request_id, envelope=api)
        else:  # the pipeline logged it
            response = error_response(exc, request_id, headers=response_headers(ctx), body=ctx.codec.error_body(exc))
    except Exception:
        if ctx is None:
            raise  # before the pipeline: the app's edge logs it and answers 500
        # The pipeline logged this request (status 500) under this id; the details go to the log.
        services.pipeline.observer.logger.exception("unhandled error", extra={"request_id": request_id})
        error = GatewayError("internal error; see the gateway log")
        response = error_response(error, request_id, headers=response_headers(ctx), body=ctx.codec.error_body(error))
    if decorate is not None:
        decorate(response, request_id)
    return response


END_USER_HEADER = "x-aigw-end-user"
MAX_END_USER_CHARS = 256


def end_user(request: Request, data: dict[str, Any]) -> str | None:
    """Who the application says its user is: the `x-aigw-end-user` header, else OpenAI's
    `safety_identifier` / `user`, else Anthropic's `metadata.user_id`."""
    metadata = data.get("metadata")
    candidates = (request.headers.get(END_USER_HEADER), data.get("safety_identifier"), data.get("user"),
                  metadata.get("user_id") if isinstance(metadata, dict) else None)
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_END_USER_CHARS]
    return None


def refused(services: Services, request: Request, api: str, exc: GatewayError, started: float,
            key: KeyRecord | None, request_id: str) -> None:
    record = refusal_record(request_id, api, request.url.path, exc, time.perf_counter() - started,
                            key.key_id if key else None, key.team_id if key else None)
    services.pipeline.observer.request_refused(record, headers=request.headers)
