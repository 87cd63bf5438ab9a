"""Usage and cost of a finished request, counted by the gateway when the upstream is silent."""

from __future__ import annotations

import logging
from typing import Any

from aigw.pipeline.context import RequestContext
from aigw.pricing.cost import Usage, cost_usd
from aigw.providers.base import ChatChunk

logger = logging.getLogger("aigw.accounting")


def collect_stream_text(ctx: RequestContext, chunk: ChatChunk) -> None:
    """Keep generated text and tool-call arguments, to count them if the stream ends without usage."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content:
            ctx.output_text.append(content)
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            ctx.output_text.append((function.get("name") or "") + (function.get("arguments") or ""))


def kept_text(ctx: RequestContext) -> str:
    """All generated text so far: `output_text`, after the text of any chunks kept whole."""
    chunks = ctx.output_chunks
    if chunks:
        for chunk in chunks:
            collect_stream_text(ctx, chunk)
        chunks.clear()  # in place: the stream may still be adding to this list
    return "".join(ctx.output_text)


def carries_text(chunk: ChatChunk) -> bool:
    """Whether a chunk carries generated text or a tool call (what time to first token times)."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("tool_calls"):
            return True
    return False


def completion_text(body: dict[str, Any]) -> str:
    parts: list[str] = []
    for choice in body.get("choices") or ():
        message = choice.get("message") or {}
        if isinstance(message.get("content"), str):
            parts.append(message["content"])
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            parts.append((function.get("name") or "") + (function.get("arguments") or ""))
    return "".join(parts)


def settle_usage(ctx: RequestContext, *, generated_text: str | None = None,
                 body: dict[str, Any] | None = None) -> None:
    """Fix `ctx.usage` and `ctx.cost_usd` for whatever the upstream did.

    If an upstream produced output but reported no usage (a broken or cancelled stream, a
    server that omits it), the gateway counts prompt and output itself, so nothing generated
    goes unbilled. If it reported invalid usage (negative, non-finite, absurd: see `Usage`),
    each invalid count is replaced by the gateway's own estimate, never by less than what the
    upstream validly reported: invalid usage can never refund a budget. The estimate is the
    prompt's family bound (aigw/tokens/families.py), not the bare tiktoken count, since the
    provider bills by its own tokenizer; the client's `body` (a complete answer) then carries the
    gateway's numbers too, never the invalid ones. A request that never reached an upstream costs
    nothing.
    """
    if ctx.deployment is None or ctx.cache in ("hit", "semantic-hit"):
        return
    if ctx.usage is None or ctx.usage.invalid:  # the text is read only when it is counted
        text = generated_text if generated_text is not None else kept_text(ctx)
    if ctx.usage is None:
        reached_upstream = bool(text) or any(a.status == 200 for a in ctx.attempts)
        if not reached_upstream:
            return
        ctx.usage = Usage(input_tokens=_prompt_estimate(ctx), output_tokens=_output_estimate(ctx, text),
                          estimated=True)
    elif ctx.usage.invalid:
        ctx.usage = _replace_invalid(ctx, ctx.usage, text)
        if body is not None and "usage" in body:
            body["usage"] = ctx.usage.to_openai()
    ctx.cost_usd = cost_usd(ctx.usage, ctx.deployment.resolved_price)


def _prompt_estimate(ctx: RequestContext) -> int:
    from aigw import tokens
    from aigw.tokens.families import family_for

    assert ctx.deployment is not None
    family = family_for(ctx.deployment.provider, ctx.deployment.model)
    return tokens.prompt_profile(ctx).estimate(family, ctx.deployment.model)


def _output_estimate(ctx: RequestContext, text: str) -> int:
    import math

    from aigw import tokens
    from aigw.tokens.families import family_for

    assert ctx.deployment is not None
    counted = tokens.count_text(text, ctx.deployment.model)
    return math.ceil(counted * family_for(ctx.deployment.provider, ctx.deployment.model).factor)


def _replace_invalid(ctx: RequestContext, usage: Usage, text: str) -> Usage:
    """Bill the gateway's estimate for what the upstream reported invalidly (`usage_invalid`
    in the log line; the problem itself is named, never the prompt)."""
    detail = usage.invalid or ""
    ctx.log_for("usage")["usage_invalid"] = detail
    logger.warning("usage_invalid", extra={"request_id": ctx.request_id, "detail": detail,
                                           "deployment": ctx.deployment.deployment_id if ctx.deployment else None})
    prompt = _prompt_estimate(ctx)
    output = _output_estimate(ctx, text)
    return Usage(input_tokens=max(prompt, usage.input_tokens) if "input_tokens" in detail else usage.input_tokens,
                 output_tokens=max(output, usage.output_tokens) if "output_tokens" in detail else usage.output_tokens,
                 cache_read_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens,
                 reasoning_tokens=usage.reasoning_tokens, estimated=True)
