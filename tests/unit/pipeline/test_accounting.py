"""Settlement of what an upstream reported: silent upstreams are counted by the gateway, and
invalid usage is billed by the gateway's estimate, never below what was validly reported."""

from __future__ import annotations

from typing import Any

from aigw import tokens
from aigw.auth.records import KeyRecord
from aigw.config import load_config
from aigw.pipeline.accounting import settle_usage
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import Attempt, RequestContext
from aigw.pricing import Usage
from aigw.tokens.families import ANTHROPIC

CONFIG = load_config({"models": [{"name": "claude", "deployments": [{"provider": "anthropic",
                                                                     "model": "claude-sonnet-4-5"}]}]})
TEXT = "tell me about the budgets of this gateway please " * 10


def context(usage: Usage | None, **body: Any) -> RequestContext:
    model = CONFIG.models[0]
    key = KeyRecord(key_hash="h", key_id="k", team_id="t")
    body = {"model": "claude", "messages": [{"role": "user", "content": TEXT}], **body}
    ctx = RequestContext(request_id="req_1", operation="chat", codec=OpenAICodec(), key=key, model=model, body=body)
    ctx.deployment = model.deployments[0]
    ctx.attempts.append(Attempt("anthropic/claude-sonnet-4-5", "claude", 200))
    ctx.usage = usage
    return ctx


def test_invalid_usage_is_billed_by_the_estimate_never_refunded() -> None:
    ctx = context(Usage.from_openai({"prompt_tokens": -1_000_000, "completion_tokens": 7}))
    settle_usage(ctx, generated_text="a short answer")
    profile = tokens.prompt_profile(ctx)
    assert ctx.usage is not None and ctx.usage.estimated
    assert ctx.usage.input_tokens == profile.estimate(ANTHROPIC, "claude-sonnet-4-5") > profile.text_tokens
    assert ctx.usage.output_tokens == 7  # the valid part stays
    assert ctx.cost_usd > 0 and "input_tokens=-1000000" in ctx.log["usage_invalid"]


def test_an_invalid_output_count_is_replaced_by_the_counted_answer() -> None:
    ctx = context(Usage.from_openai({"prompt_tokens": 40, "completion_tokens": float("inf")}))
    settle_usage(ctx, generated_text="one two three four five six seven eight")
    assert ctx.usage is not None and ctx.usage.input_tokens == 40 and ctx.usage.output_tokens >= 8


def test_silent_upstream_is_counted_with_the_family_bound() -> None:
    ctx = context(None)
    settle_usage(ctx, generated_text="an answer")
    assert ctx.usage is not None and ctx.usage.estimated and "usage_invalid" not in ctx.log
    assert ctx.usage.input_tokens > tokens.prompt_profile(ctx).text_tokens  # Claude counts more than tiktoken
