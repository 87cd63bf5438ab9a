"""Once the key and the scope limits are cached, admission is the only DynamoDB round trip
before the upstream call, and settlement (one transaction for the counters, beside it one
UpdateItem per usage aggregate, all at once) the only one after it."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx

from aigw.budgets.spec import Budget
from aigw.providers.base import ChatCall, ChatResult
from aigw.providers.mock import MockProvider
from tests.functional.budgets.helpers import put_scope_limits


class Calls:
    def __init__(self) -> None:
        self.names: list[str] = []

    def __call__(self, model: Any, params: Any, **_: Any) -> None:
        if model.name == "BatchGetItem" and any("counters" in t for t in params.get("RequestItems", {})):
            return  # the background refresh behind the remaining-* headers: not on the request path
        self.names.append(model.name)


class Spy(MockProvider):
    def __init__(self, calls: Calls) -> None:
        self.calls = calls
        self.before_upstream: list[list[str]] = []

    async def complete(self, call: ChatCall) -> ChatResult:
        self.before_upstream.append(list(self.calls.names))
        return await super().complete(call)


def test_one_round_trip_before_and_one_after(make_gateway: Any, local_aws: Any) -> None:
    calls = Calls()
    spy = Spy(calls)
    gw = make_gateway({"models": [{"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]}]},
                      providers={"mock": spy})
    team = "rt-" + uuid.uuid4().hex[:6]
    put_scope_limits(local_aws, "team", team, budgets=[Budget(period="month", limit_usd=Decimal(10))], rpm=1000)
    key = gw.create_key(team=team, budgets=[Budget(period="day", limit_usd=Decimal(1))], tpm=100000)
    body = {"model": "mock-fast", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {key}"}
    events = local_aws.aws.dynamodb_resource().meta.client.meta.events
    events.register("before-parameter-build.dynamodb.*", calls)
    try:
        with httpx.Client(timeout=10) as client:
            first = client.post(gw.base_url + "/chat/completions", json=body, headers=headers)
            assert first.status_code == 200
            assert calls.names[:3] == ["GetItem", "BatchGetItem", "TransactWriteItems"]
            assert sorted(calls.names[3:]) == ["TransactWriteItems"] + ["UpdateItem"] * 3
            calls.names.clear()
            spy.before_upstream.clear()
            second = client.post(gw.base_url + "/chat/completions", json=body, headers=headers)
            assert second.status_code == 200
    finally:
        events.unregister("before-parameter-build.dynamodb.*", calls)
    assert spy.before_upstream == [["TransactWriteItems"]]  # admission, and nothing else
    assert calls.names[0] == "TransactWriteItems"  # ... then settlement: the counters, and usage by key, team, model
    assert sorted(calls.names[1:]) == ["TransactWriteItems"] + ["UpdateItem"] * 3
