"""The built-in `mock` provider: answers locally with realistic shapes and usage.

For `aigw dev`, demos and load tests with no upstream at all. Upstream model ids:
  mock-fast*     answers at once
  mock-stream*   streams piece by piece, `WORD_DELAY_S` apart (non-streaming calls wait as long)
  mock-embed*    deterministic unit vectors (embeddings)

It behaves like a model an agent can run against, deterministically:
- with `tools`, it calls the tool whose name and description best match the last user
  message, with arguments valid against the tool's `parameters` schema (`tool_choice`
  honoured: `none`, `required`, a named function); once the last message is a tool result,
  it answers in text (`required` and a named function keep calling, as asked);
- with `response_format` `json_schema` its content is JSON valid against the schema
  (`mock_schema.sample`), with `json_object` a JSON object;
- embeddings honour `dimensions` (a prefix of one long vector, re-normalized, as
  text-embedding-3 shortens) and `encoding_format: "base64"` (little-endian float32).
Usage is counted with the same tiktoken counter the gateway uses for admission, and an
output limit cuts the answer (`finish_reason: "length"`), tool arguments included.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import struct
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from aigw import tokens
from aigw.errors import UpstreamError
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatCall, ChatResult, EmbeddingsCall, EmbeddingsResult, StreamEvent
from aigw.providers.mock_schema import SchemaError, sample

WORD_DELAY_S = 0.02
EMBED_DIMENSIONS = 256  # the default length
EMBED_MAX_DIMENSIONS = 3072  # as text-embedding-3-large
_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about which tool is meant.
_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "get", "how", "i", "in", "is",
    "it", "me", "my", "of", "on", "or", "please", "set", "show", "tell", "that", "the", "this", "to", "use", "what",
    "when", "where", "which", "who", "why", "will", "with", "you", "your"})


@dataclass(slots=True)
class _Choice:
    pieces: list[str]  # the content, or the tool call's arguments, as streamed (joined: the whole)
    finish: str
    tool: dict[str, Any] | None = None  # {"id", "type": "function", "function": {"name", "arguments"}}

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _last_user_text(messages: list[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _function_tools(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"
            and isinstance(t.get("function"), dict) and t["function"].get("name")]


def _tool_to_call(body: Mapping[str, Any], messages: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The tool this turn calls, or None for a text answer."""
    tools = _function_tools(body)
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        return next((t for t in tools if t["function"]["name"] == name), None)
    if choice != "required" and messages and messages[-1].get("role") in ("tool", "function"):
        return None  # the tool answered: now the model answers
    return _best_tool(tools, _last_user_text(messages))


def _best_tool(tools: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """The tool sharing most words with the user's message (name and description); ties go
    to the first, so the choice is deterministic."""
    said = set(_WORD.findall(text.lower())) - _STOPWORDS

    def score(tool: dict[str, Any]) -> int:
        function = tool["function"]
        name = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(function["name"])).lower()
        words = set(_WORD.findall(name.replace("_", " "))) | set(_WORD.findall(str(function.get("description") or
                                                                                    "").lower()))
        return len(words & said)

    return max(tools, key=score)  # max keeps the first of equal scores


def _tool_results(messages: list[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(tool name, result text) of the trailing tool messages, names looked up by call id."""
    names: dict[str, str] = {}
    for message in messages:
        for tool_call in message.get("tool_calls") or []:
            if isinstance(tool_call, dict):
                names[str(tool_call.get("id"))] = str((tool_call.get("function") or {}).get("name") or "tool")
    results: list[tuple[str, str]] = []
    for message in reversed(messages):
        if message.get("role") not in ("tool", "function"):
            break
        name = names.get(str(message.get("tool_call_id")), str(message.get("name") or "tool"))
        results.append((name, _text_of(message.get("content"))))
    return list(reversed(results))


def _prose(call: ChatCall, messages: list[Mapping[str, Any]], index: int) -> str:
    head = f"Mock answer from {call.deployment.model}" + (f" (choice {index + 1})" if index else "") + "."
    results = _tool_results(messages)
    if results:
        told = "; ".join(f"{name} returned: {' '.join(text.split()[:24])}" for name, text in results)
        return f"{head} The tool {told}"
    prompt = " ".join(_last_user_text(messages).split()[:24])
    return f"{head} You said: {prompt}" if prompt else head


def _content(call: ChatCall, messages: list[Mapping[str, Any]], index: int) -> str:
    """The answer's text: JSON when `response_format` asks for it, prose otherwise."""
    fmt = call.body.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
        schema = spec.get("schema", {}) if isinstance(spec, dict) else {}
        try:
            return json.dumps(sample(schema), ensure_ascii=False)
        except SchemaError:
            return "{}"
    if kind == "json_object":
        return json.dumps({"answer": _prose(call, messages, index)}, ensure_ascii=False)
    return _prose(call, messages, index)


def _arguments(tool: dict[str, Any]) -> str:
    schema = tool["function"].get("parameters") or {"type": "object", "properties": {}}
    try:
        value = sample(schema)
    except SchemaError:
        value = {}
    return json.dumps(value if isinstance(value, dict) else {}, ensure_ascii=False)


def _pieces(text: str) -> list[str]:
    """Word-sized pieces whose concatenation is exactly `text` (JSON included)."""
    words = text.split(" ")
    return [words[0], *(" " + w for w in words[1:])] if text else []


def _max_output(call: ChatCall) -> int | None:
    value = call.body.get("max_completion_tokens") or call.body.get("max_tokens")
    return int(value) if value else None


class MockProvider:
    """`ChatProvider` and `EmbeddingsProvider` with no network."""

    def _choices(self, call: ChatCall) -> tuple[list[_Choice], int]:
        model = call.deployment.model
        messages = [m for m in call.body.get("messages") or [] if isinstance(m, Mapping)]
        limit = _max_output(call)
        tool = _tool_to_call(call.body, messages)
        choices: list[_Choice] = []
        completion = 0
        for index in range(int(call.body.get("n") or 1)):
            if tool is not None:
                name = str(tool["function"]["name"])
                pieces, finish = _pieces(_arguments(tool)), "tool_calls"
                framing = tokens.count_text(name, model) + 3
            else:
                pieces, finish, framing = _pieces(_content(call, messages, index)), "stop", 0
            if limit is not None:
                kept: list[str] = []
                for piece in pieces:
                    if framing + tokens.count_text("".join([*kept, piece]), model) > limit:
                        finish = "length"
                        break
                    kept.append(piece)
                pieces = kept
            completion += framing + tokens.count_text("".join(pieces), model)
            tool_call = None
            if tool is not None:
                tool_call = {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                             "function": {"name": tool["function"]["name"], "arguments": "".join(pieces)}}
            choices.append(_Choice(pieces, finish, tool_call))
        return choices, completion

    def _usage(self, call: ChatCall, completion: int) -> Usage:
        prompt = tokens.count_chat_prompt_tokens(
            list(call.body.get("messages") or []), call.deployment.model, tools=call.body.get("tools"))
        return Usage(input_tokens=prompt, output_tokens=completion)

    def _streams(self, call: ChatCall) -> bool:
        return call.deployment.model.startswith("mock-stream")

    async def complete(self, call: ChatCall) -> ChatResult:
        choices, completion = self._choices(call)
        if self._streams(call):
            await asyncio.sleep(WORD_DELAY_S * max(len(c.pieces) for c in choices))
        usage = self._usage(call, completion)
        body = {
            "id": f"chatcmpl-mock-{uuid.uuid4().hex[:20]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.deployment.model,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": None if c.tool else c.text,
                                **({"tool_calls": [c.tool]} if c.tool else {}), "refusal": None},
                    "logprobs": None,
                    "finish_reason": c.finish,
                }
                for i, c in enumerate(choices)
            ],
            "usage": usage.to_openai(),
            "system_fingerprint": "fp_mock",
        }
        return ChatResult(body=body, usage=usage)

    async def stream(self, call: ChatCall) -> AsyncIterator[StreamEvent]:
        choices, completion = self._choices(call)
        delay = WORD_DELAY_S if self._streams(call) else 0.0
        base = {"id": f"chatcmpl-mock-{uuid.uuid4().hex[:20]}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": call.deployment.model, "system_fingerprint": "fp_mock"}

        def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": index, "delta": delta, "logprobs": None,
                                         "finish_reason": finish}]}

        deltas: list[list[dict[str, Any]]] = []
        for i, c in enumerate(choices):
            yield chunk(i, {"role": "assistant", "content": None if c.tool else "", "refusal": None})
            if c.tool is None:
                deltas.append([{"content": piece} for piece in c.pieces])
                continue
            function = c.tool["function"]
            opening = {"index": 0, "id": c.tool["id"], "type": "function",
                       "function": {"name": function["name"], "arguments": ""}}
            deltas.append([{"tool_calls": [opening]},
                           *({"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in c.pieces)])
        for position in range(max(len(d) for d in deltas)):
            if delay:
                await asyncio.sleep(delay)
            for i, choice_deltas in enumerate(deltas):
                if position < len(choice_deltas):
                    yield chunk(i, choice_deltas[position])
        for i, c in enumerate(choices):
            yield chunk(i, {}, c.finish)
        yield self._usage(call, completion)

    async def embed(self, call: EmbeddingsCall) -> EmbeddingsResult:
        raw = call.body.get("input")
        if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)):
            inputs: list[Any] = [raw]  # a string or one token array is one input
        else:
            inputs = list(raw or [])
        dimensions = _dimensions(call.body.get("dimensions"))
        as_base64 = call.body.get("encoding_format") == "base64"
        data = []
        prompt = 0
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(str(t) for t in item)
            prompt += tokens.count_text(text, "cl100k_base") if isinstance(item, str) else len(item)
            vector = _vector(text, dimensions)
            embedding: list[float] | str = _base64(vector) if as_base64 else vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        usage = Usage(input_tokens=prompt)
        body = {"object": "list", "data": data, "model": call.deployment.model,
                "usage": {"prompt_tokens": prompt, "total_tokens": prompt}}
        return EmbeddingsResult(body=body, usage=usage)


def _dimensions(value: Any) -> int:
    if value is None:
        return EMBED_DIMENSIONS
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= EMBED_MAX_DIMENSIONS:
        raise UpstreamError(f"Invalid value for 'dimensions' = {value}: the mock embeds with 1 to "
                            f"{EMBED_MAX_DIMENSIONS} dimensions", status=400, param="dimensions",
                            code="invalid_value")
    return value


def _vector(text: str, dimensions: int = EMBED_DIMENSIONS) -> list[float]:
    """A deterministic unit vector from the text's hash: equal texts, equal vectors. Shorter
    vectors are prefixes of longer ones, re-normalized."""
    seed = hashlib.sha256(text.encode()).digest()
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        values.extend(v / 2**31 for v in struct.unpack(">8i", block))
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _base64(vector: list[float]) -> str:
    """OpenAI's `encoding_format: "base64"`: the float32 values, little-endian, base64."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
