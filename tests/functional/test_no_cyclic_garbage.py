"""A request on the hot path leaves no garbage that only the cyclic collector can free.

Whatever refcounting cannot free, CPython's collector gathers in a pause of the event loop
(about 0.2 ms for a few thousand objects, every few dozen requests): a tail-latency cost on
every request in flight, and on Lambda, where a function serves one request at a time, added
to whichever request is running. httpx's response and its bound stream refer to each other;
`UpstreamClient` breaks that cycle once the response is closed. This test finds any new one.
The app is called as ASGI directly (no client library in this process to leave its own
cycles), in a child process of its own: the collector gathers the whole process's garbage, and
in pytest's process other tests' server threads close connections (an asyncio socket transport
refers to itself) in the middle of the count. The upstream runs in another child."""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aigw.aws import AwsResources
from aigw.config import load_config
from aigw.gateway import build_services
from aigw.http.app import create_app
from aigw.observability import Observer
from tests.fakes.asgi_direct import OneKeyTables, post

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-aigw-garbage000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT)])}
    child = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fake_upstream.py"), "--port", str(port)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                import time

                time.sleep(0.05)
        yield url + "/v1"
    finally:
        child.terminate()
        child.wait(timeout=10)


def count_garbage(upstream: str, stream: bool) -> collections.Counter[str]:
    """What the collector finds after 50 requests, once first-use caches are warm."""
    config = load_config({"models": [{"name": "gpt-4o-mini", "deployments": [
        {"provider": "openai-compatible", "model": "gpt-4o-mini", "api_base": upstream}]}]})
    observer = Observer(sink=lambda _: None, stream=open(os.devnull, "w"))  # noqa: SIM115
    services = build_services(config, aws=AwsResources(dynamodb=OneKeyTables(KEY, team="gc")), observer=observer,
                              stages=[])
    app = create_app(services, warm=False)
    raw = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}],
                      "stream": stream}).encode()

    async def run() -> collections.Counter[str]:
        for _ in range(20):  # first-use caches (key, URL, connection) are not per-request garbage
            assert (await post(app, "/v1/chat/completions", raw, KEY))[0]["status"] == 200
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(50):
                sent = await post(app, "/v1/chat/completions", raw, KEY)
                assert sent[0]["status"] == 200
                if stream:
                    assert b"[DONE]" in b"".join(m.get("body", b"") for m in sent)
            gc.collect()
            return collections.Counter(type(o).__name__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            await services.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_hot_path_requests_leave_no_cyclic_garbage(upstream: str, stream: bool) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "functions"), str(ROOT)])}
    child = subprocess.run([sys.executable, "-m", "tests.functional.test_no_cyclic_garbage", upstream,
                            "stream" if stream else "json"], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    left = collections.Counter(json.loads(child.stdout.splitlines()[-1]))
    assert not left, f"cyclic garbage from 50 requests: {left.most_common(10)}"


if __name__ == "__main__":
    print(json.dumps(count_garbage(sys.argv[1], sys.argv[2] == "stream")))
