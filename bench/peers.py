"""Peers benchmark: `python bench/peers.py [--requests 400] [--rounds 3] [--seconds 5]`.

Installs pinned peers into throwaway environments under `.bench-peers/` (LiteLLM's proxy with
pip, Portkey's gateway with npm; once, then reused), starts each of them and our gateway (the
core path: no DynamoDB on the path) in front of ONE fake OpenAI upstream, and measures them
from this process in interleaved rounds, so load on the machine hits everyone alike:

  added latency    gateway minus direct-to-upstream, one request at a time, p50 / p99, for a
                   non-streaming call, a stream's first content byte (TTFT) and its end ([DONE])
  throughput       non-streaming, `--connections` concurrent clients, `--seconds` each
  RSS              of the gateway's process tree after its run

`--floor` adds a column for a process that only moves bytes (bench/relay.py): what the extra
hop costs by itself on this machine, beneath any gateway's own work.

Prints one table with ratios to ours. Not part of CI; figures go in the README with the date
and machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import run_throughput
from run import BODY, DEV_KEY, STREAM_BODY, free_port, percentile, start, wait_until_up

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / ".bench-peers"
LITELLM_VERSION = "1.100.5"
PORTKEY_VERSION = "1.15.2"


@dataclass
class Gateway:
    name: str
    url: str  # the chat completions URL
    headers: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    samples: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # kind -> why (e.g. Portkey 1.15.2's streams: 500, see README)
    rps: float = 0.0
    rss_mb: float = 0.0


def install_litellm() -> Path:
    venv = PEERS / f"litellm-{LITELLM_VERSION}"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "litellm").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"],
                       check=True)
    return venv / "bin" / "litellm"


def install_portkey() -> Path:
    folder = PEERS / f"portkey-{PORTKEY_VERSION}"
    entry = folder / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    if not entry.exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder),
                        f"@portkey-ai/gateway@{PORTKEY_VERSION}"], check=True)
    return entry


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, from /proc."""
    total_kb = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(c) for c in children)
    return total_kb / 1024


def one_call(client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str],
             stream: bool) -> tuple[float, float]:
    """(time to first content byte, time to the end), in ms."""
    started = time.perf_counter()
    if not stream:
        response = client.post(url, json=body, headers=headers)
        assert response.status_code == 200, response.text[:300]
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, elapsed
    first = None
    with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            raise AssertionError(f"{url}: {response.status_code} {response.read()[:300]!r}")
        for chunk in response.iter_raw():
            if first is None and b'"content":"' in chunk and b'"content":""' not in chunk:
                first = (time.perf_counter() - started) * 1000
    end = (time.perf_counter() - started) * 1000
    return (first if first is not None else end), end


def measure(client: httpx.Client, gateways: list[Gateway], direct: Gateway, n: int,
            rng: random.Random | None = None) -> None:
    """One round: every gateway and the upstream itself, alternating request by request, in an
    order shuffled for every sweep: a request runs on the caches the one before it left (the
    Python gateways share the interpreter's code), and in a fixed order the second of two
    checkouts of ours was 0.05-0.13 ms faster than the first, whichever checkout it was.
    (Rotating the order keeps who follows whom, but at the seam.)"""
    rng = rng or random.Random(0)
    for body, stream in ((BODY, False), (STREAM_BODY, True)):
        kind = "stream" if stream else "json"
        working = []
        for everyone in (direct, *gateways):
            try:
                one_call(client, everyone.url, body, everyone.headers, stream)  # warm the connection
                working.append(everyone)
            except AssertionError as exc:
                everyone.failed[kind] = str(exc)[-120:]
        order = list(working)
        for _ in range(n):
            rng.shuffle(order)
            for everyone in order:
                ttft, end = one_call(client, everyone.url, body, everyone.headers, stream)
                if stream:
                    everyone.samples.setdefault("ttft", []).append(ttft)
                    everyone.samples.setdefault("done", []).append(end)
                else:
                    everyone.samples.setdefault("json", []).append(end)


def start_ours(upstream: str, config_dir: Path, tree: Path | None = None, *,
               settle_after_response: bool = False) -> Gateway:
    """Our gateway; with `tree`, the one in that checkout (e.g. main, to compare a branch with);
    with `settle_after_response`, that setting on (responses end before the log line and metrics)."""
    config = config_dir / f"aigw-{'sar' if settle_after_response else 'default'}.json"
    config.write_text(json.dumps({"models": [{"name": "gpt-4o-mini", "deployments": [
        {"provider": "openai-compatible", "model": "gpt-4o-mini", "api_base": upstream}]}],
        "settings": {"settle_after_response": settle_after_response}}))
    port = free_port()
    env = {"PYTHONPATH": f"{tree / 'functions'}{os.pathsep}{tree}"} if tree else None
    proc = start([sys.executable, str((tree or ROOT) / "bench" / "gateway_server.py"), "--port", str(port),
                  "--config", str(config), "--key", DEV_KEY, "--core", "--no-moto"], env)
    wait_until_up(f"http://127.0.0.1:{port}/health")
    name = f"aigw ({tree.name})" if tree else "aigw (core, settle after)" if settle_after_response else "aigw (core)"
    return Gateway(name, f"http://127.0.0.1:{port}/v1/chat/completions",
                   {"authorization": f"Bearer {DEV_KEY}"}, proc)


def start_litellm(binary: Path, upstream: str, config_dir: Path) -> Gateway:
    config = config_dir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: gpt-4o-mini\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: {upstream}\n"
        "      api_key: sk-fake\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "  drop_params: true\n")
    port = free_port()
    proc = subprocess.Popen([str(binary), "--config", str(config), "--port", str(port), "--num_workers", "1"],
                            cwd=config_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"})
    wait_until_up(f"http://127.0.0.1:{port}/health/liveliness", timeout=180)
    return Gateway(f"LiteLLM {LITELLM_VERSION}", f"http://127.0.0.1:{port}/v1/chat/completions",
                   {"authorization": "Bearer sk-fake"}, proc)


def start_portkey(entry: Path, upstream: str) -> Gateway:
    port = free_port()
    proc = subprocess.Popen(["node", str(entry), f"--port={port}", "--headless"], cwd=entry.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PORT": str(port)})
    wait_until_up(f"http://127.0.0.1:{port}/", timeout=60)
    return Gateway(f"Portkey {PORTKEY_VERSION}", f"http://127.0.0.1:{port}/v1/chat/completions",
                   {"authorization": "Bearer sk-fake", "x-portkey-provider": "openai",
                    "x-portkey-custom-host": upstream}, proc)


def start_relay(upstream_port: int) -> Gateway:
    """The floor: a process that only moves bytes (bench/relay.py)."""
    port = free_port()
    proc = start([sys.executable, "bench/relay.py", "--port", str(port), "--upstream-port", str(upstream_port)])
    wait_until_up(f"http://127.0.0.1:{port}/")
    return Gateway("byte relay (floor)", f"http://127.0.0.1:{port}/v1/chat/completions", {}, proc)


def table(direct: Gateway, gateways: list[Gateway]) -> str:
    ours = gateways[0]

    def added(g: Gateway, kind: str) -> str:
        if kind not in g.samples:
            return "fails"
        p50, p99 = (percentile(g.samples[kind], q) - percentile(direct.samples[kind], q) for q in (0.5, 0.99))
        return f"{p50:.2f} / {p99:.2f}"

    rows: list[tuple[str, Callable[[Gateway], str]]] = [
        ("added latency, non-stream, p50 / p99 (ms)", lambda g: added(g, "json")),
        ("added latency, stream TTFT, p50 / p99 (ms)", lambda g: added(g, "ttft")),
        ("added latency, stream to [DONE], p50 / p99 (ms)", lambda g: added(g, "done")),
        ("throughput, one process (req/s)", lambda g: f"{g.rps:,.0f}"),
        ("throughput vs ours", lambda g: f"{g.rps / ours.rps:.2f}x" if ours.rps else "-"),
        ("RSS after the run (MB)", lambda g: f"{g.rss_mb:.0f}"),
    ]
    width = 50
    lines = [f"{'':<{width}}" + "".join(f"{g.name:>27}" for g in gateways)]
    for label, cell in rows:
        lines.append(f"{label:<{width}}" + "".join(f"{cell(g):>27}" for g in gateways))
    for g in gateways:
        for kind, why in g.failed.items():
            lines.append(f"{g.name}: {kind} requests fail: {why}")
    direct_p50 = percentile(direct.samples["json"], 0.5)
    lines.append(f"\nupstream served directly: {direct.rps:,.0f} req/s; p50 {direct_p50:.2f} ms non-stream")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per kind per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--only-ours", action="store_true", help="skip the peers (no install)")
    parser.add_argument("--settle-after-response", action="store_true",
                        help="also run ours with settings.settle_after_response on (its own column)")
    parser.add_argument("--baseline", type=Path, action="append", default=[],
                        help="also run our gateway from this checkout (repeatable), to compare branches")
    parser.add_argument("--upstream-one-write", action="store_true",
                        help="the fake upstream sends a JSON answer's head and body in one write, as most "
                             "servers do (uvicorn, the default here, writes them apart)")
    parser.add_argument("--floor", action="store_true",
                        help="also run a byte relay (bench/relay.py): what one more Python hop costs by itself")
    args = parser.parse_args()

    litellm = portkey = None
    if not args.only_ours:
        litellm = install_litellm()
        portkey = install_portkey() if shutil.which("node") else None
    upstream_port = free_port()
    upstream = f"http://127.0.0.1:{upstream_port}/v1"
    procs: list[subprocess.Popen[bytes]] = [start([sys.executable, "bench/fake_upstream.py", "--port",
                                                   str(upstream_port),
                                                   *(["--one-write"] if args.upstream_one_write else [])])]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            wait_until_up(f"http://127.0.0.1:{upstream_port}/")
            direct = Gateway("upstream", upstream + "/chat/completions", {})
            gateways = [start_ours(upstream, Path(tmp))]
            if args.settle_after_response:
                gateways.append(start_ours(upstream, Path(tmp), settle_after_response=True))
            gateways.extend(start_ours(upstream, Path(tmp), tree.resolve()) for tree in args.baseline)
            if litellm is not None:
                gateways.append(start_litellm(litellm, upstream, Path(tmp)))
            if portkey is not None:
                gateways.append(start_portkey(portkey, upstream))
            if args.floor:
                gateways.append(start_relay(upstream_port))
            procs.extend(g.proc for g in gateways if g.proc is not None)
            with httpx.Client(timeout=60) as client:
                for _ in range(args.rounds):
                    measure(client, gateways, direct, args.requests // args.rounds)
            for _ in range(args.rounds):  # interleaved too; the best round of each (the least disturbed)
                direct.rps = max(direct.rps, run_throughput(direct.url, BODY, {}, args.seconds, args.connections))
                for g in gateways:
                    g.rps = max(g.rps, run_throughput(g.url, BODY, g.headers, args.seconds, args.connections))
            for g in gateways:
                assert g.proc is not None
                g.rss_mb = rss_mb(g.proc.pid)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    print(f"\npeers, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; {args.requests} sequential requests "
          f"per kind in {args.rounds} interleaved rounds; throughput with {args.connections} connections, "
          f"best of {args.rounds} interleaved rounds; the upstream writes a JSON answer's head and body "
          f"{'together' if args.upstream_one_write else 'apart'}\n")
    print(table(direct, gateways))


if __name__ == "__main__":
    main()
