"""Every text a Responses create body sends upstream, rewritten in one walk: the native-body
counterpart of `aigw.pipeline.texts.map_chat_texts`, so a redaction reaches a deployment that
takes the client's body as is (`RequestContext.rewrite_texts` -> `ResponsesCodec.map_native_texts`).

Covered as on the canonical side: instructions, message texts (string content and every part
with `text`, refusals), function-call arguments, function-call outputs, reasoning summaries and
text, function tool descriptions. The body is never mutated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Rewrite = Callable[[str], str]


def _parts(parts: Any, fn: Rewrite, key: str = "text") -> Any:
    if not isinstance(parts, list):
        return parts
    out = []
    for part in parts:
        if isinstance(part, dict):
            part = {**part}
            for field in (key, "refusal"):
                if isinstance(part.get(field), str):
                    part[field] = fn(part[field])
        out.append(part)
    return out


def _item(item: Any, fn: Rewrite) -> Any:
    if not isinstance(item, dict):
        return item
    out = dict(item)
    kind = item.get("type")
    if kind in (None, "message"):
        content = item.get("content")
        out["content"] = fn(content) if isinstance(content, str) else _parts(content, fn)
    elif kind == "function_call" and isinstance(item.get("arguments"), str):
        out["arguments"] = fn(item["arguments"])
    elif kind == "function_call_output":
        output = item.get("output")
        out["output"] = fn(output) if isinstance(output, str) else _parts(output, fn)
    elif kind == "reasoning":
        out["summary"] = _parts(item.get("summary"), fn)
        if "content" in item:
            out["content"] = _parts(item.get("content"), fn)
    return out


def map_responses_texts(body: Mapping[str, Any], fn: Rewrite) -> dict[str, Any]:
    out = dict(body)
    if isinstance(body.get("instructions"), str):
        out["instructions"] = fn(body["instructions"])
    raw = body.get("input")
    if isinstance(raw, str):
        out["input"] = fn(raw)
    elif isinstance(raw, list):
        out["input"] = [_item(item, fn) for item in raw]
    tools = body.get("tools")
    if isinstance(tools, list):
        out["tools"] = [{**t, "description": fn(t["description"])}
                        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("description"), str)
                        else t for t in tools]
    return out
