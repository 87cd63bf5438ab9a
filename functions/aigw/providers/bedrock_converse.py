"""OpenAI Chat Completions <-> Bedrock Converse shapes (the translator of providers/bedrock.py).

Converse is one schema for every Bedrock model: `system` text blocks, alternating user and
assistant turns of content blocks (text, image bytes, toolUse, toolResult), inference
parameters under `inferenceConfig`, tools under `toolConfig`.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from aigw.errors import InvalidRequest, UpstreamError
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatCall, ChatChunk, ChatResult, StreamEvent
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

DEFAULT_MAX_TOKENS = 4096
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
# OpenAI field -> inferenceConfig field: plain renames, as data.
INFERENCE_RENAMES: dict[str, str] = {"temperature": "temperature", "top_p": "topP"}
IMAGE_FORMATS: dict[str, str] = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif",
                                 "image/webp": "webp"}


def usage_from_converse(usage: Any) -> Usage:
    usage = usage if isinstance(usage, dict) else {}
    read = count(usage.get("cacheReadInputTokens"))
    write = count(usage.get("cacheWriteInputTokens"))
    parts = (count(usage.get("inputTokens")), read, write)
    return Usage(input_tokens=sum(parts) if min(parts) >= 0 else INVALID_COUNT,
                 output_tokens=count(usage.get("outputTokens")), cache_read_tokens=read, cache_write_tokens=write)


def _blocks(content: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in parts_of(content):
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append({"text": part["text"]})
            if part.get("cache_control"):  # Anthropic-style prompt caching -> a Converse cache point
                blocks.append({"cachePoint": {"type": "default"}})
        elif kind == "image_url":
            image = parse_image_url(part)
            fmt = IMAGE_FORMATS.get(image.media_type or "")
            if image.data_b64 is None or fmt is None:
                raise InvalidRequest("Bedrock deployments take images as base64 data: URLs (png, jpeg, gif, webp)",
                                     param="messages")
            blocks.append({"image": {"format": fmt, "source": {"bytes": image.data}}})
        else:
            raise InvalidRequest(f"content part {kind!r} is not supported by Bedrock deployments", param="messages")
    return blocks


def _messages(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []

    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system.extend(_blocks(content))
        elif role == "user":
            append_turn(turns, "user", _blocks(content))
        elif role == "assistant":
            blocks = _blocks(content)
            for call in message.get("tool_calls") or []:
                blocks.append({"toolUse": {"toolUseId": call.get("id"), "name": (call.get("function") or {})
                                           .get("name"), "input": tool_arguments(call)}})
            append_turn(turns, "assistant", blocks)
        elif role in ("tool", "function"):
            append_turn(turns, "user", [{"toolResult": {"toolUseId": message.get("tool_call_id") or message.get("name"),
                                         "content": [{"text": text_of(content)}]}}])
        else:
            raise InvalidRequest(f"message role {role!r} is not supported", param="messages")
    return system, turns


def _tool_config(body: dict[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    tools = [] if choice == "none" else function_tools(body)
    specs = [{"toolSpec": {"name": f["name"], "description": f.get("description") or f["name"],
                           "inputSchema": {"json": f.get("parameters") or {"type": "object", "properties": {}}}}}
             for f in tools]
    schema = response_format_schema(body)  # JSON mode: one forced tool, its input is the answer
    if schema is not None:
        specs.append({"toolSpec": {"name": RESPOND_TOOL, "description": RESPOND_TOOL_DESCRIPTION,
                                   "inputSchema": {"json": schema}}})
    if not specs:
        return None
    config: dict[str, Any] = {"tools": specs}
    if schema is not None and not tools:
        config["toolChoice"] = {"tool": {"name": RESPOND_TOOL}}
    elif choice == "required" or (schema is not None and choice in (None, "auto")):
        config["toolChoice"] = {"any": {}}
    elif isinstance(choice, dict):
        config["toolChoice"] = {"tool": {"name": (choice.get("function") or {}).get("name")}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    return config


def converse_request(call: ChatCall) -> dict[str, Any]:
    body = dict(call.body)
    single_choice(body, "Bedrock")
    system, messages = _messages(list(body.get("messages") or []))
    d = call.deployment
    inference: dict[str, Any] = {"maxTokens": int(body.get("max_completion_tokens") or body.get("max_tokens")
                                                  or d.max_output_tokens or DEFAULT_MAX_TOKENS)}
    for source, target in INFERENCE_RENAMES.items():
        if body.get(source) is not None:
            inference[target] = body[source]
    stops = stop_sequences(body)
    if stops:
        inference["stopSequences"] = stops
    request: dict[str, Any] = {"modelId": d.model, "messages": messages, "inferenceConfig": inference}
    if system:
        request["system"] = system
    tools = _tool_config(body)
    if tools:
        request["toolConfig"] = tools
    budget = reasoning_budget(body)
    forced = tools is not None and ("any" in tools.get("toolChoice", {}) or "tool" in tools.get("toolChoice", {}))
    if budget is not None and "anthropic." in d.model and not forced:  # Claude's extended thinking
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        budget, inference["maxTokens"] = thinking_within(budget, int(limit) if limit else None,
                                                         d.max_output_tokens or DEFAULT_MAX_TOKENS)
        request["additionalModelRequestFields"] = {"thinking": {"type": "enabled", "budget_tokens": budget}}
    return request


def openai_completion(response: dict[str, Any], model: str) -> ChatResult:
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    content = response["output"]["message"]["content"]
    if not isinstance(content, list):
        raise ValueError("message content is not a list")
    for block in content:
        if "text" in block:
            text.append(block["text"])
        elif "toolUse" in block and block["toolUse"]["name"] == RESPOND_TOOL:
            text.append(json.dumps(block["toolUse"].get("input") or {}))
        elif "toolUse" in block:
            use = block["toolUse"]
            calls.append({"id": use["toolUseId"], "type": "function",
                          "function": {"name": use["name"], "arguments": json.dumps(use.get("input") or {})}})
        elif "reasoningContent" in block:
            reasoning.append((block["reasoningContent"].get("reasoningText") or {}).get("text", ""))
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None,
                               "refusal": None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    usage = usage_from_converse(response.get("usage"))
    finish = FINISH_REASONS.get(response.get("stopReason") or "end_turn", "stop")
    body = {"id": "chatcmpl-" + ((response.get("ResponseMetadata") or {}).get("RequestId") or uuid.uuid4().hex),
            "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "stop" if finish == "tool_calls" and not calls else finish}],
            "usage": usage.to_openai()}
    return ChatResult(body=body, usage=usage)


class BedrockStreamState:
    """ConverseStream events (botocore dicts, one key each) -> OpenAI chunks."""

    def __init__(self, model: str) -> None:
        self.base = {"id": "chatcmpl-" + uuid.uuid4().hex, "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": model}
        self.tools: dict[int, int] = {}
        self.answers: set[int] = set()  # blocks of RESPOND_TOOL, streamed as content
        self.finish: str | None = None
        self.stopped = False  # messageStop seen
        self.finished = False  # messageStop and then metadata (usage): the stream's protocol end

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> ChatChunk:
        return {**self.base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def event(self, event: dict[str, Any]) -> list[StreamEvent]:
        if "messageStart" in event:
            return [self._chunk({"role": "assistant", "content": ""})]
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if use and use.get("name") == RESPOND_TOOL:
                self.answers.add(start["contentBlockIndex"])
                return []
            if use:
                position = self.tools[start["contentBlockIndex"]] = len(self.tools)
                return [self._chunk({"tool_calls": [{"index": position, "id": use["toolUseId"], "type": "function",
                                                     "function": {"name": use["name"], "arguments": ""}}]})]
            return []
        if "contentBlockDelta" in event:
            block = event["contentBlockDelta"]
            delta = block["delta"]
            if "text" in delta:
                return [self._chunk({"content": delta["text"]})]
            if "toolUse" in delta and block["contentBlockIndex"] in self.answers:
                return [self._chunk({"content": delta["toolUse"].get("input", "")})]
            if "toolUse" in delta:
                return [self._chunk({"tool_calls": [{"index": self.tools[block["contentBlockIndex"]],
                                                     "function": {"arguments": delta["toolUse"].get("input", "")}}]})]
            if "reasoningContent" in delta and "text" in delta["reasoningContent"]:
                return [self._chunk({"reasoning_content": delta["reasoningContent"]["text"]})]
            return []
        if "messageStop" in event:
            self.stopped = True
            finish = FINISH_REASONS.get(event["messageStop"].get("stopReason") or "end_turn", "stop")
            return [self._chunk({}, "stop" if finish == "tool_calls" and not self.tools else finish)]
        if "metadata" in event:
            self.finished = self.stopped
            return [usage_from_converse(event["metadata"].get("usage"))]
        for name, value in event.items():  # an exception event that botocore did not raise
            if name.endswith("Exception"):
                raise UpstreamError(f"bedrock stream error: {(value or {}).get('message', name)}", status=502)
        return []
