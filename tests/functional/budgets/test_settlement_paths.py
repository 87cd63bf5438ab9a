"""Settlement runs on every path and leaves no reservation: a provider that raises an
unexpected exception (before or in the middle of a stream), an upstream error, a client
that leaves, and a successful call; each settled once, at the cost of what was generated."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from aigw.budgets.spec import Budget
from aigw.providers.base import ChatCall, ChatResult, StreamEvent
from aigw.providers.mock import MockProvider
from tests.functional.budgets.helpers import budget_items, key_id_of, snapshots


class Exploding(MockProvider):
    """The mock, except that `mock-boom` raises at once and `mock-stream-boom` mid-stream."""

    async def complete(self, call: ChatCall) -> ChatResult:
        if "boom" in call.deployment.model:
            raise RuntimeError("provider bug")
        return await super().complete(call)

    async def stream(self, call: ChatCall) -> AsyncIterator[StreamEvent]:
        sent = 0
        async for event in super().stream(call):
            if "boom" in call.deployment.model and sent == 3:
                raise RuntimeError("provider bug mid-stream")
            sent += 1
            yield event


@pytest.fixture
def gw(make_gateway: Any) -> Any:
    return make_gateway({"models": [
        {"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]},
        {"name": "mock-stream", "deployments": [{"provider": "mock", "model": "mock-stream"}]},
        {"name": "boom", "price": {"input_per_mtok": 1, "output_per_mtok": 2},
         "deployments": [{"provider": "mock", "model": "mock-boom"}]},
        {"name": "stream-boom", "price": {"input_per_mtok": 1, "output_per_mtok": 2},
         "deployments": [{"provider": "mock", "model": "mock-stream-boom"}]},
    ]}, providers={"mock": Exploding()})


def test_every_path_settles_and_releases(gw: Any) -> None:
    team = "paths-" + uuid.uuid4().hex[:6]
    key = gw.create_key(team=team, budgets=[Budget(period="day", limit_usd=Decimal(1))])
    key_id = key_id_of(gw, key)
    headers = {"authorization": f"Bearer {key}"}
    url = gw.base_url + "/chat/completions"

    def body(model: str, **extra: Any) -> dict[str, Any]:
        return {"model": model, "max_tokens": 40, "messages": [{"role": "user", "content": "tell me a story"}],
                **extra}

    with httpx.Client(timeout=10) as client:
        assert client.post(url, json=body("mock-fast"), headers=headers).status_code == 200
        failed = client.post(url, json=body("boom"), headers=headers)
        assert failed.status_code == 500 and "Traceback" not in failed.text
        with client.stream("POST", url, json=body("stream-boom", stream=True), headers=headers) as response:
            assert response.status_code == 200
            lines = [line for line in response.iter_lines() if line.startswith("data: ")]
            assert lines[-1].startswith('data: {"error"')  # ends with an error event, not a dropped connection
            assert "[DONE]" not in lines[-1]
        with client.stream("POST", url, json=body("mock-stream", stream=True), headers=headers) as response:
            for n, _ in enumerate(response.iter_lines()):
                if n == 4:
                    break  # leave mid-stream
    gw.last_record(4)
    records = list(gw.records)
    by_model = {r["model"]: r for r in records}
    assert set(by_model) == {"mock-fast", "boom", "stream-boom", "mock-stream"}
    assert Decimal(by_model["boom"]["charged_usd"]) == 0  # nothing generated, nothing charged
    assert Decimal(by_model["stream-boom"]["charged_usd"]) > 0  # what was streamed is paid for
    leaver = by_model["mock-stream"]
    assert leaver["disconnected"] and leaver["usage_estimated"] and Decimal(leaver["charged_usd"]) > 0
    snaps = snapshots(budget_items(gw.local, "key", key_id))
    assert sum(s.reserved_usd for s in snaps) == 0 and sum(s.reserved_tokens for s in snaps) == 0
    assert sum(s.spent_usd for s in snaps) == sum(Decimal(r["charged_usd"]) for r in records)
    assert sum(s.requests for s in snaps) == 4
