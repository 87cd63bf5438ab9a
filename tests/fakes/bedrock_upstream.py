"""A fake Bedrock Runtime (Converse, ConverseStream) on loopback, for boto3 pointed at it.

ConverseStream answers in the real `application/vnd.amazon.eventstream` binary framing
(prelude with total and headers length and its CRC32, typed headers, JSON payload, message
CRC32), which botocore parses byte for byte. moto has no Converse (docs/DESIGN.md §8).

The upstream model id chooses the behaviour:
  ...fail-<status>...  that status with the matching error code header (429 ThrottlingException, ...)
  ...slow...           wait `slow_s` before the first byte
  ...broken...         stream two text deltas, then drop the connection
  ...streamerr...      stream two text deltas, then a modelStreamErrorException event
  ...badjson...        a 200 whose body is not JSON (non-streaming)
  ...cache...          report 100 cache-read and 50 cache-write tokens beside the uncached input
Tools with toolChoice any/tool: a toolUse block {"city": "Paris"} (input streamed in two pieces).
Usage: input = 5 + words of system and text blocks; output = words in the answer.
"""

from __future__ import annotations

import asyncio
import binascii
import json
import struct
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.openai_upstream import ReceivedCall

ERROR_CODES = {400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
               429: "ThrottlingException", 500: "InternalServerException", 503: "ServiceUnavailableException"}


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC32), headers,
    payload, CRC32 of everything before it."""
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", binascii.crc32(message))


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return frame({":event-type": kind, ":content-type": "application/json", ":message-type": "event"},
                 json.dumps(payload).encode())


def exception(kind: str, message: str) -> bytes:
    return frame({":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"},
                 json.dumps({"message": message}).encode())


def _words(blocks: Any) -> int:
    return sum(len(str(b.get("text", "")).split()) for b in blocks or [] if isinstance(b, dict))


@dataclass
class FakeBedrock:
    slow_s: float = 1.5
    calls: list[ReceivedCall] = field(default_factory=list)

    @staticmethod
    def input_tokens(body: dict[str, Any]) -> int:
        return 5 + _words(body.get("system")) + sum(_words(m.get("content")) for m in body.get("messages") or [])

    @staticmethod
    def answer(model: str, body: dict[str, Any]) -> str:
        last = (body.get("messages") or [{}])[-1].get("content") or []
        said = " ".join(str(b["text"]) for b in last if "text" in b) or "something"
        return f"Bedrock {model} heard: {said}"

    @staticmethod
    def tool(body: dict[str, Any]) -> str | None:
        config = body.get("toolConfig") or {}
        choice = config.get("toolChoice") or {}
        if config.get("tools") and ("any" in choice or "tool" in choice):
            return str(config["tools"][0]["toolSpec"]["name"])
        return None

    def usage(self, model: str, body: dict[str, Any], output: int) -> dict[str, Any]:
        cached = "cache" in model
        inp = self.input_tokens(body)
        usage = {"inputTokens": inp, "outputTokens": output, "totalTokens": inp + output + (150 if cached else 0)}
        if cached:
            usage.update(cacheReadInputTokens=100, cacheWriteInputTokens=50)
        return usage

    async def _common(self, request: Request, path: str) -> tuple[str, dict[str, Any], Response | None]:
        model = request.path_params["model"]
        body = await request.json()
        self.calls.append(ReceivedCall(path.format(model=model), dict(request.headers), body))
        if "fail-" in model and model.split("fail-", 1)[1][:3].isdigit():
            status = int(model.split("fail-", 1)[1][:3])
            code = ERROR_CODES.get(status, "InternalServerException")
            return model, body, JSONResponse({"message": f"fake failure {status}"}, status_code=status,
                                             headers={"x-amzn-errortype": f"{code}:http://internal.amazon.com/"})
        if "slow" in model:
            await asyncio.sleep(self.slow_s)
        return model, body, None

    async def converse(self, request: Request) -> Response:
        model, body, failed = await self._common(request, "/model/{model}/converse")
        if failed is not None:
            return failed
        if "badjson" in model:
            return Response(b"{not json", media_type="application/json")
        tool = self.tool(body)
        text = self.answer(model, body)
        content: list[dict[str, Any]] = ([{"toolUse": {"toolUseId": "tooluse_1", "name": tool,
                                                       "input": {"city": "Paris"}}}] if tool else [{"text": text}])
        output = 9 if tool else len(text.split())
        return JSONResponse({"output": {"message": {"role": "assistant", "content": content}},
                             "stopReason": "tool_use" if tool else "end_turn",
                             "usage": self.usage(model, body, output), "metrics": {"latencyMs": 12}})

    async def converse_stream(self, request: Request) -> Response:
        model, body, failed = await self._common(request, "/model/{model}/converse-stream")
        if failed is not None:
            return failed
        return StreamingResponse(self._stream(model, body), media_type="application/vnd.amazon.eventstream")

    async def _stream(self, model: str, body: dict[str, Any]) -> Any:
        yield event("messageStart", {"role": "assistant"})
        tool = self.tool(body)
        if tool:
            yield event("contentBlockStart", {"contentBlockIndex": 0, "start": {
                "toolUse": {"toolUseId": "tooluse_1", "name": tool}}})
            for piece in ('{"city"', ': "Paris"}'):
                yield event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": piece}}})
            output = 9
        else:
            words = self.answer(model, body).split()
            for position, word in enumerate(words):
                if position == 2 and "broken" in model:
                    raise ConnectionResetError("fake upstream drops the connection")
                if position == 2 and "streamerr" in model:
                    yield exception("modelStreamErrorException", "the model stopped")
                    return
                yield event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {
                    "text": word if position == 0 else " " + word}})
            output = len(words)
        yield event("contentBlockStop", {"contentBlockIndex": 0})
        yield event("messageStop", {"stopReason": "tool_use" if tool else "end_turn"})
        yield event("metadata", {"usage": self.usage(model, body, output), "metrics": {"latencyMs": 12}})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/model/{model}/converse", self.converse, methods=["POST"]),
            Route("/model/{model}/converse-stream", self.converse_stream, methods=["POST"]),
        ])
