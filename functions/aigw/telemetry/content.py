"""Prompt and completion text for spans: only for teams that opted in (config
`telemetry.capture_content_teams`), and only what guardrails let through.

The prompt is read from `ctx.body`, the canonical body as sent upstream, so an input
redaction (`ctx.rewrite_texts`) has already been applied. The completion is what the client
got: the final (filtered) body, or the stream's text as the response tap saw it, which is
after every output filter. It is left out when a guardrail redacted the prompt: a restoring
guardrail puts the originals back into the answer (`aigw.content.output_omitted` says so).
Both are in the GenAI conventions' message shape (`gen_ai.input.messages` /
`gen_ai.output.messages`, JSON strings), their text cut to a shared character budget so one
request cannot produce an unbounded span.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aigw.pipeline.context import RequestContext
    from aigw.telemetry.attributes import Attributes
    from aigw.telemetry.tap import ResponseSeen


class _Budget:
    __slots__ = ("left",)

    def __init__(self, chars: int) -> None:
        self.left = chars

    def take(self, text: str) -> str:
        piece = text[: max(self.left, 0)]
        self.left -= len(piece)
        return piece


def _parts(message: Mapping[str, Any], budget: _Budget) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    content = message.get("content")
    if isinstance(content, str):
        parts.append({"type": "text", "content": budget.take(content)})
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                parts.append({"type": "text", "content": budget.take(part["text"])})
            elif part.get("type") in ("image_url", "input_audio", "file"):
                parts.append({"type": "blob", "modality": "image" if part["type"] == "image_url" else
                              "audio" if part["type"] == "input_audio" else "file"})  # never the bytes
    for call in message.get("tool_calls") or []:
        if isinstance(call, dict) and isinstance(call.get("function"), dict):
            fn = call["function"]
            parts.append({"type": "tool_call", "id": call.get("id"), "name": fn.get("name"),
                          "arguments": budget.take(str(fn.get("arguments") or ""))})
    if message.get("role") == "tool":
        response = parts.pop()["content"] if parts and parts[-1].get("type") == "text" else ""
        parts.append({"type": "tool_call_response", "id": message.get("tool_call_id"), "response": response})
    return parts


def input_messages(body: Mapping[str, Any], max_chars: int) -> str | None:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    budget = _Budget(max_chars)
    out = [{"role": m.get("role"), "parts": _parts(m, budget)} for m in messages if isinstance(m, dict)]
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def output_messages(ctx: RequestContext, seen: ResponseSeen | None, max_chars: int) -> str | None:
    budget = _Budget(max_chars)
    out: list[dict[str, Any]] = []
    if ctx.result is not None:
        for choice in ctx.result.body.get("choices") or []:
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                out.append({"role": "assistant", "parts": _parts(choice["message"], budget),
                            "finish_reason": choice.get("finish_reason")})
    elif seen is not None and seen.text is not None:
        for index in sorted(seen.text):
            out.append({"role": "assistant", "parts": [{"type": "text", "content": budget.take("".join(
                seen.text[index]))}], "finish_reason": seen.finish_reasons.get(index)})
    if not out:
        return None
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def input_was_redacted(ctx: RequestContext) -> bool:
    """A guardrail redacted the prompt. Its answer may then carry the originals again (a
    guardrail with `restore: true` puts them back for the client), which a span must not."""
    entries = ctx.log.by_namespace().get("guardrails", {}).get("guardrails")
    return isinstance(entries, list) and any(
        isinstance(e, dict) and e.get("source") == "input" and e.get("action") == "redact" for e in entries)


def content_attributes(ctx: RequestContext, seen: ResponseSeen | None, max_chars: int) -> Attributes:
    out: Attributes = {}
    if ctx.operation != "chat":
        return out
    prompt = input_messages(ctx.body, max_chars)
    if prompt is not None:
        out["gen_ai.input.messages"] = prompt
    if input_was_redacted(ctx):
        out["aigw.content.output_omitted"] = "input_redacted"
        return out
    completion = output_messages(ctx, seen, max_chars)
    if completion is not None:
        out["gen_ai.output.messages"] = completion
    return out
