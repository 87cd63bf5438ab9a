"""The data-plane ASGI app. Routes only: each handler authenticates, validates and hands a
`RequestContext` to the pipeline. Any exception that escapes becomes a 500 in the API's
own envelope, with the details in the log and never in the response."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aigw.errors import GatewayError
from aigw.gateway import Services
from aigw.http.common import error_response, new_request_id
from aigw.http.openai_api import OpenAIRoutes
from aigw.names import HEALTH_PATH

# Route groups beyond the OpenAI front door, as "module:function" (each takes the services
# and returns Starlette routes), e.g. the Anthropic front door "aigw.http.anthropic_api:routes".
ROUTE_MODULES: list[str] = [
    "aigw.http.anthropic_api:routes",
]
RouteFactory = Callable[[Services], list[Route]]


def create_app(services: Services, *, extra_routes: list[RouteFactory] | None = None,
               warm: bool = True) -> Starlette:
    openai = OpenAIRoutes(services)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def not_found(request: Request) -> Response:
        return error_response(GatewayError(f"no route for {request.method} {request.url.path}", status=404,
                                           type="invalid_request_error", code="unknown_url"), new_request_id())

    routes = [
        Route(HEALTH_PATH, health, methods=["GET"]),
        Route("/v1/chat/completions", openai.chat_completions, methods=["POST"]),
        Route("/v1/embeddings", openai.embeddings, methods=["POST"]),
        Route("/v1/models", openai.models, methods=["GET"]),
    ]
    for path in ROUTE_MODULES:
        module, _, function = path.partition(":")
        routes.extend(getattr(importlib.import_module(module), function)(services))
    for factory in extra_routes or []:
        routes.extend(factory(services))
    routes.append(Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if warm:
            await asyncio.to_thread(services.warm)
        yield
        await services.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(_CatchAll, logger=services.pipeline.observer.logger)
    return app


class _CatchAll:
    """Last line of defence: an unexpected exception becomes a clean 500, logged in full."""

    def __init__(self, app: Callable[..., Awaitable[None]], logger: Any) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            self.logger.exception("unhandled error", extra={"path": scope.get("path")})
            if not started:
                envelope = "anthropic" if scope.get("path", "").startswith("/v1/messages") else "openai"
                response = error_response(GatewayError("internal error; see the gateway log"), new_request_id(),
                                          envelope=envelope)
                await response(scope, receive, send)
