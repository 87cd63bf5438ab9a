"""Memory of `aigw dev` under load: `python bench/dev_memory.py [--requests 20000] [--limits all]`.

Starts `aigw dev` (ephemeral unless `--keep-state`, log lines to /dev/null) as its own
process, sends chat requests to the mock provider from concurrent clients (a quarter of them
streamed), and samples the server's resident memory (VmRSS in /proc, Linux) as it goes.
Prints a table; not a test.

  --limits none   the dev key as `aigw dev` makes it: no limit anywhere, so one settlement
                  TransactWriteItems (3 usage items) per request
  --limits all    a key, its team and the global scope with budgets and RPM/TPM: admission
                  and settlement transactions with every item they can have (5 + 8)

`--without-workaround` starts the server with moto as it ships (no `forget_model_instances`,
no `copy_each_table_once`; aigw/local/moto_server.py explains both), to measure what they save.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEV_KEY = "sk-aigw-benchmemory00000000000000000000000000000000"
ADMIN_TOKEN = "bench-admin-token-0123456789"
# The same entry point as `aigw dev`; optionally with moto_server's workaround switched off.
LAUNCH = ("import sys; import aigw.local.moto_server as m\n"
          "if sys.argv.pop(1) == 'off': m.forget_model_instances = m.copy_each_table_once = lambda: None\n"
          "from aigw.cli import main; sys.exit(main())")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def start_dev(port: int, workaround: bool, state_dir: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AIGW_DEV_KEY": DEV_KEY, "AIGW_ADMIN_TOKEN": ADMIN_TOKEN,
           "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), os.environ.get("PYTHONPATH", "")])}
    state = ["--state-dir", state_dir] if state_dir else ["--ephemeral"]
    args = [sys.executable, "-c", LAUNCH, "on" if workaround else "off", "dev", "--port", str(port), *state,
            "--log-file", os.devnull]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("aigw dev exited at start")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("aigw dev did not start")


def set_limits(url: str) -> str:
    """A team and a key with budgets and rate limits, and a global budget: every scope applies."""
    admin = httpx.Client(base_url=url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)
    big = [{"period": "month", "limit_usd": "1000"}, {"period": "day", "limit_tokens": 10**12}]
    admin.post("/admin/teams", json={"id": "bench", "budgets": big, "rpm": 10**7, "tpm": 10**12}).raise_for_status()
    created = admin.post("/admin/keys", json={"team": "bench", "models": ["mock-*"], "budgets": big, "rpm": 10**7,
                                              "tpm": 10**12})
    created.raise_for_status()
    admin.put("/admin/budgets/global/global", json={"budgets": big}).raise_for_status()
    return str(created.json()["key"])


async def drive(url: str, key: str, total: int, concurrency: int, on_progress: Any) -> dict[int | str, int]:
    statuses: dict[int | str, int] = {}
    counter = iter(range(total))
    done = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=60,
                                 limits=limits) as client:
        async def worker() -> None:
            nonlocal done
            for i in counter:
                body: dict[str, Any] = {"model": "mock-fast", "max_tokens": 64,
                                        "messages": [{"role": "user", "content": f"request number {i}, say hi"}]}
                try:
                    if i % 4 == 0:
                        body["stream"] = True
                        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
                            async for _ in response.aiter_bytes():
                                pass
                            status: int | str = response.status_code
                    else:
                        status = (await client.post("/v1/chat/completions", json=body)).status_code
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                statuses[status] = statuses.get(status, 0) + 1
                done += 1
                on_progress(done)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--every", type=int, default=2_000, help="sample RSS every this many requests")
    parser.add_argument("--limits", choices=["none", "all"], default="none")
    parser.add_argument("--keep-state", action="store_true",
                        help="save state as `aigw dev` does by default (a temporary --state-dir), not --ephemeral")
    parser.add_argument("--without-workaround", action="store_true",
                        help="moto as it ships: instance tracking on, a table copy per transaction item")
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state_dir = tempfile.mkdtemp(prefix="aigw-bench-state-") if args.keep_state else None
    proc = start_dev(port, workaround=not args.without_workaround, state_dir=state_dir)
    try:
        key = set_limits(url) if args.limits == "all" else DEV_KEY
        start_rss = rss_mb(proc.pid)
        started = time.monotonic()
        limits = "key + team + global budgets and RPM/TPM" if args.limits == "all" else "no limits (the dev key)"
        label = "without the workaround (moto as shipped)" if args.without_workaround else "with the workaround"
        state = "state saved" if state_dir else "ephemeral"
        print(f"aigw dev, {label}, {state}: {args.requests} chat requests, {args.concurrency} concurrent clients, "
              f"{limits}")
        print(f"{'requests':>9} {'RSS MB':>8} {'KB/request since start':>23} {'req/s':>7}")
        print(f"{0:>9} {start_rss:>8.1f} {0.0:>23.1f} {0:>7}", flush=True)

        def progress(done: int) -> None:
            if done % args.every == 0 or done == args.requests:
                if proc.poll() is not None:
                    raise SystemExit(f"aigw dev exited (status {proc.returncode}) after {done} requests")
                rss, elapsed = rss_mb(proc.pid), time.monotonic() - started
                print(f"{done:>9} {rss:>8.1f} {(rss - start_rss) * 1024 / done:>23.1f} {done / elapsed:>7.0f}",
                      flush=True)

        statuses = asyncio.run(drive(url, key, args.requests, args.concurrency, progress))
        print(f"peak RSS (VmHWM) {rss_mb(proc.pid, 'VmHWM'):.1f} MB; statuses "
              f"{dict(sorted(statuses.items(), key=str))}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
