"""`ExactRoutes` against Starlette's router, the definition: for any path and method, a
request it dispatches goes to the route the router would take with a full match, with the
same scope additions; everything else is the router's."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Match, Route

from aigw.aws import AwsResources
from aigw.config import load_config
from aigw.gateway import build_services
from aigw.http.app import ExactRoutes, create_app
from aigw.observability import Observer
from tests.fakes.asgi_direct import OneKeyTables

KEY = "sk-aigw-routes-0123456789abcdef0123456789abcdef"


def _app() -> Any:
    deployment = {"provider": "mock", "model": "m", "price": {"input_per_mtok": 1, "output_per_mtok": 1}}
    config = load_config({"models": [{"name": "m", "deployments": [deployment]}]})
    services = build_services(config, aws=AwsResources(dynamodb=OneKeyTables(KEY)),
                              observer=Observer(sink=lambda r: None), stages=[])
    return create_app(services, warm=False)


APP = _app()
ROUTER = APP.router
PATHS = [r.path for r in ROUTER.routes if isinstance(r, Route)]


def _definition(scope: dict[str, Any]) -> tuple[Route | None, dict[str, Any]]:
    """Starlette's choice: the first full match, else the first partial one."""
    partial = None
    for route in ROUTER.routes:
        match, child = route.matches(scope)
        if match == Match.FULL:
            return route, child
        if match == Match.PARTIAL and partial is None:
            partial = (route, child)
    return partial if partial is not None else (None, {})


paths = st.sampled_from([*PATHS, "/v1/models/m", "/v1/chat/completions/", "/v1/unknown", "/", "/v1/messages/x"]) | \
    st.text(st.sampled_from("/v1abcdemsgho"), max_size=20)


@settings(max_examples=400, deadline=None)
@given(path=paths, method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"]),
       root_path=st.sampled_from(["", "/prod"]))
def test_a_dispatched_request_goes_where_the_router_sends_it(path: str, method: str, root_path: str) -> None:
    exact = ExactRoutes(ROUTER)
    scope = {"type": "http", "path": root_path + path, "root_path": root_path, "method": method, "headers": []}
    taken: list[tuple[Any, dict[str, Any]]] = []

    async def fake_route_app(route: Route) -> Any:
        async def app(s: dict[str, Any], receive: Any, send: Any) -> None:
            taken.append((route, s))
        return app

    async def run() -> None:
        originals = []
        for route in exact.exact.values():
            originals.append((route, route.app))
            route.app = await fake_route_app(route)

        async def router(s: dict[str, Any], receive: Any, send: Any) -> None:
            taken.append(("router", s))

        stack, ROUTER.middleware_stack = ROUTER.middleware_stack, router  # what the router's __call__ runs
        try:
            await exact(dict(scope), None, None)
        finally:
            ROUTER.middleware_stack = stack
            for route, app in originals:
                route.app = app

    asyncio.run(run())
    (chosen, scope_seen), = taken
    if chosen == "router":
        return
    route, child = _definition(scope)
    assert route is chosen and route.matches(scope)[0] == Match.FULL
    assert scope_seen["endpoint"] is child["endpoint"] and scope_seen["path_params"] == child["path_params"]
    assert scope_seen["router"] is ROUTER


def test_the_hot_routes_are_found_by_lookup() -> None:
    exact = ExactRoutes(ROUTER)
    assert {"/v1/chat/completions", "/v1/messages", "/v1/responses", "/v1/embeddings"} <= set(exact.exact)
    assert "/{path:path}" not in exact.exact and all("{" not in p for p in exact.exact)


def test_the_app_answers_as_before() -> None:
    """Through the whole app: a wrong method still gets the router's 405, an unknown path its 404."""
    import httpx

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=APP)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            headers = {"authorization": f"Bearer {KEY}"}
            chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            return [(await client.options("/v1/chat/completions", headers=headers)).status_code,
                    (await client.post("/v1/nothing", headers=headers, json={})).status_code,
                    (await client.post("/v1/chat/completions", headers=headers, json=chat)).status_code,
                    (await client.get("/health")).status_code]

    assert asyncio.run(run()) == [405, 404, 200, 200]
