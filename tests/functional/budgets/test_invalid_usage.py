"""Usage an upstream reports invalidly (negative, Infinity, absurd) is billed by the gateway's
own estimate: the request still succeeds, nothing is refunded, no 500, and the log says
`usage_invalid`. The upstream writes the literal JSON an upstream really can send."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from aigw.budgets.spec import Budget
from aigw.local.environment import serve_in_thread
from tests.functional.budgets.helpers import budget_items, key_id_of, snapshots

USAGES = {"negative": b'{"prompt_tokens": -1000000, "completion_tokens": 5, "total_tokens": -999995}',
          "infinite": b'{"prompt_tokens": Infinity, "completion_tokens": 5, "total_tokens": Infinity}',
          "absurd": b'{"prompt_tokens": 1e300, "completion_tokens": 1e300, "total_tokens": 1e300}'}
ANSWER = b'"choices": [{"index": 0, "message": {"role": "assistant", "content": "five words of an answer"}, ' \
         b'"finish_reason": "stop"}]'


async def chat(request: Request) -> Response:
    body = await request.json()
    usage = USAGES[str(body["model"]).split("/")[-1]]
    head = b'{"id": "chatcmpl-u", "object": "chat.completion", "created": 0, "model": "m", '
    if not body.get("stream"):
        return Response(head + ANSWER + b', "usage": ' + usage + b"}", media_type="application/json")

    async def events() -> Any:
        chunk = b'{"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": '
        yield b"data: " + chunk + b'[{"index": 0, "delta": {"role": "assistant", "content": "five words"}}]}\n\n'
        yield b"data: " + chunk + b'[{"index": 0, "delta": {}, "finish_reason": "stop"}]}\n\n'
        yield b"data: " + chunk + b'[], "usage": ' + usage + b"}\n\n"
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = serve_in_thread(Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])]))
    yield server.url + "/v1"
    server.stop()


@pytest.mark.parametrize("kind", sorted(USAGES))
@pytest.mark.parametrize("stream", [False, True])
def test_invalid_usage_is_billed_by_the_estimate(make_gateway: Any, upstream: str, kind: str, stream: bool) -> None:
    gw = make_gateway({"models": [{"name": "u", "price": {"input_per_mtok": 1, "output_per_mtok": 2},
                                   "deployments": [{"provider": "openai-compatible", "model": f"v/{kind}",
                                                    "api_base": upstream}]}]})
    key = gw.create_key(team="usage-" + uuid.uuid4().hex[:6], budgets=[Budget(period="day", limit_usd=Decimal(1))])
    body = {"model": "u", "max_tokens": 50, "messages": [{"role": "user", "content": "say five words"}],
            "stream": stream}
    response = httpx.post(gw.base_url + "/chat/completions", json=body, headers={"authorization": f"Bearer {key}"},
                          timeout=10)
    assert response.status_code == 200, response.text[:300]
    if not stream:
        usage = response.json()["usage"]
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] >= 0  # the gateway's own numbers
    record = gw.last_record()
    assert record["usage_invalid"] and record["usage_estimated"] and record["input_tokens"] > 0
    charged = Decimal(record["charged_usd"])
    assert 0 < charged < Decimal("0.001")
    spent = sum(s.spent_usd for s in snapshots(budget_items(gw.local, "key", key_id_of(gw, key))))
    assert spent == charged  # never a refund, never absurd: exactly what the log line says
