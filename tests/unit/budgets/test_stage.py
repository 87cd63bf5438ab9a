"""The admission stage's contract: worst case at the dearest deployment, a typed Reject on
refusal or failure (fail closed), settlement once and never raising."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from aigw.auth.records import KeyRecord
from aigw.budgets.admission import Admission
from aigw.budgets.counters import Snapshot, TransactionResult
from aigw.budgets.scopes import ScopeRef, key_limits
from aigw.budgets.spec import Budget, Limits
from aigw.budgets.stage import AdmissionStage
from aigw.config import load_config
from aigw.config.models import GatewayConfig
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import RequestContext
from aigw.pipeline.stages import Reject
from aigw.pricing.cost import Usage
from aigw.routing.router import Router

CONFIG: GatewayConfig = load_config({"models": [
    {"name": "cheap", "fallbacks": ["dear"], "price": {"input_per_mtok": 1, "output_per_mtok": 2},
     "deployments": [{"provider": "mock", "model": "mock-fast"}]},
    {"name": "dear", "price": {"input_per_mtok": 10, "output_per_mtok": 20},
     "deployments": [{"provider": "mock", "model": "mock-fast"}]},
]})


class Store:
    def __init__(self, results: list[Any]) -> None:
        self.results = results
        self.calls: list[list[Any]] = []

    def table_name(self) -> str:
        return "counters"

    def transact(self, items: list[Any], *, token: str | None = None) -> TransactionResult:
        self.calls.append(items)
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[no-any-return]

    def read(self, keys: list[Any]) -> dict[Any, Snapshot]:
        return {k: Snapshot() for k in keys}


class Limits_:
    async def limits(self, key: KeyRecord) -> dict[ScopeRef, Limits]:
        return {ScopeRef("key", key.key_id): key_limits(key)}


def stage(results: list[Any]) -> tuple[AdmissionStage, Store]:
    store = Store(results)
    return AdmissionStage(Admission(store), Limits_(), CONFIG, candidates=Router(CONFIG).candidates), store  # type: ignore[arg-type]


def context() -> RequestContext:
    key = KeyRecord(key_hash="h", key_id="key_1", team_id="t", budgets=[Budget(period="month", limit_usd=Decimal(5))])
    model = CONFIG.model("cheap")
    assert model is not None
    return RequestContext(request_id="req_1", operation="chat", codec=OpenAICodec(), key=key, model=model, body={
        "model": "cheap", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]})


def test_reserves_the_worst_case_at_the_dearest_fallback() -> None:
    admission, store = stage([TransactionResult(ok=True), TransactionResult(ok=True)])
    ctx = context()
    assert asyncio.run(admission.before(ctx)) is None
    reserved = store.calls[0][0]["Update"]["ExpressionAttributeValues"][":u"]
    expected = (ctx.prompt_tokens() * 10 + 100 * 20) * 10**6  # pico-dollars at the fallback's price
    assert reserved == expected
    assert "x-aigw-budget-remaining-usd" in ctx.headers
    ctx.usage = Usage(input_tokens=8, output_tokens=10)
    ctx.deployment = CONFIG.models[0].deployments[0]
    asyncio.run(admission.after(ctx))
    asyncio.run(admission.after(ctx))  # idempotent
    assert len(store.calls) == 2
    assert ctx.log["charged_usd"] == "0.000028"  # (8 * 1 + 10 * 2) / 1e6


def test_refusal_is_a_typed_reject() -> None:
    admission, _ = stage([TransactionResult(ok=False, refused={0: Snapshot(held_usd=Decimal(5))})])
    ctx = context()
    short = asyncio.run(admission.before(ctx))
    assert isinstance(short, Reject) and short.error.status == 429 and short.error.code == "budget_exceeded"
    assert "key 'key_1'" in short.error.message and "retry-after" in short.error.headers
    assert ctx.headers["x-aigw-budget-remaining-usd"] == "0.000000"
    asyncio.run(admission.after(ctx))  # nothing reserved: nothing to settle


def test_fails_closed_and_settlement_never_raises() -> None:
    admission, _ = stage([RuntimeError("dynamodb down")])
    short = asyncio.run(admission.before(context()))
    assert isinstance(short, Reject) and short.error.status == 503 and short.error.code == "admission_unavailable"
    admission, _ = stage([TransactionResult(ok=True), RuntimeError("dynamodb down")])
    ctx = context()
    asyncio.run(admission.before(ctx))
    asyncio.run(admission.after(ctx))  # logged, not raised
    assert ctx.log["settlement_failed"] is True
