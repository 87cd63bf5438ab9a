"""Every text of a native Anthropic Messages request, for `RequestContext.rewrite_texts`: the
system prompt, text blocks, tool results, tool-use inputs and tool descriptions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Rewrite = Callable[[str], str]


def map_messages_texts(body: Mapping[str, Any], fn: Rewrite) -> dict[str, Any]:
    out = dict(body)
    if "system" in body:
        out["system"] = _blocks(body["system"], fn)
    messages = body.get("messages")
    if isinstance(messages, list):
        out["messages"] = [{**m, "content": _blocks(m.get("content"), fn)} if isinstance(m, dict) else m
                           for m in messages]
    tools = body.get("tools")
    if isinstance(tools, list):
        out["tools"] = [{**t, "description": fn(t["description"])}
                        if isinstance(t, dict) and isinstance(t.get("description"), str) else t for t in tools]
    return out


def _blocks(content: Any, fn: Rewrite) -> Any:
    if isinstance(content, str):
        return fn(content)
    if not isinstance(content, list):
        return content
    out: list[Any] = []
    for block in content:
        if not isinstance(block, dict):
            out.append(block)
        elif isinstance(block.get("text"), str):
            out.append({**block, "text": fn(block["text"])})
        elif block.get("type") == "tool_result":
            out.append({**block, "content": _blocks(block.get("content"), fn)})
        elif block.get("type") == "tool_use" and "input" in block:
            out.append({**block, "input": _values(block["input"], fn)})
        else:
            out.append(block)
    return out


def _values(value: Any, fn: Rewrite) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _values(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_values(v, fn) for v in value]
    return value
