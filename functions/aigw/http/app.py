"""The data-plane ASGI app. Routes only: each handler is a front door served by
`http.frontdoor.serve`. Any exception that escapes becomes a 500 in the client API's own
envelope, carrying the request id of the log line that has the details."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route, Router

from aigw.errors import GatewayError
from aigw.http.common import REQUEST_ID_SCOPE_KEY, GatewayRequest, api_of, error_response, new_request_id, request_id_of
from aigw.http.exchange import Exchange
from aigw.http.frontdoor import refused
from aigw.http.openai_api import OpenAIRoutes
from aigw.names import HEALTH_PATH
from aigw.observability import Observer, refusal_record
from aigw.services import Services

# Route groups beyond the OpenAI front door, as "module:function" (each takes the services
# and returns Starlette routes), e.g. the Anthropic front door "aigw.http.anthropic_api:routes".
ROUTE_MODULES: list[str] = [
    "aigw.http.anthropic_api:routes",
    "aigw.http.responses_api:routes",
]
RouteFactory = Callable[[Services], list[Route]]


def create_app(services: Services, *, extra_routes: list[RouteFactory] | None = None,
               warm: bool = True) -> Starlette:
    openai = OpenAIRoutes(services)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def not_found(request: Request) -> Response:
        api = api_of(request.url.path, request.headers)
        error = GatewayError(f"no route for {request.method} {request.url.path}", status=404,
                             type="invalid_request_error", code="unknown_url")
        refused(services, request, api, error, time.perf_counter(), None, request_id_of(request))
        return error_response(error, request_id_of(request), envelope=api)

    routes = [
        Route(HEALTH_PATH, health, methods=["GET"]),
        Route("/v1/chat/completions", openai.chat_completions, methods=["POST"]),
        Route("/v1/embeddings", openai.embeddings, methods=["POST"]),
        Route("/v1/models", openai.models, methods=["GET"]),
        Route("/v1/models/{model:path}", openai.model, methods=["GET"]),
    ]
    for path in ROUTE_MODULES:
        module, _, function = path.partition(":")
        routes.extend(getattr(importlib.import_module(module), function)(services))
    for factory in extra_routes or []:
        routes.extend(factory(services))
    routes.append(Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]))
    for route in routes:
        if inspect.isfunction(route.endpoint) or inspect.ismethod(route.endpoint):
            route.app = Endpoint(route.endpoint)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # The warm-up (boto3 handles, tokenizer, stage models) runs beside the first requests
        # instead of before readiness: a cold start is ready sooner, and a request that needs a
        # handle first simply makes it (AwsResources is thread-safe).
        warming = asyncio.create_task(asyncio.to_thread(services.warm)) if warm else None
        yield
        if warming is not None:
            with contextlib.suppress(Exception):
                await warming
        await services.aclose()

    app = GatewayApp(routes=routes, lifespan=lifespan)
    origins = services.config.settings.cors_allow_origins
    if origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["*"], expose_headers=["x-request-id", "request-id", "x-aigw-cache",
                                                                "x-aigw-cost-usd", "retry-after"])
    app.add_middleware(_Edge, observer=services.pipeline.observer)
    return app


class Endpoint:
    """A route's handler as plain ASGI. Starlette serves a function endpoint through its
    exception-handling layer, which wraps `send` once more for every message (every SSE frame)
    to map exceptions no handler here raises (each front door answers in its own envelope, and
    `_Edge` catches the rest); without it a stream frame costs one call less."""

    __slots__ = ("handler",)

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        response = await self.handler(GatewayRequest(scope, receive, send))
        await response(scope, receive, send)


class GatewayApp(Starlette):
    """Starlette without its own error layers (ServerErrorMiddleware, ExceptionMiddleware):
    `_Edge` already turns every exception into the client API's envelope, and two more
    wrappers per request were measurable CPU on the hot path (docs/DESIGN.md §4)."""

    def build_middleware_stack(self) -> Any:
        app: Any = ExactRoutes(self.router)
        for middleware in reversed(self.user_middleware):
            app = middleware.cls(app, *middleware.args, **middleware.kwargs)
        return app


class ExactRoutes:
    """The router, with a route whose path has no parameter found by one dict lookup: the
    router tries each route's regex in turn (the health check's first) and builds a child
    scope per match, on every request. A path is looked up here only if no earlier route
    could match it, so the route found is the one the router would take; a method the route
    does not take, any other path, and every other scope type go to the router (405s, 404s,
    slash redirects, lifespan). tests/unit/http/test_app_routes.py pins it to the router."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.exact: dict[str, Route] = {}
        if router.middleware_stack != router.app:  # the router's own middleware: it must run
            return
        for index, route in enumerate(router.routes):
            if not isinstance(route, Route) or route.param_convertors or route.path in self.exact:
                continue
            scope = {"type": "http", "path": route.path, "root_path": "", "method": "GET"}
            if not any(earlier.matches(scope)[0] != Match.NONE for earlier in router.routes[:index]):
                self.exact[route.path] = route

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            route = self.exact.get(get_route_path(scope) if scope.get("root_path") else scope["path"])
            if route is not None and (not route.methods or scope["method"] in route.methods):
                scope.setdefault("router", self.router)
                scope["endpoint"] = route.endpoint
                scope["path_params"] = dict(scope.get("path_params", {}))
                await route.app(scope, receive, send)
                return
        await self.router(scope, receive, send)


class _Progress:
    """Whether a response has begun, seen from its `send`."""

    __slots__ = ("started",)

    def __init__(self) -> None:
        self.started = False

    def tracking(self, send: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        async def tracking_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.started = True
            await send(message)

        return tracking_send


class _Edge:
    """Gives each request its id, and is the last line of defence: an unexpected exception
    becomes a clean 500 whose request id is the one in the (error) log line."""

    def __init__(self, app: Callable[..., Awaitable[None]], observer: Observer) -> None:
        self.app = app
        self.observer = observer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        started_at = time.perf_counter()
        # Whether the response has begun: the gateway's own server knows (its `Exchange`);
        # under any other, a wrapper on `send` watches for the start (one more call per message).
        progress = getattr(send, "__self__", None)
        inner_send = send
        if not isinstance(progress, Exchange):
            progress = _Progress()
            inner_send = progress.tracking(send)
        try:
            await self.app(scope, receive, inner_send)
        except HTTPException as exc:  # the router's own refusals (405 for a method no route takes)
            error = GatewayError(str(exc.detail), status=exc.status_code, type="invalid_request_error",
                                 code="method_not_allowed" if exc.status_code == 405 else None)
            api = self._refused(scope, request_id, started_at, error)
            if not progress.started:
                response = error_response(error, request_id, envelope=api, headers=dict(exc.headers or {}))
                await response(scope, receive, send)
        except Exception as exc:
            error = GatewayError("internal error; see the gateway log")
            self.observer.logger.exception("unhandled error", extra={"path": scope.get("path", ""),
                                                                      "request_id": request_id,
                                                                      "error": type(exc).__name__})
            api = self._refused(scope, request_id, started_at, error, unexpected=True)
            if not progress.started:
                response = error_response(error, request_id, envelope=api)
                await response(scope, receive, send)

    def _refused(self, scope: Any, request_id: str, started_at: float, error: GatewayError, *,
                 unexpected: bool = False) -> str:
        """The refusal's log line and metrics; the client API the path and headers name."""
        path = scope.get("path", "")
        headers = Headers(scope=scope)
        api = api_of(path, headers)
        self.observer.request_refused(refusal_record(request_id, api, path, error, time.perf_counter() - started_at),
                                      unexpected=unexpected, headers=headers)
        return api
