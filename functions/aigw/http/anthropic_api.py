"""The Anthropic front door: POST /v1/messages (and /v1/messages/count_tokens).

The request is validated as Anthropic's, translated once into the canonical OpenAI body
the pipeline and its stages work on, and kept as is for Anthropic deployments
(`ctx.native`). Answers are rendered by `AnthropicCodec`; errors use Anthropic's envelope.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aigw import tokens
from aigw.errors import GatewayError, InvalidRequest
from aigw.http.common import authenticate, error_response, read_body, request_id_of, resolve_model
from aigw.http.frontdoor import Incoming, serve
from aigw.pipeline.context import RequestContext
from aigw.providers.base import NativeRequest
from aigw.schemas import check, parse_json_object, validate
from aigw.services import Services
from aigw.translate.anthropic_client import MESSAGES_SCREEN, AnthropicCodec, MessagesRequest, openai_body

API = "anthropic"
# Client headers an Anthropic deployment receives with the client's own body.
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


def forwarded_headers(request: Request) -> dict[str, str]:
    return {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}


def _request_id_header(response: Response, request_id: str) -> None:
    response.headers["request-id"] = request_id  # where Anthropic's SDK looks (`_request_id`)


class AnthropicRoutes:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def _context(self, incoming: Incoming) -> RequestContext:
        data = incoming.data
        check(MESSAGES_SCREEN, data)
        model = resolve_model(self.services, incoming.key, data["model"])
        if model.mode != "chat":
            raise InvalidRequest(f"{model.name!r} is an embedding model", param="model")
        bound: list[RequestContext] = []
        codec = AnthropicCodec(model.name, lambda: bound[0].prompt_tokens())
        ctx = RequestContext(request_id=incoming.request_id, operation="chat", key=incoming.key, model=model,
                             body=openai_body(data), codec=codec, stream=bool(data.get("stream")),
                             started=incoming.started, request_headers=incoming.request.headers,
                             native=NativeRequest("messages", data, forwarded_headers(incoming.request)))
        bound.append(ctx)
        if ctx.stream:  # message_start reports it: count now, off the loop when the prompt is large
            await tokens.count_prompt_tokens(ctx)
        return ctx

    async def messages(self, request: Request) -> Response:
        return await serve(self.services, request, api=API, build=self._context, decorate=_request_id_header)

    async def count_tokens(self, request: Request) -> Response:
        """The gateway's own count (tiktoken): close to, not exactly, Anthropic's tokenizer."""
        request_id = request_id_of(request)
        try:
            key = await authenticate(self.services, request)
            settings = self.services.config.settings
            data = parse_json_object(await read_body(request, settings.max_body_bytes, settings.body_read_timeout_s))
            validate(MessagesRequest, {"max_tokens": 1, **data})
            model = resolve_model(self.services, key, data["model"])
            codec = AnthropicCodec(model.name, lambda: 0)
            ctx = RequestContext(request_id=request_id, operation="chat", key=key, model=model,
                                 body=openai_body(data), codec=codec)
            await tokens.count_prompt_tokens(ctx)
            return JSONResponse({"input_tokens": ctx.prompt_tokens()}, headers={"x-request-id": request_id})
        except GatewayError as exc:
            return error_response(exc, request_id, envelope=API)


def routes(services: Services) -> list[Route]:
    front = AnthropicRoutes(services)
    return [
        Route("/v1/messages", front.messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", front.count_tokens, methods=["POST"]),
    ]
