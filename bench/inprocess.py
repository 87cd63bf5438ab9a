"""The hot path in-process: `python bench/inprocess.py [--kind json|stream] [--requests 3000]
[--tree CHECKOUT] [--phases] [--cold [MB]] [--settle-after-response]`.

Calls the gateway's ASGI app directly (no client socket, no client library in this process)
on the core path (no stages), against the fake OpenAI upstream in a child process, and prints
the wall time per request including the upstream's own, and this process's CPU time per
request (the gateway's own work: the upstream's runs in its child). Run it alternately on two
checkouts (`--tree`) to compare them: this VM's speed drifts, so compare the best of a few
alternating runs. `--cold` evicts the CPU's caches before each request (it writes a buffer
larger than the last-level cache) and prints the CPU time of the requests alone: a request
then runs as a Lambda invocation after an idle spell runs, or as one in the peers bench, where
the other gateways' requests run in between (on this VM about 2.5x the warm figure).
`--phases` (non-stream) splits a request at its steps: key, body, validation and context,
pipeline to request, request building, framing and write, the upstream, the body read,
translation and usage, the log line and EMF, the JSON answer.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes (not aigw: --tree picks that)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import BODY, DEV_KEY, STREAM_BODY, free_port, start, wait_until_up
from tests.fakes.asgi_direct import OneKeyTables, post

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", choices=["json", "stream"], default="json")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout whose gateway to run")
    parser.add_argument("--phases", action="store_true", help="split a non-streaming request at its steps")
    parser.add_argument("--cold", type=int, nargs="?", const=128, metavar="MB",
                        help="evict the caches before each request by writing MB megabytes (default 128)")
    parser.add_argument("--settle-after-response", action="store_true",
                        help="with settings.settle_after_response on (its ASGI wrapper around the app)")
    args = parser.parse_args()
    tree = args.tree.resolve()
    sys.path[:0] = [str(tree / "functions"), str(tree)]

    port = free_port()
    upstream = start([sys.executable, str(ROOT / "bench" / "fake_upstream.py"), "--port", str(port)])
    try:
        wait_until_up(f"http://127.0.0.1:{port}/")
        app = _app(f"http://127.0.0.1:{port}/v1", settle_after_response=args.settle_after_response)
        marks: list[dict[str, float]] = []
        body = json.dumps(STREAM_BODY if args.kind == "stream" else BODY).encode()
        if args.cold:
            cpus = asyncio.run(_run_cold(app, body, args.requests, args.cold))
        else:
            elapsed, cpu = asyncio.run(_run(app, body, args.requests, marks if args.phases else None))
    finally:
        upstream.terminate()
    if args.cold:
        cpus.sort()
        print(f"{args.kind} ({tree.name}), cold caches: the gateway's CPU per request, median "
              f"{1e6 * statistics.median(cpus):.0f} us, p90 {1e6 * cpus[int(len(cpus) * 0.9)]:.0f} us")
        return
    print(f"{args.kind} ({tree.name}): {1000 * elapsed / args.requests:.3f} ms per request, wall, "
          f"the upstream's time included; the gateway's CPU {1e6 * cpu / args.requests:.0f} us per request")
    if args.phases:
        _print_phases(marks)


def _app(upstream: str, *, settle_after_response: bool = False) -> Any:
    from aigw.aws import AwsResources
    from aigw.config import load_config
    from aigw.gateway import build_services
    from aigw.http.app import create_app
    from aigw.lambda_ext import install
    from aigw.observability import Observer

    config = load_config({"models": [{"name": "gpt-4o-mini", "deployments": [
        {"provider": "openai-compatible", "model": "gpt-4o-mini", "api_base": upstream}]}],
        "settings": {"settle_after_response": settle_after_response}})
    services = build_services(config, aws=AwsResources(dynamodb=OneKeyTables(DEV_KEY)),
                              observer=Observer(stream=open(os.devnull, "w")), stages=[])  # noqa: SIM115
    return install(create_app(services, warm=False), services.config.settings)


async def _run(app: Any, body: bytes, n: int, marks: list[dict[str, float]] | None) -> tuple[float, float]:
    current: dict[str, float] = {}
    for _ in range(300):  # warm: the key cache, the connection, first-use imports
        await _one(app, body, current)
    if marks is not None:
        _instrument(current)
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        current.clear()
        current["start"] = time.perf_counter()
        await _one(app, body, current)
        current["answered"] = time.perf_counter()
        if marks is not None:
            marks.append(dict(current))
    return time.perf_counter() - started, time.process_time() - cpu


async def _run_cold(app: Any, body: bytes, n: int, megabytes: int) -> list[float]:
    """Each request's CPU time (this thread's), after writing to every cache line of a buffer
    larger than the last-level cache."""
    current: dict[str, float] = {}
    for _ in range(300):
        await _one(app, body, current)
    junk = bytearray(megabytes << 20)
    stride = 64  # a cache line
    marks = [bytes(len(junk[::stride])), b"\x01" * len(junk[::stride])]
    cpus = []
    for i in range(n):
        junk[::stride] = marks[i % 2]
        started = time.thread_time()
        await _one(app, body, current)
        cpus.append(time.thread_time() - started)
    return cpus


async def _one(app: Any, body: bytes, current: dict[str, float]) -> None:
    def mark(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            current["head"] = time.perf_counter()

    sent = await post(app, "/v1/chat/completions", body, DEV_KEY, mark)
    if sent[0]["status"] != 200:
        raise SystemExit(f"the gateway answered {sent[0]['status']}: {sent[1:]}")


PHASES = ["start", "key", "body", "context", "build", "built", "written", "upstream head", "upstream body",
          "log line", "logged", "rendering", "rendered", "head"]


def _instrument(current: dict[str, float]) -> None:
    """Time stamps at each step, by wrapping the functions that do them (this process only)."""
    from aigw.http import frontdoor, openai_api
    from aigw.observability import Observer
    from aigw.providers import http as provider_http
    from aigw.providers import upstream_client, wire

    def after(owner: Any, name: str, mark: str) -> None:
        original = getattr(owner, name, None)
        if original is None:  # an older checkout without this step: its phases are not printed
            return

        async def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            current[mark] = time.perf_counter()
            return result

        setattr(owner, name, wrapped)

    def around(owner: Any, name: str, before: str, done: str) -> None:
        original = getattr(owner, name, None)
        if original is None:  # as in `after`
            return

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            current[before] = time.perf_counter()
            result = original(*args, **kwargs)
            current[done] = time.perf_counter()
            return result

        setattr(owner, name, wrapped)

    after(frontdoor, "authenticate", "key")
    after(frontdoor, "read_body", "body")
    after(openai_api.OpenAIRoutes, "_chat", "context")
    around(provider_http.HttpChatProvider, "_build", "build", "built")  # a checkout before send_json
    around(upstream_client.UpstreamClient, "_json_head", "build", "built")
    original_send = wire._Connection.send

    async def send(self: Any, data: bytes, request: Any, timeouts: Any) -> None:
        current["written"] = time.perf_counter()
        await original_send(self, data, request, timeouts)
        current["upstream head"] = time.perf_counter()

    wire._Connection.send = send  # type: ignore[method-assign]
    after(upstream_client, "_read", "upstream body")  # a checkout before send_json
    after(wire.WireTransport, "exchange", "upstream body")
    around(Observer, "request_done", "log line", "logged")
    around(frontdoor, "render", "rendering", "rendered")


def _print_phases(marks: list[dict[str, float]]) -> None:
    rows = [m for m in marks if all(p in m for p in PHASES)]
    if not rows:
        print("no request passed every step (an older checkout?): no phases")
        return
    print(f"median per step over {len(rows)} requests (us):")
    for before, after in itertools.pairwise(PHASES):
        print(f"  {before:>14} -> {after:<14} {1e6 * statistics.median(m[after] - m[before] for m in rows):7.1f}")
    print(f"  {'start':>14} -> {'head':<14} {1e6 * statistics.median(m['head'] - m['start'] for m in rows):7.1f}")


if __name__ == "__main__":
    main()
