"""The OpenAI-compatible front door: /v1/chat/completions, /v1/embeddings, /v1/models."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aigw.errors import GatewayError, InvalidRequest
from aigw.gateway import Services
from aigw.http.common import authenticate, error_response, new_request_id, read_body, render, resolve_model
from aigw.pipeline.context import Api, RequestContext
from aigw.schemas import ChatCompletionRequest, EmbeddingsRequest, parse_json_object, validate


class OpenAIRoutes:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def chat_completions(self, request: Request) -> Response:
        return await self._handle(request, "chat")

    async def embeddings(self, request: Request) -> Response:
        return await self._handle(request, "embeddings")

    async def _handle(self, request: Request, api: Api) -> Response:
        request_id = new_request_id()
        started = time.perf_counter()
        ctx: RequestContext | None = None
        try:
            key = await authenticate(self.services, request)
            data = parse_json_object(await read_body(request, self.services.config.settings.max_body_bytes))
            if api == "chat":
                parsed: Any = validate(ChatCompletionRequest, data)
            else:
                parsed = validate(EmbeddingsRequest, data)
            model = resolve_model(self.services, key, parsed.model)
            if api == "chat" and model.mode != "chat":
                raise InvalidRequest(f"{model.name!r} is an embedding model; use /v1/embeddings", param="model")
            if api == "embeddings" and model.mode != "embedding":
                raise InvalidRequest(f"{model.name!r} is not an embedding model", param="model")
            stream = bool(data.get("stream")) if api == "chat" else False
            include_usage = bool(stream and (data.get("stream_options") or {}).get("include_usage"))
            ctx = RequestContext(request_id=request_id, api=api, key=key, model=model, body=data,
                                 stream=stream, include_usage=include_usage, started=started,
                                 request_headers=request.headers)
            return render(await self.services.pipeline.handle(ctx))
        except GatewayError as exc:
            return error_response(exc, request_id, headers=ctx.headers if ctx else None)

    async def models(self, request: Request) -> Response:
        """The models the key may use, in the shape of the SDK asking: the Anthropic SDK sends
        `anthropic-version` and expects its own list object."""
        request_id = new_request_id()
        anthropic = "anthropic-version" in request.headers
        try:
            key = await authenticate(self.services, request)
        except GatewayError as exc:
            return error_response(exc, request_id, envelope="anthropic" if anthropic else "openai")
        models = [m for m in self.services.config.models if key.allows(m.name)]
        headers = {"x-request-id": request_id}
        if anthropic:
            items = [{"type": "model", "id": m.name, "display_name": m.name, "created_at": "1970-01-01T00:00:00Z"}
                     for m in models]
            return JSONResponse({"data": items, "has_more": False, "first_id": items[0]["id"] if items else None,
                                 "last_id": items[-1]["id"] if items else None}, headers=headers)
        data = [{"id": m.name, "object": "model", "created": 0, "owned_by": m.deployments[0].provider} for m in models]
        return JSONResponse({"object": "list", "data": data}, headers=headers)
