"""Nothing heavy on the event loop: while a 7 MB prompt is counted for its reservation (a
second or more of tiktoken), /health and a small request are answered promptly."""

from __future__ import annotations

import asyncio
import random
import string
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aigw import tokens
from aigw.budgets.spec import Budget
from aigw.local.environment import serve_in_thread

pytestmark = pytest.mark.slow


async def chat(request: Request) -> JSONResponse:
    """An OpenAI-compatible upstream that does not look at the prompt (it must not hold the GIL
    the gateway's loop shares in this process) and answers after a short while."""
    size = len(await request.body())
    await asyncio.sleep(0.3 if size > 1_000_000 else 0.0)
    return JSONResponse({"id": "chatcmpl-big", "object": "chat.completion", "created": 0, "model": "m",
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}})


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = serve_in_thread(Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])]))
    yield server.url + "/v1"
    server.stop()


def prose(size: int) -> str:
    rng = random.Random(3)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    out: list[str] = []
    total = 0
    while total < size:
        word = rng.choice(words)
        out.append(word)
        total += len(word) + 1
    return " ".join(out)


def test_health_and_small_requests_while_a_7mb_prompt_is_counted(make_gateway: Any, upstream: str) -> None:
    gw = make_gateway({"models": [{"name": "big", "price": {"input_per_mtok": 0.01, "output_per_mtok": 0.01},
                                   "deployments": [{"provider": "openai-compatible", "model": "m",
                                                    "api_base": upstream}]}]})
    key = gw.create_key(team="big-" + uuid.uuid4().hex[:6], budgets=[Budget(period="day", limit_usd=Decimal(100))])
    headers = {"authorization": f"Bearer {key}"}
    text = prose(7 * 1024 * 1024)
    started = time.perf_counter()
    expected = tokens.count_text(text, "cl100k_base")
    counting_s = time.perf_counter() - started  # what the gateway would stall for, counting on the loop
    small = {"model": "big", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(timeout=30) as warm:
        assert warm.post(gw.base_url + "/chat/completions", headers=headers, json=small).status_code == 200

    result: dict[str, Any] = {}

    def send_big() -> None:
        body = {"model": "big", "max_tokens": 5, "messages": [{"role": "user", "content": text}]}
        with httpx.Client(timeout=60) as client:
            t0 = time.perf_counter()
            result["response"] = client.post(gw.base_url + "/chat/completions", headers=headers, json=body)
            result["seconds"] = time.perf_counter() - t0

    health: list[float] = []
    smalls: list[float] = []

    def ping(url: str, out: list[float], body: dict[str, Any] | None) -> None:
        with httpx.Client(timeout=30) as client:
            while big.is_alive():
                t0 = time.perf_counter()
                response = client.get(url) if body is None else client.post(url, headers=headers, json=body)
                assert response.status_code == 200
                out.append(time.perf_counter() - t0)
                time.sleep(0.02)

    big = threading.Thread(target=send_big)
    pingers = [threading.Thread(target=ping, args=(gw.url + "/health", health, None)),
               threading.Thread(target=ping, args=(gw.base_url + "/chat/completions", smalls, small))]
    big.start()
    for pinger in pingers:
        pinger.start()
    for pinger in pingers:
        pinger.join()
    big.join()
    assert result["response"].status_code == 200, result["response"].text[:300]
    record = next(r for r in reversed(gw.records) if float(r.get("reserved_usd", 0)) > 0.01)
    assert Decimal(record["reserved_usd"]) >= Decimal(expected) * Decimal("0.01") / 1_000_000  # it was counted
    smalls.sort()
    print(f"\n7 MB prompt: {expected} tokens, counting takes {counting_s:.2f} s; the big request took "
          f"{result['seconds']:.2f} s; meanwhile {len(health)} /health (max {max(health) * 1000:.0f} ms) and "
          f"{len(smalls)} small requests (median {smalls[len(smalls) // 2] * 1000:.0f} ms, max "
          f"{smalls[-1] * 1000:.0f} ms)")
    assert len(health) >= 5 and len(smalls) >= 3
    # Counting on the loop would hold every request for the whole count (measured: /health 1.6 s
    # and small requests 3.5 s with counting forced onto the loop, more than the count itself);
    # off the loop only this machine's load is left, and the typical /health is far under it.
    health.sort()
    assert max(health) < 0.5 * counting_s, f"/health waited {max(health):.2f} s (counting takes {counting_s:.2f} s)"
    assert health[len(health) // 2] < 0.25 * counting_s
    assert smalls[len(smalls) // 2] < 0.5 * counting_s
