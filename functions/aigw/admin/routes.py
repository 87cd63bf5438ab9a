"""The /admin routes on Starlette, for `aigw dev`: the same routes and JSON as the Lambda
adapter, behind `Authorization: Bearer $AIGW_ADMIN_TOKEN` (compared in constant time)."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aigw.admin.api import ROUTES, ApiRequest, ApiResponse, Handler, dispatch, error, json_default
from aigw.admin.service import AdminService
from aigw.guardrails.policy import guardrails_of
from aigw.names import COUNTERS, ENTITIES, ENV_ADMIN_TOKEN

logger = logging.getLogger("aigw.admin")


def render(response: ApiResponse) -> Response:
    return Response(json.dumps(response.body, default=json_default), status_code=response.status,
                    media_type="application/json")


def admin_routes(service: AdminService, token: str | None) -> list[Route]:
    expected = (token or "").encode()

    def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            scheme, _, presented = request.headers.get("authorization", "").partition(" ")
            if not expected:
                return render(error(401, "admin_token_not_set", f"set {ENV_ADMIN_TOKEN} to use /admin locally",
                                    "authentication_error"))
            if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
                return render(error(401, "invalid_admin_token",
                                    f"missing or wrong admin token: send `Authorization: Bearer ${ENV_ADMIN_TOKEN}`",
                                    "authentication_error"))
            api_request = ApiRequest(params=dict(request.path_params), query=dict(request.query_params),
                                     body=await request.body(), headers={k.lower(): v for k, v in
                                                                         request.headers.items()})
            return render(await run_in_threadpool(dispatch, service, handler, api_request, log=logger))

        return run

    async def unknown(request: Request) -> Response:
        """An /admin path or method no route serves: 404 in the admin envelope (as the Lambda
        adapter answers), not the data plane's OpenAI one nor Starlette's plain-text 405."""
        return render(error(404, "unknown_route", f"no admin route for {request.method} {request.url.path}",
                            "not_found"))

    routes = [Route(path, endpoint(handler), methods=[method]) for method, path, handler in ROUTES]
    every = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
    routes += [Route("/admin", unknown, methods=every), Route("/admin/{path:path}", unknown, methods=every)]
    return routes


def service_for(services: Any) -> AdminService:
    """An AdminService on the gateway's own tables that, in the same process, also drops the
    gateway's cached key records and scope limits at once (deployed gateways wait their TTL)."""
    aws = services.aws

    def on_change(kind: str, ident: str) -> None:
        if kind == "key":
            services.keys.invalidate(ident)
            return
        for stage in services.pipeline.stages:
            limits = getattr(stage, "limits", None)
            if limits is not None and hasattr(limits, "invalidate"):
                limits.invalidate()

    return AdminService(lambda: aws.table(ENTITIES), lambda: aws.table(COUNTERS), on_change=on_change,
                        guardrails=guardrails_of(services.config))


__all__ = ["admin_routes", "guardrails_of", "local_routes", "service_for"]


def local_routes(services: Any, local: Any = None) -> list[Route]:
    """LOCAL_ROUTE_FACTORIES entry for `aigw dev`: the admin API, and the dev key's team."""
    service = service_for(services)
    from aigw.admin.models import TeamCreate
    from aigw.local.environment import DEV_TEAM

    with contextlib.suppress(Exception):  # an existing dev team with other settings is fine
        service.create_team(TeamCreate(id=DEV_TEAM, name="local development"))
    return admin_routes(service, os.environ.get(ENV_ADMIN_TOKEN))
