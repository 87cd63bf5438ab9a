"""Client latency with and without `settings.settle_after_response`, against a slow settlement:
`python bench/bench_settle_after_response.py [--requests 60] [--settle-ms 25]`.

The gateway runs under uvicorn on loopback against moto, with a budget on the key's team so
settlement is a TransactWriteItems; that write is made `--settle-ms` slower (DynamoDB's
in-region TransactWriteItems is of that order; moto's own time comes on top). Each request is
one invocation of a fake Lambda (tests/fakes/lambda_runtime.py), this script playing Lambda Web
Adapter. Printed per mode, in ms: what the client waits (p50/p95), and the invocation's
duration until every extension has called `next` (what Lambda bills and when it may freeze).
Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import httpx

from aigw.budgets.scopes import entity_key
from aigw.budgets.spec import Budget, budget_to_item
from aigw.config import load_config
from aigw.gateway import build_services
from aigw.http.app import create_app
from aigw.lambda_ext import install
from aigw.local.environment import create_key, serve_in_thread, start_local_aws
from aigw.names import ENTITIES
from aigw.observability import Observer
from tests.fakes.lambda_runtime import RUNTIME, FakeLambda

MODELS = [{"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]}]
BODY = {"model": "mock-fast", "max_tokens": 20, "messages": [{"role": "user", "content": "hello there"}]}


def slow_settlement(store: Any, delay_s: float) -> None:
    real = store.transact

    def transact(items: Any, *, token: str | None = None) -> Any:
        if token is not None and token.startswith("s"):
            time.sleep(delay_s)
        return real(items, token=token)

    store.transact = transact


def run(local: Any, *, on: bool, requests: int, delay_s: float) -> tuple[list[float], list[float]]:
    fake = FakeLambda().start()
    os.environ["AWS_LAMBDA_RUNTIME_API"] = fake.address
    config = load_config({"models": MODELS, "settings": {"settle_after_response": on}})
    services = build_services(config, aws=local.aws, observer=Observer(sink=lambda _: None))
    admission = next(s for s in services.pipeline.stages if s.name == "admission")
    slow_settlement(admission.admission.store, delay_s)  # type: ignore[attr-defined]
    server = serve_in_thread(install(create_app(services), services.config.settings))
    team = "bench-" + uuid.uuid4().hex[:6]
    local.aws.table(ENTITIES).put_item(Item={**entity_key("team", team), "budgets": [
        budget_to_item(Budget(period="month", limit_usd=Decimal(1000)))]})
    key, _ = create_key(local.aws, team=team)
    client_ms: list[float] = []
    invocation_ms: list[float] = []
    extension_calls = 1
    try:
        with httpx.Client(timeout=10) as rt, httpx.Client(timeout=10) as client:
            if on:
                fake.wait_extension_next(extension_calls)
            for n in range(requests + 5):  # the first five warm the caches
                invoked = time.monotonic()
                fake.invoke({})
                nxt = rt.get(f"http://{fake.address}{RUNTIME}/invocation/next")
                request_id = nxt.headers["Lambda-Runtime-Aws-Request-Id"]
                started = time.monotonic()
                answer = client.post(server.url + "/v1/chat/completions", json=BODY, headers={
                    "authorization": f"Bearer {key}", "x-amzn-lambda-context": json.dumps({"request_id": request_id})})
                answered = time.monotonic()
                assert answer.status_code == 200, answer.text
                rt.post(f"http://{fake.address}{RUNTIME}/invocation/{request_id}/response", content=answer.content)
                if on:
                    extension_calls += 1
                    ended = fake.wait_extension_next(extension_calls)
                else:
                    ended = time.monotonic()
                if n >= 5:
                    client_ms.append((answered - started) * 1000)
                    invocation_ms.append((max(ended, answered) - invoked) * 1000)
    finally:
        server.stop()
        fake.stop()
    return client_ms, invocation_ms


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(sorted(samples), n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--settle-ms", type=float, default=25.0)
    args = parser.parse_args()
    local = start_local_aws(load_config({"models": MODELS}))
    print(f"settlement write slowed by {args.settle_ms:g} ms; {args.requests} sequential requests per mode")
    print(f"{'settle_after_response':<22} {'client p50':>11} {'client p95':>11} {'invocation p50':>15}")
    for on in (False, True, False, True):  # interleaved rounds
        client_ms, invocation_ms = run(local, on=on, requests=args.requests, delay_s=args.settle_ms / 1000)
        print(f"{str(on).lower():<22} {statistics.median(client_ms):>11.1f} {pct(client_ms, 95):>11.1f} "
              f"{statistics.median(invocation_ms):>15.1f}")


if __name__ == "__main__":
    main()
