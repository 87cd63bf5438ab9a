"""A fake Gemini API: `POST /v1beta/models/{model}:generateContent` and
`:streamGenerateContent?alt=sse`, key in `x-goog-api-key`, Google's error envelope.

The upstream model id chooses the behaviour:
  ...fail-<status>...  that status in Google's envelope (429 carries RetryInfo retryDelay "1s")
  ...slow...           wait `slow_s` before the first byte
  ...broken...         stream two text chunks, then drop the connection
  ...badjson...        a 200 whose body is not JSON
  ...cache...          20 more prompt tokens, from the context cache (cachedContentTokenCount)
  ...thinking...       a thought part first, and 7 thinking tokens
Tools with mode ANY: a functionCall {"city": "Paris"} (whole, as Gemini streams calls).
Usage: prompt = 5 + words of systemInstruction and text parts; candidates = words in the answer.
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

KEY = "gm-test"
STATUSES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL", 503: "UNAVAILABLE"}


def _words(parts: Any) -> int:
    return sum(len(str(p.get("text", "")).split()) for p in parts or [] if isinstance(p, dict))


@dataclass
class FakeGemini:
    slow_s: float = 1.5
    calls: list[ReceivedCall] = field(default_factory=list)

    @staticmethod
    def answer(model: str, body: dict[str, Any]) -> str:
        last = (body.get("contents") or [{}])[-1].get("parts") or []
        said = " ".join(str(p["text"]) for p in last if "text" in p) or "something"
        return f"Gemini {model} heard: {said}"

    @staticmethod
    def tool(body: dict[str, Any]) -> str | None:
        mode = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
        tools = body.get("tools") or []
        return str(tools[0]["functionDeclarations"][0]["name"]) if tools and mode == "ANY" else None

    @staticmethod
    def usage(model: str, body: dict[str, Any], output: int) -> dict[str, Any]:
        prompt = 5 + _words((body.get("systemInstruction") or {}).get("parts")) + sum(
            _words(c.get("parts")) for c in body.get("contents") or [])
        if "cache" in model:
            prompt += 20  # the cached context is part of the prompt count
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": output, "totalTokenCount": prompt + output}
        if "cache" in model:
            usage["cachedContentTokenCount"] = 20
        if "thinking" in model:
            usage["thoughtsTokenCount"] = 7
            usage["totalTokenCount"] += 7
        return usage

    async def generate(self, request: Request) -> Response:
        model, _, method = request.path_params["target"].partition(":")
        body = await request.json()
        self.calls.append(ReceivedCall(request.url.path + ("?" + request.url.query if request.url.query else ""),
                                       dict(request.headers), body))
        if "fail-" in model and model.split("fail-", 1)[1][:3].isdigit():
            status = int(model.split("fail-", 1)[1][:3])
            error: dict[str, Any] = {"code": status, "message": f"fake failure {status}",
                                     "status": STATUSES.get(status, "INTERNAL")}
            if status == 429:
                error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}]
            return JSONResponse({"error": error}, status_code=status)
        if request.headers.get("x-goog-api-key") != KEY:
            return JSONResponse({"error": {"code": 400, "message": "API key not valid.",
                                           "status": "INVALID_ARGUMENT"}}, status_code=400)
        if "slow" in model:
            await asyncio.sleep(self.slow_s)
        if method == "streamGenerateContent":
            return StreamingResponse(self._stream(model, body), media_type="text/event-stream")
        if "badjson" in model:
            return Response(b"{not json", media_type="application/json")
        tool = self.tool(body)
        text = self.answer(model, body)
        parts: list[dict[str, Any]] = [{"text": "Thinking...", "thought": True}] if "thinking" in model else []
        parts.append({"functionCall": {"name": tool, "args": {"city": "Paris"}}} if tool else {"text": text})
        return JSONResponse({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                                             "index": 0}],
                             "usageMetadata": self.usage(model, body, 9 if tool else len(text.split())),
                             "modelVersion": model, "responseId": "resp-1"})

    async def _stream(self, model: str, body: dict[str, Any]) -> Any:
        def event(parts: list[dict[str, Any]], finish: str | None = None, output: int = 0) -> bytes:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            payload = {"candidates": [candidate], "usageMetadata": self.usage(model, body, output),
                       "modelVersion": model, "responseId": "resp-1"}
            return b"data: " + json.dumps(payload).encode() + b"\r\n\r\n"

        tool = self.tool(body)
        if "thinking" in model:
            yield event([{"text": "Thinking...", "thought": True}])
        if tool:
            yield event([{"functionCall": {"name": tool, "args": {"city": "Paris"}}}], "STOP", 9)
            return
        words = self.answer(model, body).split()
        for position in range(0, len(words), 2):
            if position >= 4 and "broken" in model:
                raise ConnectionResetError("fake upstream drops the connection")
            piece = " ".join(words[position:position + 2])
            last = position + 2 >= len(words)
            yield event([{"text": piece if position == 0 else " " + piece}], "STOP" if last else None,
                        len(words[:position + 2]))

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1beta/models/{target:path}", self.generate, methods=["POST"])])
