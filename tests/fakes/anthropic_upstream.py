"""A fake Anthropic Messages API on loopback: real SSE event types, real error envelope.

The upstream model id chooses the behaviour (concurrency-safe):
  ...fail-<status>...  that status with Anthropic's error body (429 adds retry-after: 1; 529 = overloaded)
  ...slow...           wait `slow_s` before the first byte
  ...broken...         stream the first text deltas, then drop the connection
  ...badjson...        a 200 whose body (or first event) is not JSON
  ...overloaded...     (streams) a 200 whose first event is an `error` (overloaded_error)
  ...cache...          report 100 cache-read and 50 cache-write tokens beside the uncached input
  ...thinking...       answer with a thinking block (with signature) before the text
Tools present with a tool_choice of type any/tool: answer with a tool_use block
{"city": "Paris"}, streamed as input_json_delta pieces.
`delays` and `failing` change a model's behaviour at run time (latency and cool-down tests).
Usage: input = 5 + words of every text block (system included); output = words in the answer.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.openai_upstream import ReceivedCall

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}


def _words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(b.get("text", "")) + _words(b.get("content", "")) for b in value if isinstance(b, dict))
    return 0


@dataclass
class FakeAnthropic:
    slow_s: float = 1.5
    calls: list[ReceivedCall] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)  # model -> wait before the first byte
    failing: set[str] = field(default_factory=set)  # models that answer 500 for now

    def calls_for(self, model: str) -> list[ReceivedCall]:
        return [c for c in self.calls if c.body.get("model") == model]

    @staticmethod
    def input_tokens(body: dict[str, Any]) -> int:
        return 5 + _words(body.get("system")) + sum(_words(m.get("content")) for m in body.get("messages") or [])

    @staticmethod
    def answer(body: dict[str, Any]) -> str:
        last = (body.get("messages") or [{}])[-1].get("content")
        said = last if isinstance(last, str) else " ".join(
            b.get("text", "") for b in last or [] if isinstance(b, dict) and b.get("type") == "text") or "something"
        return f"Claude {body.get('model')} heard: {said}"

    @staticmethod
    def wants_tool(body: dict[str, Any]) -> str | None:
        tools = body.get("tools") or []
        if tools and (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
            return str(tools[0]["name"])
        return None

    def usage(self, body: dict[str, Any], output: int) -> dict[str, Any]:
        cached = "cache" in str(body.get("model"))
        return {"input_tokens": self.input_tokens(body), "output_tokens": output,
                "cache_read_input_tokens": 100 if cached else 0, "cache_creation_input_tokens": 50 if cached else 0}

    async def messages(self, request: Request) -> Response:
        body = await request.json()
        self.calls.append(ReceivedCall("/v1/messages", dict(request.headers), body))
        model = str(body.get("model", ""))
        if "fail-" in model and model.split("fail-", 1)[1][:3].isdigit():
            status = int(model.split("fail-", 1)[1][:3])
            headers = {"retry-after": "1"} if status == 429 else {}
            return JSONResponse({"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"),
                                                            "message": f"fake failure {status}"}},
                                status_code=status, headers=headers)
        if model in self.failing:
            return JSONResponse({"type": "error", "error": {"type": "api_error", "message": "fake outage"}},
                                status_code=500)
        if self.delays.get(model):
            await asyncio.sleep(self.delays[model])
        if request.headers.get("x-api-key") != "sk-ant-test":
            return JSONResponse({"type": "error", "error": {"type": "authentication_error",
                                                            "message": "invalid x-api-key"}}, status_code=401)
        if "slow" in model:
            await asyncio.sleep(self.slow_s)
        if body.get("stream"):
            return StreamingResponse(self._stream(body, model), media_type="text/event-stream")
        if "badjson" in model:
            return Response(b"{not json", media_type="application/json")
        content: list[dict[str, Any]] = []
        if "thinking" in model:
            content.append({"type": "thinking", "thinking": "Let me think.", "signature": "sig-123"})
        tool = self.wants_tool(body)
        text = self.answer(body)
        if tool:
            content.append({"type": "tool_use", "id": "toolu_fake_1", "name": tool, "input": {"city": "Paris"}})
        else:
            content.append({"type": "text", "text": text})
        return JSONResponse({"id": "msg_fake_1", "type": "message", "role": "assistant", "model": model,
                             "content": content, "stop_reason": "tool_use" if tool else "end_turn",
                             "stop_sequence": None, "usage": self.usage(body, 9 if tool else len(text.split()))})

    async def _stream(self, body: dict[str, Any], model: str) -> Any:
        def event(kind: str, payload: dict[str, Any]) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()

        if "badjson" in model:
            yield b"event: message_start\ndata: {not json\n\n"
            return
        if "overloaded" in model:
            yield event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
            return
        usage = self.usage(body, 1)
        yield event("message_start", {"message": {
            "id": "msg_fake_1", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage}})
        yield event("ping", {})
        index = 0
        if "thinking" in model:
            yield event("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": "",
                                                                             "signature": ""}})
            yield event("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta",
                                                                      "thinking": "Let me think."}})
            yield event("content_block_delta", {"index": 0, "delta": {"type": "signature_delta",
                                                                      "signature": "sig-123"}})
            yield event("content_block_stop", {"index": 0})
            index = 1
        tool = self.wants_tool(body)
        if tool:
            yield event("content_block_start", {"index": index, "content_block": {
                "type": "tool_use", "id": "toolu_fake_1", "name": tool, "input": {}}})
            for piece in ('{"city"', ': "Paris"}'):
                yield event("content_block_delta", {"index": index, "delta": {"type": "input_json_delta",
                                                                              "partial_json": piece}})
            output = 9
        else:
            yield event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
            words = self.answer(body).split()
            for position, word in enumerate(words):
                if "broken" in model and position == 2:
                    raise ConnectionResetError("fake upstream drops the connection")
                yield event("content_block_delta", {"index": index, "delta": {
                    "type": "text_delta", "text": word if position == 0 else " " + word}})
            output = len(words)
        yield event("content_block_stop", {"index": index})
        yield event("message_delta", {"delta": {"stop_reason": "tool_use" if tool else "end_turn",
                                                "stop_sequence": None}, "usage": {"output_tokens": output}})
        yield event("message_stop", {})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/messages", self.messages, methods=["POST"])])

