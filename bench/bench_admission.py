"""Admission and settlement benchmark: `python bench/bench_admission.py [--requests 400]`.

What budgets and rate limits add to one request, locally, against moto in server mode (the
serialized loopback DynamoDB endpoint `aigw dev` uses), in one process:
  1. round trips to DynamoDB per request, counted with a botocore event hook;
  2. latency of the request through the gateway (uvicorn on loopback, httpx client, the
     mock-fast provider: no upstream latency), sequential requests, warm caches:
       no admission stage        the foundation's path (no DynamoDB at all)
       no limits on any scope    usage aggregates only: one TransactWriteItems after
       key budget                one TransactWriteItems before, one after
       key + team + global       the same two, with more items each (3 budgets + 2 windows)
         budgets, key+team RPM/TPM
  3. the raw TransactWriteItems calls alone (admission, settlement) against moto.
Prints a table of p50 / p95 / p99 in milliseconds; not a test. moto is slower per call than
DynamoDB's single-digit milliseconds in-region, so read the round-trip counts as the cost.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import httpx

from aigw.budgets.admission import plan
from aigw.budgets.scopes import ScopeRef, entity_key
from aigw.budgets.spec import Budget, Limits, budget_to_item
from aigw.budgets.stage import build_admission_stage
from aigw.config import load_config
from aigw.gateway import build_services, stage_deps
from aigw.http.app import create_app
from aigw.local.environment import create_key, start_local_aws
from aigw.names import ENTITIES
from aigw.observability import Observer

CONFIG = {"models": [{"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]}]}
BODY = {"model": "mock-fast", "max_tokens": 50, "messages": [{"role": "user", "content": "hello there, how are you?"}]}


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(sorted(samples), n=100, method="inclusive")
    return statistics.median(samples), q[94], q[98]


class CallCounter:
    """Counts DynamoDB API calls made through a boto3 resource's client."""

    def __init__(self, resource: Any) -> None:
        self.calls: list[str] = []
        resource.meta.client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)


class Server:
    """uvicorn in a thread on a socket with TCP_NODELAY (without it, loopback requests wait out the
    40 ms delayed ACK, which would hide everything measured here)."""

    def __init__(self, app: Any) -> None:
        import asyncio
        import socket
        import threading

        import uvicorn

        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve(sockets=[sock])), daemon=True)
        self._thread.start()
        while not self._server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def run_gateway(local: Any, counter: CallCounter, *, stage: bool, setup: Callable[[str], dict[str, Any]],
                n: int) -> tuple[list[float], dict[str, float]]:
    config = load_config(CONFIG)
    stages = [build_admission_stage(stage_deps(config, aws=local.aws))] if stage else []
    services = build_services(config, aws=local.aws, stages=stages,
                              observer=Observer(stream=io.StringIO(), metrics=False))
    server = Server(create_app(services))
    team = "bench-" + uuid.uuid4().hex[:6]
    key, _ = create_key(local.aws, team=team, **setup(team))
    headers = {"authorization": f"Bearer {key}"}
    timings: list[float] = []
    try:
        with httpx.Client(timeout=30) as client:
            for _ in range(50):  # warm: key cache, limits cache, connections
                assert client.post(server.url + "/v1/chat/completions", json=BODY, headers=headers).status_code == 200
            counter.calls.clear()
            for _ in range(n):
                started = time.perf_counter()
                response = client.post(server.url + "/v1/chat/completions", json=BODY, headers=headers)
                timings.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
    finally:
        server.stop()
    per_request: dict[str, float] = {}
    for name in counter.calls:
        per_request[name] = per_request.get(name, 0) + 1 / n
    return timings, per_request


def no_limits(team: str) -> dict[str, Any]:
    return {}


def key_budget(team: str) -> dict[str, Any]:
    return {"budgets": [Budget(period="month", limit_usd=Decimal(1000))]}


def all_scopes(local: Any) -> Callable[[str], dict[str, Any]]:
    def setup(team: str) -> dict[str, Any]:
        table = local.aws.table(ENTITIES)
        table.put_item(Item={**entity_key("team", team), "budgets": [budget_to_item(Budget(
            period="day", limit_usd=Decimal(1000)))], "rpm": 100000, "tpm": 100000000})
        table.put_item(Item={**entity_key("global", "global"), "budgets": [budget_to_item(Budget(
            period="month", limit_usd=Decimal(100000)))]})
        return {"budgets": [Budget(period="month", limit_usd=Decimal(1000))], "rpm": 100000, "tpm": 100000000}
    return setup


def raw_transactions(local: Any, n: int) -> tuple[list[float], list[float]]:
    stage = build_admission_stage(stage_deps(load_config(CONFIG), aws=local.aws))
    store = stage.admission.store
    scopes = {ScopeRef("key", "raw-" + uuid.uuid4().hex[:6]): Limits(budgets=[Budget(period="month",
                                                                                      limit_usd=Decimal(10**6))])}
    admit_ms, settle_ms = [], []
    for _ in range(n):
        charges = plan(scopes, usd=Decimal("0.0001"), tokens=100, now=time.time())
        items = [c.counter.reserve(store.table_name(), usd=c.usd, tokens=c.tokens, caps=c.caps, expires_at=None)
                 for c in charges]
        started = time.perf_counter()
        store.transact(items)
        admit_ms.append((time.perf_counter() - started) * 1000)
        items = [c.counter.settle(store.table_name(), reserved_usd=c.usd, reserved_tokens=c.tokens,
                                  spent_usd=Decimal("0.00005"), spent_tokens=60) for c in charges]
        started = time.perf_counter()
        store.transact(items)
        settle_ms.append((time.perf_counter() - started) * 1000)
    return admit_ms, settle_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    local = start_local_aws(load_config({}))
    counter = CallCounter(local.aws.dynamodb_resource())
    try:
        cases = [
            ("no admission stage (foundation path)", False, no_limits),
            ("stage on, no limits on any scope", True, no_limits),
            ("key budget", True, key_budget),
            ("key+team+global budgets, key+team RPM/TPM", True, all_scopes(local)),
        ]
        results = [(name, *run_gateway(local, counter, stage=stage, setup=setup, n=args.requests))
                   for name, stage, setup in cases]
        admit_ms, settle_ms = raw_transactions(local, args.requests)
    finally:
        local.stop()

    base = percentiles(results[0][1])
    print(f"\nadmission and settlement, {args.requests} sequential non-streaming requests per row (mock-fast,"
          " moto server on loopback); latency in ms\n")
    print(f"  {'path':<44}{'p50':>8}{'p95':>8}{'p99':>8}{'+p50':>8}{'+p99':>8}   DynamoDB calls per request")
    for name, timings, calls in results:
        p50, p95, p99 = percentiles(timings)
        described = ", ".join(f"{v:.2f} {k}" for k, v in sorted(calls.items())) or "none"
        print(f"  {name:<44}{p50:>8.2f}{p95:>8.2f}{p99:>8.2f}{p50 - base[0]:>8.2f}{p99 - base[2]:>8.2f}   "
              f"{described}")
    print("\n  raw calls against moto (one key budget item)")
    for name, samples in (("admission TransactWriteItems", admit_ms), ("settlement TransactWriteItems", settle_ms)):
        p50, p95, p99 = percentiles(samples)
        print(f"  {name:<44}{p50:>8.2f}{p95:>8.2f}{p99:>8.2f}")


if __name__ == "__main__":
    main()
