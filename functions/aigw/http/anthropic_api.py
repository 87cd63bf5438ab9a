"""The Anthropic front door: POST /v1/messages (and /v1/messages/count_tokens).

The request is validated as Anthropic's, translated once into the canonical OpenAI body
the pipeline and its stages work on, and kept as is for Anthropic deployments
(`ctx.native`). Answers are rendered by `AnthropicCodec`; errors use Anthropic's envelope.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aigw.errors import GatewayError, InvalidRequest
from aigw.gateway import Services
from aigw.http.common import authenticate, error_response, new_request_id, read_body, render, resolve_model
from aigw.pipeline.context import RequestContext
from aigw.providers.base import NativeRequest
from aigw.schemas import parse_json_object, validate
from aigw.translate.anthropic_client import AnthropicCodec, MessagesRequest, openai_body

ENVELOPE = "anthropic"
# Client headers an Anthropic deployment receives with the client's own body.
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


def forwarded_headers(request: Request) -> dict[str, str]:
    return {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}


class AnthropicRoutes:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def _context(self, request: Request, request_id: str, started: float) -> RequestContext:
        key = await authenticate(self.services, request)
        data = parse_json_object(await read_body(request, self.services.config.settings.max_body_bytes))
        validate(MessagesRequest, data)
        model = resolve_model(self.services, key, data["model"])
        if model.mode != "chat":
            raise InvalidRequest(f"{model.name!r} is an embedding model", param="model")
        ctx = RequestContext(request_id=request_id, api="messages", key=key, model=model, body=openai_body(data),
                             stream=bool(data.get("stream")), started=started, request_headers=request.headers,
                             native=NativeRequest("messages", data, forwarded_headers(request)))
        ctx.codec = AnthropicCodec(model.name, ctx.prompt_tokens)
        return ctx

    async def messages(self, request: Request) -> Response:
        request_id = new_request_id()
        started = time.perf_counter()
        ctx: RequestContext | None = None
        try:
            ctx = await self._context(request, request_id, started)
            response = render(await self.services.pipeline.handle(ctx))
        except GatewayError as exc:
            response = error_response(exc, request_id, envelope=ENVELOPE, headers=ctx.headers if ctx else None)
        response.headers["request-id"] = request_id  # where Anthropic's SDK looks (`_request_id`)
        return response

    async def count_tokens(self, request: Request) -> Response:
        """The gateway's own count (tiktoken): close to, not exactly, Anthropic's tokenizer."""
        request_id = new_request_id()
        try:
            key = await authenticate(self.services, request)
            data = parse_json_object(await read_body(request, self.services.config.settings.max_body_bytes))
            validate(MessagesRequest, {"max_tokens": 1, **data})
            model = resolve_model(self.services, key, data["model"])
            ctx = RequestContext(request_id=request_id, api="messages", key=key, model=model, body=openai_body(data))
            return JSONResponse({"input_tokens": ctx.prompt_tokens()}, headers={"x-request-id": request_id})
        except GatewayError as exc:
            return error_response(exc, request_id, envelope=ENVELOPE)


def routes(services: Services) -> list[Route]:
    front = AnthropicRoutes(services)
    return [
        Route("/v1/messages", front.messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", front.count_tokens, methods=["POST"]),
    ]
