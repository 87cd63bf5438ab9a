"""A request on the hot path leaves no garbage that only the cyclic collector can free.

Whatever refcounting cannot free, CPython's collector gathers in a pause of the event loop
(about 0.2 ms for a few thousand objects, every few dozen requests): a tail-latency cost on
every request in flight, and on Lambda, where a function serves one request at a time, added
to whichever request is running. httpx's response and its bound stream refer to each other;
`UpstreamClient` breaks that cycle once the response is closed. This test finds any new one.
The app is called as ASGI directly (no client library in this process to leave its own
cycles), and the upstream runs in a child process (its server's garbage is not ours)."""

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
from typing import Any

import httpx
import pytest

from aigw.auth.keys import hash_key, key_prefix
from aigw.auth.records import KeyRecord
from aigw.aws import AwsResources
from aigw.config import load_config
from aigw.gateway import build_services
from aigw.http.app import create_app
from aigw.observability import Observer

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-aigw-garbage000000000000000000000000000000000000"


class _OneKey:
    """A DynamoDB resource stand-in whose Entities table holds one key record."""

    def __init__(self) -> None:
        digest = hash_key(KEY)
        self.item = KeyRecord(key_hash=digest, key_id="key_" + digest[:12], key_prefix=key_prefix(KEY),
                              team_id="gc", created_at=0.0).to_item()

    def Table(self, name: str) -> _OneKey:
        return self

    def get_item(self, **_: object) -> dict[str, Any]:
        return {"Item": self.item}


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


async def _call(app: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = json.dumps(body).encode()
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.sleep(3600)  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
             "headers": [(b"authorization", f"Bearer {KEY}".encode()), (b"content-type", b"application/json")]}
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_hot_path_requests_leave_no_cyclic_garbage(upstream: str, stream: bool) -> None:
    config = load_config({"models": [{"name": "gpt-4o-mini", "deployments": [
        {"provider": "openai-compatible", "model": "gpt-4o-mini", "api_base": upstream}]}]})
    services = build_services(config, aws=AwsResources(dynamodb=_OneKey()), observer=Observer(sink=lambda _: None,
                              stream=open(os.devnull, "w")), stages=[])  # noqa: SIM115
    app = create_app(services, warm=False)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}], "stream": stream}

    async def run() -> collections.Counter[str]:
        for _ in range(20):  # first-use caches (key, URL, connection) are not per-request garbage
            assert (await _call(app, body))[0]["status"] == 200
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(50):
                sent = await _call(app, body)
                assert sent[0]["status"] == 200
                if stream:
                    assert b"[DONE]" in b"".join(m.get("body", b"") for m in sent)
            gc.collect()
            return collections.Counter(type(o).__name__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            await services.aclose()

    left = asyncio.run(run())
    assert not left, f"cyclic garbage from 50 requests: {left.most_common(10)}"
