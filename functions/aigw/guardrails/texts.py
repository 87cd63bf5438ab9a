"""Every text a request sends upstream, from the canonical (OpenAI Chat Completions) body.

Messages of every role (string content and every `text` content part), assistant tool-call
arguments, tool results, the legacy `function_call`, tool and function definitions'
descriptions (nested parameter descriptions included); for embeddings, `input` strings.
Redaction goes back through `ctx.rewrite_texts`, which visits the same strings (and the
client's native body, for passthrough).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def request_texts(body: Mapping[str, Any], operation: str) -> list[str]:
    return [t for t in _iter(body, operation) if t]


def _iter(body: Mapping[str, Any], operation: str) -> Iterator[str]:
    if operation == "embeddings":
        raw = body.get("input")
        if isinstance(raw, str):
            yield raw
        elif isinstance(raw, list):
            yield from (i for i in raw if isinstance(i, str))
        return
    for message in body.get("messages") or []:
        if not isinstance(message, Mapping):
            continue
        yield from _content(message.get("content"))
        for call in message.get("tool_calls") or []:
            if isinstance(call, Mapping):
                args = (call.get("function") or {}).get("arguments")
                if isinstance(args, str):
                    yield args
        legacy = message.get("function_call")
        if isinstance(legacy, Mapping) and isinstance(legacy.get("arguments"), str):
            yield legacy["arguments"]
    for tool in body.get("tools") or []:
        if isinstance(tool, Mapping):
            yield from _descriptions(tool.get("function") or tool)
    for function in body.get("functions") or []:
        yield from _descriptions(function)


def _content(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping):
                if isinstance(part.get("text"), str):
                    yield part["text"]
                elif part.get("type") in ("tool_result", "input_text", "output_text"):
                    yield from _content(part.get("content"))
            elif isinstance(part, str):
                yield part


def _descriptions(node: Any, depth: int = 0) -> Iterator[str]:
    if depth > 32:
        return
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield value
            elif isinstance(value, Mapping | list):
                yield from _descriptions(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _descriptions(item, depth + 1)
