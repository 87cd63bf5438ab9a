"""An OpenAI-compatible chat server whose tokenizer counts more than tiktoken, as a
non-OpenAI model behind `openai-compatible` does (Chat Completions wire format, SSE with the
final usage chunk when `stream_options.include_usage`, `max_tokens` honoured).

The model id sets how much more: `inflate-<factor>[-<framing>]` bills

    prompt_tokens     = ceil(factor * tiktoken's count of the prompt) + framing per message
    completion_tokens = ceil(factor * tiktoken's count of the answer), cut at max_tokens

and an answer is a fixed number of words, sent one word per chunk (`word_delay_s` apart).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from aigw import tokens

ANSWER_TEXT = ("the budget holds because every reservation is an upper bound of what the provider bills "
               "and settlement replaces it with the actual cost")
ANSWER = ANSWER_TEXT.split()


def inflation(model: str) -> tuple[float, int]:
    parts = model.split("inflate-", 1)[1].split("-") if "inflate-" in model else ["1"]
    return float(parts[0]), int(parts[1]) if len(parts) > 1 else 4


@dataclass
class InflatingUpstream:
    word_delay_s: float = 0.002
    billed: list[dict[str, int]] = field(default_factory=list)

    def usage(self, body: dict[str, Any], words: list[str]) -> dict[str, Any]:
        factor, framing = inflation(str(body.get("model", "")))
        messages = list(body.get("messages") or [])
        raw = tokens.count_chat_prompt_tokens(messages, "cl100k_base", tools=body.get("tools"))
        prompt = math.ceil(factor * raw) + framing * len(messages)
        completion = math.ceil(factor * tokens.count_text(" ".join(words), "cl100k_base"))
        self.billed.append({"raw": raw, "prompt": prompt, "completion": completion})
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    @staticmethod
    def words(body: dict[str, Any]) -> list[str]:
        factor, _ = inflation(str(body.get("model", "")))
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        kept: list[str] = []
        for word in ANSWER:
            counted = tokens.count_text(" ".join([*kept, word]), "cl100k_base")
            if limit is not None and math.ceil(factor * counted) > limit:
                break
            kept.append(word)
        return kept

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        words = self.words(body)
        base = {"id": "chatcmpl-inflate", "created": int(time.time()), "model": body.get("model")}
        finish = "stop" if len(words) == len(ANSWER) else "length"
        if not body.get("stream"):
            await asyncio.sleep(self.word_delay_s * len(words))
            return JSONResponse({**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": {"role": "assistant", "content": " ".join(words)}, "finish_reason": finish}],
                "usage": self.usage(body, words)})
        include_usage = (body.get("stream_options") or {}).get("include_usage")

        async def events() -> Any:
            def frame(payload: dict[str, Any]) -> bytes:
                return b"data: " + json.dumps(payload).encode() + b"\n\n"

            def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
                return frame({**base, "object": "chat.completion.chunk",
                              "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]})

            yield chunk({"role": "assistant", "content": ""})
            for i, word in enumerate(words):
                await asyncio.sleep(self.word_delay_s)
                yield chunk({"content": word if i == 0 else " " + word})
            yield chunk({}, finish)
            if include_usage:
                yield frame({**base, "object": "chat.completion.chunk", "choices": [],
                             "usage": self.usage(body, words)})
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/chat/completions", self.chat, methods=["POST"])])
