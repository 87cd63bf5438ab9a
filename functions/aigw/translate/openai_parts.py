"""Reading OpenAI request shapes that every provider translator needs: message text,
content parts, image URLs, tool definitions and tool-call arguments."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from aigw.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Image:
    """An image part: inline bytes (from a data: URL) or a remote URL."""

    media_type: str | None
    data_b64: str | None = None
    url: str | None = None

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.data_b64 or "")


def parse_image_url(part: dict[str, Any]) -> Image:
    raw = part.get("image_url")
    url = raw.get("url") if isinstance(raw, dict) else raw
    if not isinstance(url, str) or not url:
        raise InvalidRequest("image_url part without a url", param="messages")
    if url.startswith("data:"):
        header, _, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if encoding != "base64":
            raise InvalidRequest("data: image URLs must be base64-encoded", param="messages")
        return Image(media_type=media_type or "image/png", data_b64=data)
    return Image(media_type=None, url=url)


def text_of(content: Any) -> str:
    """The text of a message content: a string, or the text parts of a list, joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")


def parts_of(content: Any) -> list[dict[str, Any]]:
    """Content as a list of parts (a string becomes one text part)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return [p for p in content if isinstance(p, dict)]


def tool_arguments(call: dict[str, Any]) -> dict[str, Any]:
    """The parsed arguments of an assistant tool call (`function.arguments` is a JSON string)."""
    raw = (call.get("function") or {}).get("arguments") or "{}"
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise InvalidRequest("tool call arguments are not valid JSON", param="messages") from None
    if not isinstance(value, dict):
        raise InvalidRequest("tool call arguments must be a JSON object", param="messages")
    return value


def function_tools(body: Any) -> list[dict[str, Any]]:
    """The `function` objects of the request's tools (other tool types are refused)."""
    functions = []
    for tool in body.get("tools") or []:
        if tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
            raise InvalidRequest(f"tool type {tool.get('type')!r} is not supported by this provider", param="tools")
        functions.append(tool["function"])
    return functions


def stop_sequences(body: Any) -> list[str] | None:
    stop = body.get("stop")
    if stop is None:
        return None
    return [stop] if isinstance(stop, str) else [str(s) for s in stop]


def max_output(body: Any, default: int) -> int:
    value = body.get("max_completion_tokens") or body.get("max_tokens")
    return int(value) if value else default


def single_choice(body: Any, provider: str) -> None:
    if int(body.get("n") or 1) != 1:
        raise InvalidRequest(f"n > 1 is not supported by {provider} deployments", param="n")


# Providers without a JSON mode get OpenAI's `response_format` (JSON mode, structured
# outputs) as one forced tool whose input schema is the requested schema; the adapter turns
# that tool's input back into the message content.
RESPOND_TOOL = "json_response"
RESPOND_TOOL_DESCRIPTION = "Give the final answer as JSON, in this tool's input."


def response_format_schema(body: Any) -> dict[str, Any] | None:
    """The JSON schema a `response_format` asks for ({"type": "object"} for JSON mode), or None."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") not in ("json_object", "json_schema"):
        return None
    schema = (response_format.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else {"type": "object"}


# OpenAI's `reasoning_effort` as a thinking budget (tokens) for providers that take one.
REASONING_BUDGETS: dict[str, int] = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
MIN_THINKING_BUDGET = 1024  # Anthropic's floor


def reasoning_budget(body: Any) -> int | None:
    effort = body.get("reasoning_effort")
    if effort is None or effort == "none":
        return None
    if effort not in REASONING_BUDGETS:
        raise InvalidRequest(f"reasoning_effort {effort!r} is not one of {sorted(REASONING_BUDGETS)}",
                             param="reasoning_effort")
    return REASONING_BUDGETS[effort]


def thinking_within(budget: int, max_tokens: int | None, default_max_tokens: int) -> tuple[int, int]:
    """(budget, max_tokens) for Claude's extended thinking, where the budget counts inside
    max_tokens. No client limit: the answer keeps the default room on top of the budget; a
    client limit at or below the budget: half of it thinks (a 400 if that is under the floor)."""
    if max_tokens is None:
        return budget, budget + default_max_tokens
    if max_tokens > budget:
        return budget, max_tokens
    if max_tokens // 2 < MIN_THINKING_BUDGET:
        raise InvalidRequest(f"max_tokens {max_tokens} leaves no room for reasoning on this model "
                             f"(it needs more than {2 * MIN_THINKING_BUDGET})", param="max_tokens")
    return max_tokens // 2, max_tokens


def append_turn(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]], *,
                key: str = "content") -> None:
    """Add blocks as a turn of `role`, merged into the previous turn if it has the same role:
    Anthropic, Bedrock and Gemini all want alternating roles, while OpenAI allows (say) a user
    message right after tool results."""
    if turns and turns[-1]["role"] == role:
        turns[-1][key].extend(blocks)
    else:
        turns.append({"role": role, key: blocks})
