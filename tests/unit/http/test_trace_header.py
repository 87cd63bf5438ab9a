"""Under Lambda Web Adapter the invocation's X-Ray trace reaches the gateway only as the
`x-amzn-trace-id` header of the forwarded request (the adapter's process holds the env var),
so every request line, served or refused, takes its trace id from there."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import httpx

from aigw.aws import AwsResources
from aigw.config import load_config
from aigw.gateway import build_services
from aigw.http.app import create_app
from aigw.observability import Observer
from tests.fakes.asgi_direct import OneKeyTables

KEY = "sk-aigw-trace-0123456789abcdef0123456789abcdef"
TRACE = "1-5759e988-bd862e3fe1be46a994272793"
FORWARDED = f"Root={TRACE};Parent=53995c3f42cd8ad8;Sampled=1"  # lambda_http's form


def _serve(*requests: tuple[str, str, dict[str, str], Any]) -> list[dict[str, Any]]:
    stream = io.StringIO()
    deployment = {"provider": "mock", "model": "m", "price": {"input_per_mtok": 1, "output_per_mtok": 1}}
    config = load_config({"models": [{"name": "m", "deployments": [deployment]}]})
    services = build_services(config, aws=AwsResources(dynamodb=OneKeyTables(KEY)),
                              observer=Observer(stream=stream), stages=[])
    app = create_app(services, warm=False)

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            for method, path, headers, body in requests:
                await client.request(method, path, headers=headers, json=body)

    asyncio.run(run())
    records = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [r for r in records if r.get("message") == "request"]


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_served_and_refused_requests_carry_the_forwarded_trace_id() -> None:
    good = {"authorization": f"Bearer {KEY}", "x-amzn-trace-id": FORWARDED}
    bad_key = {"authorization": "Bearer sk-aigw-nope", "x-amzn-trace-id": FORWARDED}
    served, refused, not_allowed = _serve(("POST", "/v1/chat/completions", good, CHAT),
                                          ("POST", "/v1/chat/completions", bad_key, CHAT),
                                          ("OPTIONS", "/v1/chat/completions", good, None))
    assert (served["status"], refused["status"], not_allowed["status"]) == (200, 401, 405)
    assert served["xray_trace_id"] == refused["xray_trace_id"] == not_allowed["xray_trace_id"] == TRACE


def test_a_clients_own_header_value_never_reaches_the_log() -> None:
    forged = {"authorization": f"Bearer {KEY}", "x-amzn-trace-id": 'Root=1-"}\n{"level":"ERROR"'}
    [served] = _serve(("POST", "/v1/chat/completions", forged, CHAT))
    assert served["status"] == 200 and "xray_trace_id" not in served
