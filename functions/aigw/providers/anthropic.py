"""Anthropic Messages API (`POST /v1/messages`): the translator for OpenAI-shaped calls.

Request: system/developer messages become `system`; tool results become `tool_result`
blocks in a user turn; assistant tool calls become `tool_use` blocks; consecutive turns of
one role merge (Anthropic requires alternation); `max_tokens` is mandatory, so it defaults
to the deployment's (or 4096). A call that came in through `/v1/messages` has its own
translator (providers/anthropic_native.py), which sends the client's body as is.

Response and stream: text, tool calls (streamed argument deltas included), thinking (as
`reasoning_content`, the convention vLLM and DeepSeek use, with its signature), stop
reasons through one table, and usage. Anthropic's `input_tokens` excludes cache reads and
writes; ours is the whole prompt, so they are added in. Server tools bill per use
(`usage.server_tool_use`, and a container for code execution): `Usage.server_tool_uses`.
A stream is complete at `message_stop` and at nothing else.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from aigw.errors import InvalidRequest, UpstreamError, stream_truncated
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatCall, ChatChunk, ChatResult, StreamEvent
from aigw.providers.http import HttpRequest, upstream_status_error
from aigw.providers.sse import SSEEvent, loads
from aigw.providers.usage import INVALID_COUNT, count
from aigw.translate.openai_parts import (
    RESPOND_TOOL,
    RESPOND_TOOL_DESCRIPTION,
    append_turn,
    function_tools,
    parse_image_url,
    parts_of,
    reasoning_budget,
    response_format_schema,
    single_choice,
    stop_sequences,
    text_of,
    thinking_within,
    tool_arguments,
)

ANTHROPIC_API_BASE = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Plain renames and their value checks, as data; everything else is code below.
RENAMES: dict[str, str] = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k"}


# Server tools that run code in a container (billed by container time, see pricing/cost.py).
CONTAINER_TOOLS = frozenset({"code_execution", "bash_code_execution", "text_editor_code_execution"})


def usage_from_anthropic(usage: Any, *, container_used: bool = False) -> Usage:
    usage = usage if isinstance(usage, dict) else {}
    cache_read = count(usage.get("cache_read_input_tokens"))
    cache_write = count(usage.get("cache_creation_input_tokens"))
    parts = (count(usage.get("input_tokens")), cache_read, cache_write)
    result = Usage(input_tokens=sum(parts) if min(parts) >= 0 else INVALID_COUNT,
                   output_tokens=count(usage.get("output_tokens")),
                   cache_read_tokens=cache_read, cache_write_tokens=cache_write)
    server = usage.get("server_tool_use")
    if isinstance(server, dict):
        result.server_tool_uses = {name.removesuffix("_requests"): count(value) for name, value in server.items()
                                   if name.endswith("_requests") and value}
    if container_used:
        result.server_tool_uses["code_execution"] = 1
    return result


def used_container(message: dict[str, Any]) -> bool:
    return bool(message.get("container")) or any(
        isinstance(b, dict) and b.get("type") == "server_tool_use" and b.get("name") in CONTAINER_TOOLS
        for b in message.get("content") or ())


# ---- request: OpenAI -> Anthropic ---------------------------------------------------------------
def _content_blocks(content: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in parts_of(content):
        kind = part.get("type")
        if kind == "text":
            block: dict[str, Any] = {"type": "text", "text": part.get("text", "")}
            if "cache_control" in part:
                block["cache_control"] = part["cache_control"]
            blocks.append(block)
        elif kind == "image_url":
            image = parse_image_url(part)
            source = ({"type": "base64", "media_type": image.media_type, "data": image.data_b64}
                      if image.data_b64 is not None else {"type": "url", "url": image.url})
            blocks.append({"type": "image", "source": source})
        else:
            raise InvalidRequest(f"content part {kind!r} is not supported by Anthropic deployments",
                                 param="messages")
    return blocks


def _messages(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []

    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system.extend(_content_blocks(content))
        elif role == "user":
            append_turn(turns, "user", _content_blocks(content))
        elif role == "assistant":
            blocks = [b for b in _content_blocks(content) if b.get("type") != "text" or b.get("text")]
            for call in message.get("tool_calls") or []:
                blocks.append({"type": "tool_use", "id": call.get("id"),
                               "name": (call.get("function") or {}).get("name"), "input": tool_arguments(call)})
            append_turn(turns, "assistant", blocks)
        elif role in ("tool", "function"):
            result = {"type": "tool_result", "tool_use_id": message.get("tool_call_id") or message.get("name"),
                      "content": text_of(content)}
            append_turn(turns, "user", [result])
        else:
            raise InvalidRequest(f"message role {role!r} is not supported", param="messages")
    return system, turns


def _tool_choice(body: dict[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    parallel = body.get("parallel_tool_calls")
    if choice is None and parallel is None:
        return None
    if isinstance(choice, dict):
        out: dict[str, Any] = {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    else:
        out = {"type": {"auto": "auto", "required": "any", "none": "none", None: "auto"}[choice]}
    if parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out


def anthropic_request(body: dict[str, Any], model: str, default_max_tokens: int) -> dict[str, Any]:
    single_choice(body, "Anthropic")
    system, messages = _messages(list(body.get("messages") or []))
    out: dict[str, Any] = {"model": model, "messages": messages,
                           "max_tokens": int(body.get("max_completion_tokens") or body.get("max_tokens")
                                             or default_max_tokens)}
    if system:
        out["system"] = system
    for source, target in RENAMES.items():
        if body.get(source) is not None:
            out[target] = body[source]
    if out.get("temperature") is not None and out["temperature"] > 1:
        raise InvalidRequest("temperature above 1 is out of range for Anthropic models", param="temperature")
    stops = stop_sequences(body)
    if stops:
        out["stop_sequences"] = stops
    tools = function_tools(body)
    if tools:
        out["tools"] = [{"name": f["name"], "description": f.get("description", ""),
                         "input_schema": f.get("parameters") or {"type": "object", "properties": {}}}
                        for f in tools]
    choice = _tool_choice(body)
    if choice is not None and (tools or choice["type"] == "none"):
        out["tool_choice"] = choice
    schema = response_format_schema(body)
    if schema is not None:
        out.setdefault("tools", []).append({"name": RESPOND_TOOL, "input_schema": schema,
                                            "description": RESPOND_TOOL_DESCRIPTION})
        if not tools:
            out["tool_choice"] = {"type": "tool", "name": RESPOND_TOOL}
        elif out.get("tool_choice", {}).get("type") in (None, "auto"):
            out["tool_choice"] = {"type": "any"}  # a user tool, or the answer
    budget = reasoning_budget(body)
    # Anthropic refuses thinking with a forced tool (tool_choice any/tool): then it is left off.
    if budget is not None and out.get("tool_choice", {}).get("type") not in ("any", "tool"):
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        budget, out["max_tokens"] = thinking_within(budget, int(limit) if limit else None, default_max_tokens)
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if body.get("user"):
        out["metadata"] = {"user_id": str(body["user"])}
    return out


# ---- response: Anthropic -> OpenAI --------------------------------------------------------------
def openai_completion(message: dict[str, Any]) -> ChatResult:
    text: list[str] = []
    reasoning: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    if not isinstance(message.get("content"), list):
        raise ValueError("message content is not a list")
    for block in message["content"]:
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text", ""))
        elif kind == "thinking":
            reasoning.append(block.get("thinking", ""))
        elif kind == "tool_use" and block["name"] == RESPOND_TOOL:
            text.append(json.dumps(block.get("input", {})))
        elif kind == "tool_use":
            tool_calls.append({"id": block["id"], "type": "function",
                               "function": {"name": block["name"], "arguments": json.dumps(block.get("input", {}))}})
    answer: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not tool_calls else None,
                              "refusal": None}
    finish = FINISH_REASONS.get(message.get("stop_reason") or "end_turn", "stop")
    if reasoning:
        answer["reasoning_content"] = "".join(reasoning)
    if tool_calls:
        answer["tool_calls"] = tool_calls
    usage = usage_from_anthropic(message.get("usage"), container_used=used_container(message))
    body = {"id": message.get("id", ""), "object": "chat.completion", "created": int(time.time()),
            "model": message.get("model", ""),
            "choices": [{"index": 0, "message": answer, "logprobs": None,
                         "finish_reason": "stop" if finish == "tool_calls" and not tool_calls else finish}],
            "usage": usage.to_openai()}
    return ChatResult(body=body, usage=usage)


class AnthropicStreamState:
    """Anthropic stream events -> OpenAI chunks; one per stream (block indices, usage so far)."""

    def __init__(self) -> None:
        self.base: dict[str, Any] = {}
        self.usage: dict[str, Any] = {}
        self.tools: dict[int, int] = {}  # content block index -> tool_calls index
        self.answers: set[int] = set()  # content block indices of RESPOND_TOOL: streamed as content
        self.container = False  # a server tool ran code in a container (billed by container time)
        self.finished = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
        return {**self.base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def event(self, kind: str, data: dict[str, Any]) -> list[StreamEvent]:
        if kind == "message_start":
            message = data["message"]
            self.base = {"id": message.get("id", ""), "object": "chat.completion.chunk",
                         "created": int(time.time()), "model": message.get("model", "")}
            self.usage = dict(message.get("usage") or {})
            self.container = bool(message.get("container"))
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = data["content_block"]
            if block.get("type") == "server_tool_use" and block.get("name") in CONTAINER_TOOLS:
                self.container = True
            if block.get("type") == "tool_use" and block.get("name") == RESPOND_TOOL:
                self.answers.add(data["index"])
                return []
            if block.get("type") == "tool_use":
                position = self.tools[data["index"]] = len(self.tools)
                return [self._chunk({"tool_calls": [{"index": position, "id": block["id"], "type": "function",
                                                     "function": {"name": block["name"], "arguments": ""}}]})]
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk({"content": block["text"]})]
            return []
        if kind == "content_block_delta":
            delta = data["delta"]
            dtype = delta.get("type")
            if dtype == "text_delta":
                return [self._chunk({"content": delta["text"]})]
            if dtype == "input_json_delta" and data["index"] in self.answers:
                return [self._chunk({"content": delta.get("partial_json", "")})] if delta.get("partial_json") else []
            if dtype == "input_json_delta":
                return [self._chunk({"tool_calls": [{"index": self.tools[data["index"]],
                                                     "function": {"arguments": delta.get("partial_json", "")}}]})]
            if dtype == "thinking_delta":
                return [self._chunk({"reasoning_content": delta.get("thinking", "")})]
            if dtype == "signature_delta":
                return [self._chunk({"reasoning_signature": delta.get("signature", "")})]
            return []
        if kind == "message_delta":
            if (data.get("delta") or {}).get("container"):
                self.container = True
            self.usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
            finish = FINISH_REASONS.get((data.get("delta") or {}).get("stop_reason") or "end_turn", "stop")
            # Usage now too: if message_stop never comes, what was generated is billed as reported.
            return [self._chunk({}, "stop" if finish == "tool_calls" and not self.tools else finish),
                    usage_from_anthropic(self.usage, container_used=self.container)]
        if kind == "message_stop":
            self.finished = True
            return [usage_from_anthropic(self.usage, container_used=self.container)]
        if kind == "error":  # e.g. overloaded_error; at the start of a stream, routing fails over
            error = data.get("error") or {}
            kind = str(error.get("type") or "api_error")
            raise UpstreamError(f"upstream stream error: {error.get('message', 'unknown')}",
                                status=429 if kind == "rate_limit_error" else 502, code=kind,
                                retryable=kind != "invalid_request_error")
        return []  # ping, content_block_stop, and event types added later


def messages_request(call: ChatCall, body: dict[str, Any], client_headers: dict[str, str], *,
                     stream: bool) -> HttpRequest:
    """POST /v1/messages for `body` (already in Anthropic's shape) to the call's deployment."""
    d = call.deployment
    headers = {"anthropic-version": ANTHROPIC_VERSION, **d.headers, **client_headers}
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
    if call.credential is not None and call.credential.api_key:
        headers["x-api-key"] = call.credential.api_key
    url = (d.api_base or ANTHROPIC_API_BASE).rstrip("/")
    url += "/messages" if url.endswith("/v1") else "/v1/messages"
    return HttpRequest("POST", url, headers, body)


def anthropic_error(status: int, body: Any, headers: httpx.Headers) -> UpstreamError:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        kind = str(error.get("type") or "")
        message = str(error.get("message") or f"upstream returned {status}")
        return upstream_status_error(status, message, headers, code=kind or None)
    return upstream_status_error(status, f"upstream returned {status}", headers)


class AnthropicTranslator:
    def __init__(self) -> None:
        self.state = AnthropicStreamState()

    def request(self, call: ChatCall, *, stream: bool) -> HttpRequest:
        d = call.deployment
        body = anthropic_request(dict(call.body), d.model, d.max_output_tokens or DEFAULT_MAX_TOKENS)
        return messages_request(call, body, {}, stream=stream)

    def response(self, body: Any) -> ChatResult:
        if not isinstance(body, dict) or body.get("type") != "message":
            raise ValueError("not a message")
        return openai_completion(body)

    def stream_event(self, event: SSEEvent) -> list[StreamEvent]:
        data = loads(event.data)
        if not isinstance(data, dict):
            raise ValueError("event is not an object")
        return self.state.event(event.event or str(data.get("type")), data)

    def ended(self) -> bool:
        return self.state.finished

    def stream_end(self) -> list[StreamEvent]:
        if not self.state.finished:
            raise stream_truncated("message_stop")
        return []

    def error(self, status: int, body: Any, headers: httpx.Headers) -> UpstreamError:
        return anthropic_error(status, body, headers)
