"""Gateway overhead benchmark: `python bench/run.py [--requests 1500] [--seconds 5]`.

Starts the fake OpenAI upstream and the gateway (bench/gateway_server.py, pointed at it) as
separate processes, then measures from this process, one request at a time, the latency of
the same call made directly to the upstream and through the gateway; the difference is what
the gateway adds. Two gateways are measured:
  core        the hot path with no stages: auth from the warm key cache, validation, routing,
              pricing, the log line and metrics; no DynamoDB call on the path;
  + stages    what the config turns on by default (admission and settlement: one
              TransactWriteItems before the upstream call and one after, here against moto).
Throughput is measured with concurrent clients. Also times the cold import of the Lambda
entry module. Prints a table; not a test. Admission alone: bench/bench_admission.py; the
cache layers: bench/bench_cache.py.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import run_throughput

ROOT = Path(__file__).resolve().parents[1]
DEV_KEY = "sk-aigw-bench0000000000000000000000000000000000000"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there, how are you today?"}]}
STREAM_BODY = {**BODY, "stream": True}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def sequential(client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str], n: int,
               stream: bool) -> list[float]:
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        if stream:
            with client.stream("POST", url, json=body, headers=headers) as response:
                for _ in response.iter_raw():
                    pass
                assert response.status_code == 200, response.status_code
        else:
            response = client.post(url, json=body, headers=headers)
            assert response.status_code == 200, response.text
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def cold_import(config_path: str, runs: int = 5) -> tuple[float, float]:
    """Median import time of functions/gateway/main.py, and of the startup work (boto3 + tokenizer)."""
    code = ("import time; t=time.perf_counter(); import main; i=time.perf_counter()-t; "
            "t=time.perf_counter(); main.app.state if hasattr(main.app,'state') else None; "
            "from aigw.gateway import build_services; "
            "import aigw.tokens as tk; import boto3; boto3.resource('dynamodb'); tk.warm(); "
            "print(i, time.perf_counter()-t)")
    imports, warms = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "functions" / "gateway", capture_output=True,
                             text=True, check=True,
                             env={**os.environ, "AIGW_CONFIG": config_path, "AWS_DEFAULT_REGION": "us-east-1",
                                  "PYTHONPATH": str(ROOT / "functions")})
        first, second = out.stdout.split()
        imports.append(float(first) * 1000)
        warms.append(float(second) * 1000)
    return statistics.median(imports), statistics.median(warms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    upstream_port = free_port()
    upstream = f"http://127.0.0.1:{upstream_port}/v1"
    config = {"models": [{"name": "gpt-4o-mini", "deployments": [
        {"provider": "openai-compatible", "model": "gpt-4o-mini", "api_base": upstream}]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
        config_path = handle.name
    upstream_proc = start([sys.executable, "bench/fake_upstream.py", "--port", str(upstream_port)])
    headers = {"authorization": f"Bearer {DEV_KEY}"}
    rows = []
    rps: dict[str, float] = {}
    try:
        wait_until_up(f"http://127.0.0.1:{upstream_port}/")
        with httpx.Client(timeout=30) as client:
            sequential(client, upstream + "/chat/completions", BODY, {}, 100, False)  # warm up
            rps["direct"] = run_throughput(upstream + "/chat/completions", BODY, {}, args.seconds, args.concurrency)
            for variant in ("core", "+ stages"):
                port = free_port()
                flags = ["--core"] if variant == "core" else []
                proc = start([sys.executable, "bench/gateway_server.py", "--port", str(port), "--config",
                              config_path, "--key", DEV_KEY, *flags])
                try:
                    gateway = f"http://127.0.0.1:{port}"
                    wait_until_up(gateway + "/health")
                    for name, body, stream in (("chat", BODY, False), ("chat stream", STREAM_BODY, True)):
                        sequential(client, gateway + "/v1/chat/completions", body, headers, 100, stream)
                        direct = sequential(client, upstream + "/chat/completions", body, {}, args.requests, stream)
                        via = sequential(client, gateway + "/v1/chat/completions", body, headers, args.requests,
                                         stream)
                        rows.append((f"{name} ({variant})", direct, via))
                    rps[variant] = run_throughput(gateway + "/v1/chat/completions", BODY, headers, args.seconds,
                                                    args.concurrency)
                finally:
                    proc.terminate()
                    proc.wait(timeout=10)
    finally:
        upstream_proc.terminate()
        upstream_proc.wait(timeout=10)
    import_ms, warm_ms = cold_import(config_path)
    os.unlink(config_path)

    print(f"\naigw gateway overhead ({args.requests} sequential requests per row; latency in ms)\n")
    print(f"{'call':<24}{'direct p50':>12}{'gateway p50':>13}{'added p50':>11}{'direct p99':>12}"
          f"{'gateway p99':>13}{'added p99':>11}")
    for name, direct, via in rows:
        d50, v50, d99, v99 = (percentile(direct, 0.5), percentile(via, 0.5), percentile(direct, 0.99),
                              percentile(via, 0.99))
        print(f"{name:<24}{d50:>12.3f}{v50:>13.3f}{v50 - d50:>11.3f}{d99:>12.3f}{v99:>13.3f}{v99 - d99:>11.3f}")
    print(f"\nthroughput, non-streaming, {args.concurrency} concurrent clients, {args.seconds:.0f} s each: "
          + ", ".join(f"{name} {value:,.0f} req/s" for name, value in rps.items()))
    print(f"cold start: import of the Lambda entry module {import_ms:.0f} ms (median of 5);"
          f" startup work before ready (boto3 resource + tiktoken encodings) {warm_ms:.0f} ms")


if __name__ == "__main__":
    main()
