"""The gateway's HTTP server under real concurrency, on loopback: many clients at once, kept-alive
connections reused, JSON answers and streams interleaved, clients that leave mid-stream. Every
request that stays gets its whole answer, its own, on a connection that is never dropped.

A schedule on one connection (test_server.py) cannot show what a loaded server does to a
connection another request just left, or to one a client reuses while its last answer is
still being finished; this does, with the timings chosen at random."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw.local.environment import ServerHandle, serve_in_thread

FRAMES = 6


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echoes the request's id: as one JSON answer, or as a stream of frames that each carry it."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    request = json.loads(body)
    await asyncio.sleep(request["wait_s"])
    if not request["stream"]:
        answer = json.dumps({"id": request["id"], "size": len(body)}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]})
        await send({"type": "http.response.body", "body": answer})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    for i in range(FRAMES):
        await send({"type": "http.response.body", "body": b"data: %d %d\n\n" % (request["id"], i), "more_body": True})
        await asyncio.sleep(request["gap_s"])
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    handle = serve_in_thread(app)
    yield handle
    handle.stop()


def plan(number: int, rng: random.Random) -> tuple[float, bool, dict[str, Any]]:
    """(when it starts, whether the client leaves mid-stream, the request)."""
    start_s = 0 if rng.random() < 0.4 else rng.uniform(0, 0.6)
    stream = rng.random() < 0.5
    request = {"id": number, "stream": stream, "wait_s": rng.uniform(0, 0.01), "gap_s": rng.uniform(0, 0.003),
               "pad": "x" * rng.choice((0, 10, 2_000, 70_000))}  # past the server's read high-water mark too
    return start_s, stream and rng.random() < 0.25, request


async def one(client: httpx.AsyncClient, url: str, start_s: float, leaves: bool, request: dict[str, Any]) -> str:
    """What went wrong with one request, or "" when nothing did."""
    await asyncio.sleep(start_s)
    number, stream = request["id"], request["stream"]
    try:
        if not stream:
            response = await client.post(url, json=request)
            got = response.json()
            ok = response.status_code == 200 and got["id"] == number
            return "" if ok else f"{number}: {response.status_code} {got}"
        async with client.stream("POST", url, json=request) as response:
            frames = [line async for line in _data_lines(response, leave_after=2 if leaves else None)]
        want = [f"{number} {i}" for i in range(2 if leaves else FRAMES)] + ([] if leaves else ["[DONE]"])
        return "" if frames == want else f"{number}: frames {frames}"
    except httpx.TransportError as exc:
        return f"{number}: {type(exc).__name__}: {exc}"


async def _data_lines(response: httpx.Response, leave_after: int | None) -> Any:
    seen = 0
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            yield line[6:]
            seen += 1
            if seen == leave_after:
                return  # the client leaves: its connection is closed, not returned to the pool


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_every_request_gets_its_whole_answer_under_concurrency(server: ServerHandle, seed: int) -> None:
    rng = random.Random(seed)
    plans = [plan(n, rng) for n in range(160)]

    async def run() -> list[str]:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)  # fewer than requests: reuse
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            return list(await asyncio.gather(*(one(client, server.url + "/", *p) for p in plans)))

    wrong = [w for w in asyncio.run(run()) if w]
    assert not wrong, wrong[:5]
