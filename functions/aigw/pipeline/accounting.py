"""Usage and cost of a finished request, counted by the gateway when the upstream is silent."""

from __future__ import annotations

from typing import Any

from aigw.pipeline.context import RequestContext
from aigw.pricing.cost import Usage, cost_usd
from aigw.providers.base import ChatChunk


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


def settle_usage(ctx: RequestContext, *, generated_text: str | None = None) -> None:
    """Fix `ctx.usage` and `ctx.cost_usd` for whatever the upstream did.

    If an upstream produced output but reported no usage (a broken or cancelled stream,
    a server that omits it), count prompt and output with tiktoken, so nothing generated
    goes unbilled. A request that never reached an upstream costs nothing.
    """
    if ctx.deployment is None or ctx.cache in ("hit", "semantic-hit"):
        return
    if ctx.usage is None:
        text = generated_text if generated_text is not None else "".join(ctx.output_text)
        reached_upstream = bool(text) or any(a.status == 200 for a in ctx.attempts)
        if not reached_upstream:
            return
        from aigw import tokens

        ctx.usage = Usage(input_tokens=ctx.prompt_tokens(),
                          output_tokens=tokens.count_text(text, ctx.deployment.model), estimated=True)
    ctx.cost_usd = cost_usd(ctx.usage, ctx.deployment.resolved_price)
