"""The webhook contract, against a service on httpx's MockTransport (the shared client is injected)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from aigw.guardrails.base import GuardrailUnavailable
from aigw.guardrails.webhook import CONTRACT_VERSION, WebhookDetector
from aigw.providers.base import Credential

URL = "https://guard.internal/check"


def service(answer: Any, *, status: int = 200, delay: float = 0.0, seen: list[httpx.Request] | None = None
            ) -> httpx.AsyncClient:
    async def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if delay:
            await asyncio.sleep(delay)
        body = answer(json.loads(request.content)) if callable(answer) else answer
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=raw, headers={"content-type": "application/json"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def credential(name: str) -> Credential:
    assert name == "guard"
    return Credential({"api_key": "tok-123"})


async def test_request_shape_and_allow() -> None:
    seen: list[httpx.Request] = []
    d = WebhookDetector(name="my-service", url=URL, http=service({"action": "allow"}, seen=seen),
                        credentials="guard", credential=credential)
    verdict = await d.check(["hi", "there"], "input", {"request_id": "r1", "model": "m", "team": "t",
                                                       "project": "", "key_id": "k"})
    assert not verdict.triggered
    body = json.loads(seen[0].content)
    assert body == {"version": CONTRACT_VERSION, "guardrail": "my-service", "source": "input", "request_id": "r1",
                    "model": "m", "team": "t", "project": "", "key_id": "k", "texts": ["hi", "there"]}
    assert seen[0].headers["authorization"] == "Bearer tok-123"


async def test_block_and_redact() -> None:
    d = WebhookDetector(name="w", url=URL, http=service({"action": "block", "entities": {"toxicity": 2}}))
    verdict = await d.check(["x"], "output")
    assert verdict.triggered and dict(verdict.entities) == {"toxicity": 2}
    d = WebhookDetector(name="w", url=URL, http=service(
        lambda body: {"action": "redact", "texts": [t.upper() for t in body["texts"]], "entities": ["name"]}))
    verdict = await d.check(["ann", "bob"], "input")
    assert verdict.rewritten == ["ANN", "BOB"] and dict(verdict.entities) == {"name": 1}


@pytest.mark.parametrize(("answer", "status", "delay"), [
    ({"action": "allow"}, 500, 0.0),
    (b"not json", 200, 0.0),
    ({"action": "maybe"}, 200, 0.0),
    ({"action": "redact", "texts": ["only one"]}, 200, 0.0),
    (["allow"], 200, 0.0),
    ({"action": "allow"}, 200, 0.5),  # slower than timeout_s
])
async def test_failures_are_unavailable(answer: Any, status: int, delay: float) -> None:
    d = WebhookDetector(name="w", url=URL, http=service(answer, status=status, delay=delay), timeout_s=0.1)
    with pytest.raises(GuardrailUnavailable):
        await d.check(["a", "b"], "input")


async def test_credentials_failure_and_misconfiguration() -> None:
    async def broken(name: str) -> Credential:
        raise RuntimeError("secret missing")

    d = WebhookDetector(name="w", url=URL, http=service({"action": "allow"}), credentials="guard", credential=broken)
    with pytest.raises(GuardrailUnavailable, match="credential"):
        await d.check(["a"], "input")
    with pytest.raises(ValueError):
        WebhookDetector(name="w", url=URL, http=service({}), credentials="guard")
