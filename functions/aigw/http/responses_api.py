"""The Responses front door: POST /v1/responses, GET and DELETE /v1/responses/{id},
GET /v1/responses/{id}/input_items.

A create request is validated and translated by `aigw.responses` (with at most one state read,
for `previous_response_id`) into the canonical chat body, then runs the same pipeline as
/v1/chat/completions: guardrails, cache, admission, routing, fallbacks and accounting apply
unchanged. `ResponsesCodec` renders the answer; the stored response is written before the
client sees the answer's end, so the next turn can continue at once.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aigw.errors import GatewayError, InvalidRequest
from aigw.http.common import authenticate, error_response, request_id_of, resolve_model
from aigw.http.frontdoor import Incoming, refused, serve
from aigw.names import RESPONSES
from aigw.pipeline.context import RequestContext
from aigw.pipeline.outcome import Outcome
from aigw.responses import ResponsesService
from aigw.responses.codec import ResponsesCodec
from aigw.responses.service import Prepared
from aigw.services import Services

API = "responses"
ENVELOPE = "openai"  # the Responses API's errors are OpenAI's


class ResponsesRoutes:
    def __init__(self, services: Services) -> None:
        self.services = services
        aws = services.aws
        self.service = ResponsesService.from_config(services.config.responses, lambda: aws.table(RESPONSES))

    async def _context(self, incoming: Incoming) -> RequestContext:
        prepared = await self.service.prepare(incoming.data, incoming.key)
        model = resolve_model(self.services, incoming.key, prepared.request.model)
        if model.mode != "chat":
            raise InvalidRequest(f"{model.name!r} is an embedding model", param="model")
        codec = self.service.codec(prepared)
        ctx = RequestContext(request_id=incoming.request_id, operation="chat", key=incoming.key, model=model,
                             body=prepared.body, codec=codec, stream=prepared.stream,
                             started=incoming.started, request_headers=incoming.request.headers)
        ctx.put(prepared)
        return ctx

    async def _deliver(self, ctx: RequestContext, outcome: Outcome) -> Outcome:
        prepared = ctx.slot(Prepared)
        assert prepared is not None and isinstance(ctx.codec, ResponsesCodec)
        return await self.service.deliver(prepared, ctx.codec, outcome)

    async def create(self, request: Request) -> Response:
        return await serve(self.services, request, api=API, build=self._context, deliver=self._deliver)

    async def get(self, request: Request) -> Response:
        return await self._stored(request, lambda key, rid: self.service.get(key, rid))

    async def delete(self, request: Request) -> Response:
        return await self._stored(request, lambda key, rid: self.service.delete(key, rid))

    async def input_items(self, request: Request) -> Response:
        return await self._stored(request, lambda key, rid: self.service.input_items(key, rid, request.query_params))

    async def _stored(self, request: Request, op: Callable[[Any, str], Awaitable[dict[str, Any]]]) -> Response:
        request_id = request_id_of(request)
        started = time.perf_counter()
        key = None
        try:
            key = await authenticate(self.services, request)
            body = await op(key, request.path_params["response_id"])
        except GatewayError as exc:
            refused(self.services, request, API, exc, started, key, request_id)
            return error_response(exc, request_id, envelope=ENVELOPE)
        return JSONResponse(body, headers={"x-request-id": request_id})


def routes(services: Services) -> list[Route]:
    front = ResponsesRoutes(services)
    return [
        Route("/v1/responses", front.create, methods=["POST"]),
        Route("/v1/responses/{response_id}", front.get, methods=["GET"]),
        Route("/v1/responses/{response_id}", front.delete, methods=["DELETE"]),
        Route("/v1/responses/{response_id}/input_items", front.input_items, methods=["GET"]),
    ]
