"""A fake OpenAI API on loopback that speaks the real wire format and misbehaves on demand.

The upstream model id chooses the behaviour, so concurrent tests never interfere:
  ...fail-<status>...   answer with that HTTP status and an OpenAI error body (429 adds Retry-After: 1)
  ...slow...            wait `slow_s` before the first byte
  ...broken...          stream two chunks, then drop the connection
  ...badjson...         a 200 whose body is not JSON
  ...nousage...         never report usage
Anything else answers normally. Usage is computed deterministically from the request:
prompt = 7 + 3 per message + words in message contents; completion = words in the answer.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class ReceivedCall:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    slow_s: float = 1.5
    word_delay_s: float = 0.0
    calls: list[ReceivedCall] = field(default_factory=list)
    stream_endings: list[str] = field(default_factory=list)  # "completed" | "cancelled", per stream

    def calls_for(self, model: str) -> list[ReceivedCall]:
        return [c for c in self.calls if c.body.get("model") == model]

    # ---- behaviour helpers ---------------------------------------------------------------
    @staticmethod
    def failure_status(model: str) -> int | None:
        marker = "fail-"
        if marker in model:
            digits = model.split(marker, 1)[1][:3]
            if digits.isdigit():
                return int(digits)
        return None

    @staticmethod
    def prompt_tokens(body: dict[str, Any]) -> int:
        total = 7
        for message in body.get("messages") or []:
            total += 3
            content = message.get("content")
            if isinstance(content, str):
                total += len(content.split())
            elif isinstance(content, list):
                total += sum(len(str(p.get("text", "")).split()) for p in content if isinstance(p, dict))
        return total

    @staticmethod
    def answer(body: dict[str, Any], index: int = 0) -> str:
        last = (body.get("messages") or [{}])[-1].get("content")
        said = last if isinstance(last, str) else "something"
        suffix = f" #{index}" if index else ""
        return f"Hello from {body.get('model')}{suffix}: you said {said}"

    @staticmethod
    def tool_call(body: dict[str, Any]) -> dict[str, Any] | None:
        tools = body.get("tools") or []
        if not tools or body.get("tool_choice") in (None, "none", "auto"):
            return None
        name = tools[0]["function"]["name"]
        return {"id": "call_fake_1", "type": "function", "function": {"name": name, "arguments": '{"city": "Paris"}'}}

    def usage(self, body: dict[str, Any], completion: int) -> dict[str, Any]:
        prompt = self.prompt_tokens(body)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 0}}

    # ---- routes ----------------------------------------------------------------------------
    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.calls.append(ReceivedCall("/v1/chat/completions", dict(request.headers), body))
        model = str(body.get("model", ""))
        status = self.failure_status(model)
        if status is not None:
            headers = {"retry-after": "1"} if status == 429 else {}
            return JSONResponse({"error": {"message": f"fake failure {status}", "type": "server_error" if status >= 500
                                           else "invalid_request_error", "param": "temperature" if status == 400
                                           else None, "code": "fake_" + str(status)}},
                                status_code=status, headers=headers)
        if "slow" in model:
            await asyncio.sleep(self.slow_s)
        if "badjson" in model:
            return Response(b"{not json", media_type="application/json")
        if body.get("stream"):
            return StreamingResponse(self._stream(body, model), media_type="text/event-stream")
        n = int(body.get("n") or 1)
        tool = self.tool_call(body)
        choices = []
        completion = 0
        for i in range(n):
            text = self.answer(body, i)
            completion += len(text.split())
            message: dict[str, Any] = {"role": "assistant", "content": None if tool else text, "refusal": None}
            if tool:
                message["tool_calls"] = [tool]
            choices.append({"index": i, "message": message, "logprobs": None,
                            "finish_reason": "tool_calls" if tool else "stop"})
        result: dict[str, Any] = {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                                  "model": model, "choices": choices, "system_fingerprint": "fp_fake"}
        if "nousage" not in model:
            result["usage"] = self.usage(body, completion)
        return JSONResponse(result)

    async def _stream(self, body: dict[str, Any], model: str) -> Any:
        ending = "cancelled"
        try:
            async for item in self._stream_events(body, model):
                yield item
            ending = "completed"
        finally:
            self.stream_endings.append(ending)

    async def _stream_events(self, body: dict[str, Any], model: str) -> Any:
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                "system_fingerprint": "fp_fake"}

        def event(payload: dict[str, Any]) -> bytes:
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return event({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                               "finish_reason": finish}]})

        tool = self.tool_call(body)
        yield chunk({"role": "assistant", "content": "" if not tool else None})
        words = self.answer(body).split()
        if tool:
            fn = tool["function"]
            yield chunk({"tool_calls": [{"index": 0, "id": tool["id"], "type": "function",
                                         "function": {"name": fn["name"], "arguments": ""}}]})
            for piece in ('{"city"', ': "Paris"}'):
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            completion = 9
        else:
            for position, word in enumerate(words):
                if "broken" in model and position == 2:
                    raise ConnectionResetError("fake upstream drops the connection")
                if self.word_delay_s:
                    await asyncio.sleep(self.word_delay_s)
                yield chunk({"content": word if position == 0 else " " + word})
            completion = len(words)
        yield chunk({}, "tool_calls" if tool else "stop")
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        if include_usage and "nousage" not in model:
            yield event({**base, "choices": [], "usage": self.usage(body, completion)})
        yield b"data: [DONE]\n\n"

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.calls.append(ReceivedCall("/v1/embeddings", dict(request.headers), body))
        status = self.failure_status(str(body.get("model", "")))
        if status is not None:
            return JSONResponse({"error": {"message": f"fake failure {status}", "type": "server_error"}},
                                status_code=status)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.1 * (i + 1), 0.2, 0.3]} for i in range(len(inputs))]
        tokens = sum(len(str(x).split()) for x in inputs)
        return JSONResponse({"object": "list", "data": data, "model": body["model"],
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/embeddings", self.embeddings, methods=["POST"]),
        ])
