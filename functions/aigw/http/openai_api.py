"""The OpenAI-compatible front door: /v1/chat/completions, /v1/embeddings, /v1/models[/{id}]."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aigw.config.models import ModelConfig
from aigw.errors import GatewayError, InvalidRequest, NotFound
from aigw.http.common import api_of, authenticate, error_response, request_id_of, resolve_model
from aigw.http.frontdoor import Incoming, refused, serve
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import RequestContext
from aigw.schemas import CHAT_SCREEN, EmbeddingsRequest, check, validate
from aigw.services import Services

API = "openai"


class OpenAIRoutes:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def chat_completions(self, request: Request) -> Response:
        return await serve(self.services, request, api=API, build=self._chat)

    async def embeddings(self, request: Request) -> Response:
        return await serve(self.services, request, api=API, build=self._embeddings)

    async def _chat(self, incoming: Incoming) -> RequestContext:
        data = incoming.data
        check(CHAT_SCREEN, data)
        model = resolve_model(self.services, incoming.key, data["model"])
        if model.mode != "chat":
            raise InvalidRequest(f"{model.name!r} is an embedding model; use /v1/embeddings", param="model")
        stream = bool(data.get("stream"))
        include_usage = bool(stream and (data.get("stream_options") or {}).get("include_usage"))
        return RequestContext(request_id=incoming.request_id, operation="chat", key=incoming.key, model=model,
                              body=data, codec=OpenAICodec(include_usage), stream=stream,
                              include_usage=include_usage, started=incoming.started,
                              request_headers=incoming.request.headers)

    async def _embeddings(self, incoming: Incoming) -> RequestContext:
        parsed = validate(EmbeddingsRequest, incoming.data)
        model = resolve_model(self.services, incoming.key, parsed.model)
        if model.mode != "embedding":
            raise InvalidRequest(f"{model.name!r} is not an embedding model", param="model")
        return RequestContext(request_id=incoming.request_id, operation="embeddings", key=incoming.key, model=model,
                              body=incoming.data, codec=OpenAICodec(), started=incoming.started,
                              request_headers=incoming.request.headers)

    async def models(self, request: Request) -> Response:
        """The models the key may use, in the shape of the SDK asking: the Anthropic SDK sends
        `anthropic-version` and expects its own list object."""
        api = api_of(request.url.path, request.headers)
        models = await self._allowed(request, api)
        if isinstance(models, Response):
            return models
        headers = {"x-request-id": request_id_of(request)}
        if api == "anthropic":
            items = [_anthropic_model(m) for m in models]
            return JSONResponse({"data": items, "has_more": False, "first_id": items[0]["id"] if items else None,
                                 "last_id": items[-1]["id"] if items else None}, headers=headers)
        return JSONResponse({"object": "list", "data": [_openai_model(m) for m in models]}, headers=headers)

    async def model(self, request: Request) -> Response:
        """One model, if the key may use it (404 in the client's envelope otherwise)."""
        api = api_of(request.url.path, request.headers)
        models = await self._allowed(request, api)
        if isinstance(models, Response):
            return models
        name = request.path_params["model"]
        found = next((m for m in models if m.name == name), None)
        if found is None:
            return error_response(NotFound(f"the model {name!r} does not exist", param="model"),
                                  request_id_of(request), envelope=api)
        body = _anthropic_model(found) if api == "anthropic" else _openai_model(found)
        return JSONResponse(body, headers={"x-request-id": request_id_of(request)})

    async def _allowed(self, request: Request, api: str) -> list[ModelConfig] | Response:
        import time

        started = time.perf_counter()
        try:
            key = await authenticate(self.services, request)
        except GatewayError as exc:
            refused(self.services, request, api, exc, started, None, request_id_of(request))
            return error_response(exc, request_id_of(request), envelope=api)
        return [m for m in self.services.config.models if key.allows(m.name)]


def _openai_model(m: ModelConfig) -> dict[str, Any]:
    return {"id": m.name, "object": "model", "created": 0, "owned_by": m.deployments[0].provider}


def _anthropic_model(m: ModelConfig) -> dict[str, Any]:
    return {"type": "model", "id": m.name, "display_name": m.name, "created_at": "1970-01-01T00:00:00Z"}
