"""A gateway with the admin routes mounted, as `aigw dev` serves it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from aigw.admin.routes import admin_routes, service_for
from aigw.admin.service import AdminService
from aigw.config import load_config
from aigw.gateway import Services, build_services
from aigw.http.app import create_app
from aigw.local.environment import LocalAws, ServerHandle, serve_in_thread
from aigw.observability import Observer

ADMIN_TOKEN = "test-admin-token-0123456789"
CONFIG = {
    "models": [
        {"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]},
        {"name": "mock-stream", "deployments": [{"provider": "mock", "model": "mock-stream"}]},
        {"name": "gpt-4o-mini", "price": {"input_per_mtok": 0.15, "output_per_mtok": 0.6},
         "deployments": [{"provider": "mock", "model": "mock-fast"}]},
    ],
}


@dataclass
class AdminGateway:
    url: str
    services: Services
    service: AdminService
    records: list[dict[str, Any]]
    server: ServerHandle
    local: LocalAws

    def admin(self, method: str, path: str, *, token: str | None = ADMIN_TOKEN, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def chat(self, key: str, model: str = "mock-fast", **body: Any) -> httpx.Response:
        payload = {"model": model, "messages": [{"role": "user", "content": "hello there"}], **body}
        return httpx.post(self.url + "/v1/chat/completions", json=payload,
                          headers={"authorization": f"Bearer {key}"}, timeout=10)


@pytest.fixture
def admin_gw(local_aws: LocalAws) -> Iterator[AdminGateway]:
    records: list[dict[str, Any]] = []
    services = build_services(load_config(CONFIG), aws=local_aws.aws,
                              observer=Observer(stream=io.StringIO(), sink=records.append))
    service = service_for(services)
    app = create_app(services, extra_routes=[lambda s: admin_routes(service, ADMIN_TOKEN)])
    server = serve_in_thread(app)
    yield AdminGateway(server.url, services, service, records, server, local_aws)
    server.stop()
