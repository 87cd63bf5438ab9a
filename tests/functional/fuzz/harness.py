"""The fuzzed gateway: the real ASGI app (front doors, pipeline, admin routes) over a moto of
its own (moto_process.py: thousands of fuzzed teams and keys never reach other tests' tables),
the `mock` provider (an instant upstream), called in-process on one event loop that lives for
the module, so batches of requests run concurrently."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import httpx
from anyio.from_thread import BlockingPortal

from aigw.admin.models import TeamCreate
from aigw.admin.routes import admin_routes, service_for
from aigw.aws import AwsResources
from aigw.budgets.spec import Budget
from aigw.config import load_config
from aigw.gateway import build_services
from aigw.http.app import create_app
from aigw.local.environment import create_key
from aigw.observability import Observer
from aigw.services import Services

ADMIN_TOKEN = "fuzz-admin-token-0123456789"
# Bodies per door (and admin requests) in CI: 5,000. AIGW_FUZZ_SCALE=0.1 for a quick local
# run, 10 for a long one; the run stays the same for a given scale (derandomized).
FUZZ_SCALE = float(os.environ.get("AIGW_FUZZ_SCALE", "1"))


def scaled(count: int) -> int:
    return max(int(count * FUZZ_SCALE), 50)
CACHED_TEAM = "fz-cache"
CONFIG: dict[str, Any] = {
    "models": [
        {"name": "mock-fast", "price": {"input_per_mtok": 1, "output_per_mtok": 2},
         "deployments": [{"provider": "mock", "model": "mock-fast"}]},
        {"name": "mock-embed", "mode": "embedding", "price": {"input_per_mtok": 0.02, "output_per_mtok": 0},
         "deployments": [{"provider": "mock", "model": "mock-embed"}]},
    ],
    "cache": {"exact": False, "teams": {CACHED_TEAM: {"exact": True}}},
}
# Statuses by front door, over the whole session: printed at the end (the issue asks for them).
FUZZ_COUNTS: dict[str, Counter[int]] = {}


@dataclass
class Sent:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # Hypothesis prints every request of a failing batch: keep it short
        return f"Sent({self.method} {self.path} {(self.body or b'')[:120]!r}...)"


@dataclass
class Got:
    sent: Sent
    status: int
    headers: httpx.Headers
    content: bytes

    def describe(self) -> str:
        body = (self.sent.body or b"")[:600]
        return f"{self.sent.method} {self.sent.path} -> {self.status} {self.content[:600]!r}\n  sent: {body!r}"


@dataclass
class FuzzGateway:
    services: Services
    aws: AwsResources
    portal: BlockingPortal
    app: Any
    admin_service: Any
    keys: dict[str, str]  # plain, budget, cached
    records: list[dict[str, Any]]
    key_ids: list[str] = field(default_factory=list)
    team_ids: list[str] = field(default_factory=list)
    http: httpx.AsyncClient | None = None  # set: requests go over a real server instead of in-process

    def send(self, batch: list[Sent]) -> list[Got]:
        return self.portal.call(self._send_all, batch)

    async def _send_all(self, batch: list[Sent]) -> list[Got]:
        return list(await asyncio.gather(*(self._one(s) for s in batch)))

    async def _one(self, sent: Sent) -> Got:
        if self.http is None:
            return await call_asgi(self.app, sent)
        headers = {k: v.encode("latin-1") for k, v in sent.headers.items()}  # as sent: latin-1 bytes
        response = await self.http.request(sent.method, sent.path, content=sent.body, headers=headers)
        return Got(sent, response.status_code, response.headers, response.content)


async def call_asgi(app: Any, sent: Sent) -> Got:
    """One request through the ASGI app, as a server would make it: the whole body in one
    message, the response collected (httpx.ASGITransport does the same with a client's
    cookie and URL handling on top, about a millisecond a request)."""
    path, _, query = sent.path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": sent.method,
             "scheme": "http", "path": unquote(path), "raw_path": path.encode(), "query_string": query.encode(),
             "root_path": "", "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in sent.headers.items()],
             "client": ("127.0.0.1", 50000), "server": ("gateway", 80)}
    body = sent.body or b""
    delivered = False
    status = 0
    headers: list[tuple[bytes, bytes]] = []
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # only a disconnect would come next
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers") or [])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return Got(sent, status, httpx.Headers(headers), b"".join(chunks))


def make_gateway(aws: AwsResources, portal: BlockingPortal) -> FuzzGateway:
    records: list[dict[str, Any]] = []
    services = build_services(load_config(CONFIG), aws=aws,
                              observer=Observer(stream=open(os.devnull, "w"), sink=records.append))  # noqa: SIM115
    services.warm()
    service = service_for(services)
    app = create_app(services, extra_routes=[lambda s: admin_routes(service, ADMIN_TOKEN)])
    service.create_team(TeamCreate(id=CACHED_TEAM))
    team_ids = ["fz-team", "fz-other"]
    for team in team_ids:
        service.create_team(TeamCreate(id=team, metadata={"owner": "fuzz"}))
    key_ids = [service.create_key(_key_body(team_ids[i % 2]))[0]["id"] for i in range(12)]
    keys = {"plain": create_key(aws)[0],
            "budget": create_key(aws, budgets=[Budget(period="day", limit_usd=Decimal("100000"))])[0],
            "cached": create_key(aws, team=CACHED_TEAM)[0]}
    return FuzzGateway(services, aws, portal, app, service, keys, records, key_ids, team_ids)


def _key_body(team: str) -> Any:
    from aigw.admin.models import KeyCreate

    return KeyCreate(team=team, metadata={"pool": True})


def record_counts(door: str, results: list[Got]) -> None:
    FUZZ_COUNTS.setdefault(door, Counter()).update(r.status for r in results)
