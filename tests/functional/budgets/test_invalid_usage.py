"""Usage an upstream reports invalidly (negative, Infinity, absurd) is billed by the gateway's
own estimate: the request still succeeds, nothing is refunded, no 500, and the log says
`usage_invalid`. The upstream writes the literal JSON an upstream really can send. The client
sees the numbers that were billed, never the invalid ones: in an OpenAI answer, and in an
Anthropic answer passed through from an Anthropic upstream (body and stream events)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
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


ANTHROPIC_USAGES = {"negative": b'{"input_tokens": -1000000, "output_tokens": 5}',
                    "infinite": b'{"input_tokens": 12, "output_tokens": Infinity}',
                    "absurd": b'{"input_tokens": 1e300, "output_tokens": 1e300}'}


async def messages(request: Request) -> Response:
    """Anthropic's Messages API; the invalid usage in the body, or in `message_start` and `message_delta`."""
    body = await request.json()
    usage = ANTHROPIC_USAGES[str(body["model"]).split("/")[-1]]
    if not body.get("stream"):
        return Response(b'{"id": "msg_u", "type": "message", "role": "assistant", "model": "c", "content": '
                        b'[{"type": "text", "text": "five words of an answer"}], "stop_reason": "stop_sequence", '
                        b'"stop_sequence": "END", "usage": ' + usage + b"}", media_type="application/json")

    def event(name: str, data: bytes) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"

    async def events() -> Any:
        yield event("message_start", b'{"type": "message_start", "message": {"id": "msg_u", "type": "message", '
                                     b'"role": "assistant", "model": "c", "content": [], "stop_reason": null, '
                                     b'"stop_sequence": null, "usage": ' + usage + b"}}")
        yield event("content_block_start", b'{"type": "content_block_start", "index": 0, '
                                           b'"content_block": {"type": "text", "text": ""}}')
        yield event("content_block_delta", b'{"type": "content_block_delta", "index": 0, '
                                           b'"delta": {"type": "text_delta", "text": "five words"}}')
        yield event("content_block_stop", b'{"type": "content_block_stop", "index": 0}')
        yield event("message_delta", b'{"type": "message_delta", "delta": {"stop_reason": "stop_sequence", '
                                     b'"stop_sequence": "END"}, "usage": ' + usage + b"}")
        yield event("message_stop", b'{"type": "message_stop"}')

    return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = serve_in_thread(Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                                               Route("/v1/messages", messages, methods=["POST"])]))
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


@pytest.mark.parametrize("kind", sorted(ANTHROPIC_USAGES))
@pytest.mark.parametrize("stream", [False, True])
def test_an_anthropic_client_sees_the_billed_usage_not_the_upstreams(make_gateway: Any, upstream: str, kind: str,
                                                                    stream: bool) -> None:
    gw = make_gateway({"models": [{"name": "c", "price": {"input_per_mtok": 1, "output_per_mtok": 2},
                                   "deployments": [{"provider": "anthropic", "model": f"v/{kind}",
                                                    "api_base": upstream}]}]})
    key = gw.create_key(team="usage-" + uuid.uuid4().hex[:6], budgets=[Budget(period="day", limit_usd=Decimal(1))])
    client = anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)
    ask: Any = {"model": "c", "max_tokens": 50, "messages": [{"role": "user", "content": "say five words"}]}
    if stream:
        with client.messages.stream(**ask) as s:
            seen = [event.type for event in s]
            message = s.get_final_message()
        assert seen.count("message_delta") == 1 and seen[-1] == "message_stop"
    else:
        message = client.messages.create(**ask)
    assert message.content[0].type == "text" and message.stop_sequence == "END"  # the upstream's answer, as it was
    record = gw.last_record()
    assert record["usage_invalid"] and record["usage_estimated"]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (record["input_tokens"],
                                                                         record["output_tokens"])
    assert 0 < message.usage.input_tokens < 1000 and 0 <= message.usage.output_tokens < 1000
