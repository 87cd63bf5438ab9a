"""Every text a canonical (OpenAI Chat Completions) request sends upstream, found in one place.

Guardrails scan these and redaction rewrites them; keeping the walk here means a new
content part type is handled once for everyone. The body is never mutated: rewriting
returns a new body sharing what did not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Rewrite = Callable[[str], str]


def chat_texts(body: Mapping[str, Any]) -> Iterator[str]:
    """Yield each text: message contents (all roles, text parts), tool-call arguments,
    tool descriptions, embeddings inputs."""
    seen: list[str] = []

    def keep(text: str) -> str:
        seen.append(text)
        return text

    map_chat_texts(body, keep)
    yield from seen


def map_chat_texts(body: Mapping[str, Any], fn: Rewrite) -> dict[str, Any]:
    out = dict(body)
    messages = body.get("messages")
    if isinstance(messages, list):
        out["messages"] = [_message(m, fn) if isinstance(m, dict) else m for m in messages]
    tools = body.get("tools")
    if isinstance(tools, list):
        out["tools"] = [_tool(t, fn) if isinstance(t, dict) else t for t in tools]
    functions = body.get("functions")
    if isinstance(functions, list):
        out["functions"] = [_described(f, fn) if isinstance(f, dict) else f for f in functions]
    raw = body.get("input")
    if isinstance(raw, str):
        out["input"] = fn(raw)
    elif isinstance(raw, list) and all(isinstance(i, str) for i in raw):
        out["input"] = [fn(i) for i in raw]
    return out


def map_content(content: Any, fn: Rewrite) -> Any:
    """A message `content`: a string, or a list of parts (only text parts carry text)."""
    if isinstance(content, str):
        return fn(content)
    if isinstance(content, list):
        return [{**p, "text": fn(p["text"])} if isinstance(p, dict) and isinstance(p.get("text"), str) else p
                for p in content]
    return content


def _message(message: dict[str, Any], fn: Rewrite) -> dict[str, Any]:
    out = dict(message)
    if "content" in message:
        out["content"] = map_content(message["content"], fn)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [_call(c, fn) if isinstance(c, dict) else c for c in calls]
    if isinstance(message.get("function_call"), dict):
        out["function_call"] = _arguments(message["function_call"], fn)
    return out


def _call(call: dict[str, Any], fn: Rewrite) -> dict[str, Any]:
    function = call.get("function")
    return {**call, "function": _arguments(function, fn)} if isinstance(function, dict) else call


def _arguments(function: dict[str, Any], fn: Rewrite) -> dict[str, Any]:
    arguments = function.get("arguments")
    return {**function, "arguments": fn(arguments)} if isinstance(arguments, str) else function


def _tool(tool: dict[str, Any], fn: Rewrite) -> dict[str, Any]:
    function = tool.get("function")
    return {**tool, "function": _described(function, fn)} if isinstance(function, dict) else tool


def _described(function: dict[str, Any], fn: Rewrite) -> dict[str, Any]:
    description = function.get("description")
    return {**function, "description": fn(description)} if isinstance(description, str) else function
