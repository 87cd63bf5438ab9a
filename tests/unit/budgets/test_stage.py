"""The admission stage's contract: worst case at the dearest deployment, a typed Reject on
refusal or failure (fail closed), settlement once and never raising."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal
from typing import Any

from aigw.auth.records import KeyRecord
from aigw.budgets.admission import Admission
from aigw.budgets.bounds import MARGIN
from aigw.budgets.counters import ItemKey, Snapshot, TransactionResult, WriteResult
from aigw.budgets.scopes import ScopeRef, key_limits
from aigw.budgets.spec import Budget, Limits
from aigw.budgets.stage import AdmissionStage
from aigw.config import load_config
from aigw.config.models import GatewayConfig
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import RequestContext
from aigw.pipeline.stages import Reject
from aigw.pricing.cost import Usage
from aigw.routing.router import Target

CONFIG: GatewayConfig = load_config({"models": [
    {"name": "cheap", "fallbacks": ["dear"], "price": {"input_per_mtok": 1, "output_per_mtok": 2},
     "deployments": [{"provider": "mock", "model": "mock-fast"}]},
    {"name": "dear", "price": {"input_per_mtok": 10, "output_per_mtok": 20},
     "deployments": [{"provider": "mock", "model": "mock-fast"}]},
]})


FIRST = ItemKey("first", "item")


class Store:
    def __init__(self, results: list[Any]) -> None:
        self.results = results
        self.calls: list[list[Any]] = []
        self.writes: list[dict[str, Any]] = []

    def table_name(self) -> str:
        return "counters"

    def transact(self, items: list[Any], *, token: str | None = None) -> TransactionResult:
        self.calls.append(items)
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        if FIRST in result.refused:  # refused by the transaction's first item, whatever its key
            key = items[0]["Update"]["Key"]
            result = TransactionResult(ok=False, refused={ItemKey(key["pk"], key["sk"]): result.refused[FIRST]})
        return result  # type: ignore[no-any-return]

    def write(self, update: dict[str, Any]) -> WriteResult:
        self.writes.append(update)
        return WriteResult(ok=True)

    def totals(self, counters: list[Any]) -> list[Snapshot]:
        return [Snapshot() for _ in counters]

    def clear_overrun(self, counter: Any, marker: str) -> None:
        pass


class Limits_:
    async def limits(self, key: KeyRecord) -> dict[ScopeRef, Limits]:
        return {ScopeRef("key", key.key_id): key_limits(key)}


def stage(results: list[Any], config: GatewayConfig = CONFIG, **kwargs: Any) -> tuple[AdmissionStage, Store]:
    store = Store(results)
    return AdmissionStage(Admission(store), Limits_(), config, **kwargs), store  # type: ignore[arg-type]


def context(budget: Budget | None = None, *, model_name: str = "cheap", config: GatewayConfig = CONFIG,
            **body: Any) -> RequestContext:
    key = KeyRecord(key_hash="h", key_id="key_1", team_id="t",
                    budgets=[budget or Budget(period="month", limit_usd=Decimal(5))])
    model = config.model(model_name)
    assert model is not None
    return RequestContext(request_id="req_1", operation="chat", codec=OpenAICodec(), key=key, model=model, body={
        "model": model_name, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **body})


def test_reserves_the_worst_case_at_the_dearest_fallback() -> None:
    admission, store = stage([TransactionResult(ok=True), TransactionResult(ok=True)])
    ctx = context()
    assert asyncio.run(admission.before(ctx)) is None
    reserved = store.calls[0][0]["Update"]["ExpressionAttributeValues"][":u"]
    prompt = math.ceil(ctx.prompt_tokens() * (1 + MARGIN))  # the mock counts like tiktoken: factor 1
    expected = (prompt * 10 + 100 * 20) * 10**6  # pico-dollars at the fallback's price
    assert reserved == expected
    assert "x-aigw-budget-remaining-usd" in ctx.headers
    ctx.usage = Usage(input_tokens=8, output_tokens=10)
    ctx.deployment = CONFIG.models[0].deployments[0]
    asyncio.run(admission.after(ctx))
    asyncio.run(admission.after(ctx))  # idempotent
    assert len(store.calls) == 2
    assert ctx.log["charged_usd"] == "0.000028"  # (8 * 1 + 10 * 2) / 1e6


def test_refusal_is_a_typed_reject() -> None:
    admission, _ = stage([TransactionResult(ok=False, refused={FIRST: Snapshot(held_usd=Decimal(5))})])
    ctx = context()
    short = asyncio.run(admission.before(ctx))
    assert isinstance(short, Reject) and short.error.status == 429 and short.error.code == "budget_exceeded"
    assert "key 'key_1'" in short.error.message and "retry-after" in short.error.headers
    assert short.error.headers["x-should-retry"] == "false"
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


def test_candidates_are_injected_not_routed() -> None:
    seen: list[str] = []
    dear = CONFIG.model("dear")
    assert dear is not None

    def candidates(model: Any) -> list[Any]:
        seen.append(model.name)
        return [Target(dear, dear.deployments[0])]

    admission, _store = stage([TransactionResult(ok=True)], candidates=candidates)
    ctx = context()
    assert asyncio.run(admission.before(ctx)) is None and seen == ["cheap"]
    assert not hasattr(admission, "_router")


def test_a_tight_token_budget_lowers_an_unset_max_tokens_and_says_so() -> None:
    # `--budget 2000tokens/day`: the default worst case (4096 output tokens) cannot fit, 2000 can.
    admission, store = stage([TransactionResult(ok=True)])
    ctx = context(Budget(period="day", limit_tokens=2_000))
    del ctx.body["max_tokens"]
    assert asyncio.run(admission.before(ctx)) is None
    sent = ctx.body["max_tokens"]
    assert ctx.headers["x-aigw-max-tokens-adjusted"] == str(sent)
    prompt = math.ceil(ctx.prompt_tokens() * (1 + MARGIN))
    assert sent == 2_000 - prompt and store.calls[0][0]["Update"]["ExpressionAttributeValues"][":t"] == 2_000


def test_a_client_limit_is_never_changed() -> None:
    admission, store = stage([TransactionResult(ok=True)])
    ctx = context(Budget(period="day", limit_tokens=2_000), max_tokens=3_000)
    short = asyncio.run(admission.before(ctx))
    assert isinstance(short, Reject) and short.error.headers["x-should-retry"] == "false"
    assert "retry-after" not in short.error.headers and ctx.body["max_tokens"] == 3_000 and store.calls == []


def test_below_the_floor_is_refused() -> None:
    admission, _store = stage([])
    ctx = context(Budget(period="day", limit_tokens=200))  # 200 tokens: less than the 256 floor
    del ctx.body["max_tokens"]
    short = asyncio.run(admission.before(ctx))
    assert isinstance(short, Reject) and short.error.code == "budget_exceeded"
    assert short.error.headers["x-should-retry"] == "false" and "max_tokens" not in ctx.body


OPENAI_O = load_config({"models": [{"name": "reasoner", "deployments": [{"provider": "openai", "model": "o3-mini"}]}]})


def test_reasoning_models_get_max_completion_tokens() -> None:
    admission, _ = stage([TransactionResult(ok=True)], config=OPENAI_O)
    ctx = context(Budget(period="day", limit_tokens=2_000), model_name="reasoner", config=OPENAI_O)
    del ctx.body["max_tokens"]
    assert asyncio.run(admission.before(ctx)) is None
    assert "max_tokens" not in ctx.body and 0 < ctx.body["max_completion_tokens"] < 2_000


COMPAT = load_config({"models": [{"name": "local", "price": {"input_per_mtok": 1, "output_per_mtok": 1},
                                  "deployments": [{"provider": "openai-compatible", "model": "qwen2.5-72b",
                                                   "api_base": "http://127.0.0.1:1/v1"}]}]})


def test_unknown_family_reserves_for_a_coarser_tokenizer_then_learns_and_reports_an_overrun() -> None:
    admission, store = stage([TransactionResult(ok=True)] * 4, config=COMPAT)
    text = "lorem ipsum dolor sit amet " * 40
    ctx = context(model_name="local", config=COMPAT, messages=[{"role": "user", "content": text}])
    assert asyncio.run(admission.before(ctx)) is None
    raw = ctx.prompt_tokens()
    reserved_tokens = int(store.calls[0][0]["Update"]["ExpressionAttributeValues"][":t"]) - 100
    assert reserved_tokens >= math.ceil(raw * 1.3) + 5 + 10  # 1.3x plus framing, from the first request
    # the upstream bills three times tiktoken: an overrun, logged, and learned
    ctx.deployment = COMPAT.models[0].deployments[0]
    ctx.usage = Usage(input_tokens=3 * raw, output_tokens=10)
    asyncio.run(admission.after(ctx))
    overrun = ctx.log["budget_overrun"]
    assert Decimal(overrun["usd"]) > 0 and overrun["tokens"] == 0 and overrun["scopes"][0].startswith("key")
    assert ctx.log["prompt_ratio_learned"] > 2
    again = context(model_name="local", config=COMPAT, messages=[{"role": "user", "content": text}])
    assert asyncio.run(admission.before(again)) is None
    assert int(store.calls[2][0]["Update"]["ExpressionAttributeValues"][":t"]) - 100 >= 3 * raw


def test_the_log_line_names_the_budget_nearest_its_cap() -> None:
    """From the counters' view the remaining-* headers use (refreshed in the background): the
    dashboard's "tightest budgets" widget reads `budget_scope` and `budget_used_pct`."""

    class Seen(Store):
        def totals(self, counters: list[Any]) -> list[Snapshot]:
            return [Snapshot(held_usd=Decimal(4)) for _ in counters]  # $4 of the $5 budget

    async def run() -> RequestContext:
        admission = AdmissionStage(Admission(Seen([TransactionResult(ok=True), TransactionResult(ok=True)])),
                                   Limits_(), CONFIG)  # type: ignore[arg-type]
        ctx = context()
        assert await admission.before(ctx) is None
        for _ in range(3):
            await asyncio.sleep(0)  # the view's refresh (a thread) lands
        await asyncio.sleep(0.05)
        ctx.usage = Usage(input_tokens=8, output_tokens=10)
        ctx.deployment = CONFIG.models[0].deployments[0]
        await admission.after(ctx)
        return ctx

    ctx = asyncio.run(run())
    assert ctx.log["budget_scope"].startswith("key 'key_1' month 20")
    # the refreshed $4, then this request's settlement replaces its reservation by its cost
    assert 80.0 <= ctx.log["budget_used_pct"] < 80.1


def test_no_budget_line_before_the_counters_were_seen() -> None:
    admission, _ = stage([TransactionResult(ok=True), TransactionResult(ok=True)])
    ctx = context()
    asyncio.run(admission.before(ctx))
    ctx.usage = Usage(input_tokens=8, output_tokens=10)
    ctx.deployment = CONFIG.models[0].deployments[0]
    asyncio.run(admission.after(ctx))  # another loop: the background refresh never ran
    assert "budget_scope" not in ctx.log and "budget_used_pct" not in ctx.log


def test_a_refusal_names_the_exhausted_budget_for_the_dashboard() -> None:
    admission, _ = stage([TransactionResult(ok=False, refused={FIRST: Snapshot(held_usd=Decimal(5))})])
    ctx = context()
    assert isinstance(asyncio.run(admission.before(ctx)), Reject)
    assert ctx.log["budget_scope"].startswith("key 'key_1' month 20") and ctx.log["budget_used_pct"] == 100.0
