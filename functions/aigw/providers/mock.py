"""The built-in `mock` provider: answers locally with realistic shapes and usage.

For `aigw dev`, demos and load tests with no upstream at all. Upstream model ids:
  mock-fast*     answers at once
  mock-stream*   streams word by word, `WORD_DELAY_S` apart (non-streaming calls wait as long)
  mock-embed*    deterministic unit vectors (embeddings)
Usage is counted with the same tiktoken counter the gateway uses for admission.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aigw import tokens
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatCall, ChatResult, EmbeddingsCall, EmbeddingsResult, StreamEvent

WORD_DELAY_S = 0.02
EMBED_DIMENSIONS = 256


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _answer_words(call: ChatCall, index: int) -> list[str]:
    prompt = " ".join(_last_user_text(list(call.body.get("messages") or [])).split()[:24])
    suffix = f" (choice {index + 1})" if index else ""
    text = f"Mock answer from {call.deployment.model}{suffix}. You said: {prompt}" if prompt else \
        f"Mock answer from {call.deployment.model}{suffix}."
    return text.split(" ")


def _max_output(call: ChatCall) -> int | None:
    value = call.body.get("max_completion_tokens") or call.body.get("max_tokens")
    return int(value) if value else None


def _wants_tool(call: ChatCall) -> dict[str, Any] | None:
    tools = call.body.get("tools") or []
    choice = call.body.get("tool_choice")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return next((t for t in tools if (t.get("function") or {}).get("name") == name), None)
    if choice == "required":
        return dict(tools[0])
    return None


class MockProvider:
    """`ChatProvider` and `EmbeddingsProvider` with no network."""

    def _choices(self, call: ChatCall) -> tuple[list[tuple[list[str], str, dict[str, Any] | None]], int]:
        model = call.deployment.model
        limit = _max_output(call)
        tool = _wants_tool(call)
        n = int(call.body.get("n") or 1)
        choices: list[tuple[list[str], str, dict[str, Any] | None]] = []
        completion = 0
        for index in range(n):
            if tool is not None:
                name = tool["function"]["name"]
                arguments = '{"query": "mock"}'
                tool_call = {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                             "function": {"name": name, "arguments": arguments}}
                completion += tokens.count_text(name + arguments, model) + 3
                choices.append(([], "tool_calls", tool_call))
                continue
            words = _answer_words(call, index)
            finish = "stop"
            if limit is not None:
                kept: list[str] = []
                for word in words:
                    if tokens.count_text(" ".join([*kept, word]), model) > limit:
                        finish = "length"
                        break
                    kept.append(word)
                words = kept
            completion += tokens.count_text(" ".join(words), model)
            choices.append((words, finish, None))
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
            await asyncio.sleep(WORD_DELAY_S * max(len(c[0]) for c in choices))
        usage = self._usage(call, completion)
        body = {
            "id": f"chatcmpl-mock-{uuid.uuid4().hex[:20]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.deployment.model,
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": None if tool else " ".join(words),
                                **({"tool_calls": [tool]} if tool else {}), "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
                }
                for i, (words, finish, tool) in enumerate(choices)
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

        for i, (_, _, tool) in enumerate(choices):
            yield chunk(i, {"role": "assistant", "content": None if tool else "", "refusal": None})
        longest = max(len(words) for words, _, _ in choices)
        for position in range(longest):
            if delay:
                await asyncio.sleep(delay)
            for i, (words, _, _) in enumerate(choices):
                if position < len(words):
                    yield chunk(i, {"content": words[position] if position == 0 else " " + words[position]})
        for i, (_, finish, tool) in enumerate(choices):
            if tool is not None:
                yield chunk(i, {"tool_calls": [{"index": 0, **tool}]})
            yield chunk(i, {}, finish)
        yield self._usage(call, completion)

    async def embed(self, call: EmbeddingsCall) -> EmbeddingsResult:
        raw = call.body.get("input")
        inputs = [raw] if isinstance(raw, str) else list(raw or [])
        data = []
        prompt = 0
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else " ".join(str(t) for t in item)
            prompt += tokens.count_text(text, "cl100k_base") if isinstance(item, str) else len(item)
            data.append({"object": "embedding", "index": index, "embedding": _vector(text)})
        usage = Usage(input_tokens=prompt)
        body = {"object": "list", "data": data, "model": call.deployment.model,
                "usage": {"prompt_tokens": prompt, "total_tokens": prompt}}
        return EmbeddingsResult(body=body, usage=usage)


def _vector(text: str) -> list[float]:
    """A deterministic unit vector from the text's hash: equal texts, equal vectors."""
    seed = hashlib.sha256(text.encode()).digest()
    values: list[float] = []
    counter = 0
    while len(values) < EMBED_DIMENSIONS:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        values.extend(v / 2**31 for v in struct.unpack(">8i", block))
        counter += 1
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values[:EMBED_DIMENSIONS]]
