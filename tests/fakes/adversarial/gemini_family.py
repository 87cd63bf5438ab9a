"""Google Gemini `streamGenerateContent?alt=sse` and `generateContent`, as documented.

A stream is `data: <GenerateContentResponse>` events separated by CRLF blank lines: candidates
with `content.parts[].text`, `usageMetadata` (promptTokenCount, candidatesTokenCount,
totalTokenCount), and on the last one the candidate's `finishReason`. There is no end marker
after it: the connection closes. Errors: `{"error": {"code", "message", "status"}}`.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.adversarial.family import WORDS, dumps
from tests.fakes.adversarial.faults import Fault
from tests.fakes.adversarial.server import Received

STATUSES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL"}


def _usage(value: Any, done: int) -> dict[str, Any]:
    if value is None:
        return {"promptTokenCount": 9, "candidatesTokenCount": done, "totalTokenCount": 9 + done}
    return {"promptTokenCount": value, "candidatesTokenCount": value, "totalTokenCount": value}


class GeminiFamily:
    name = "gemini"
    reads_after_end = True

    def _response(self, text: str, usage: Any, done: int, finish: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = "STOP"
        return {"candidates": [candidate], "usageMetadata": _usage(usage, done), "modelVersion": "gemini-2.5-flash",
                "responseId": "adv-response"}

    def stream_frames(self, request: Received, usage: Any) -> tuple[list[bytes], int]:
        frames = [f"data: {dumps(self._response(w, usage, i + 1, i == len(WORDS) - 1))}\r\n\r\n".encode()
                  for i, w in enumerate(WORDS)]
        return frames, len(frames)

    def body(self, request: Received, usage: Any) -> bytes:
        return dumps(self._response("".join(WORDS), usage, len(WORDS), True)).encode()

    def error(self, status: int, message: str) -> tuple[bytes, dict[str, str]]:
        return dumps({"error": {"code": status, "message": message, "status": STATUSES.get(status, "INTERNAL")}}
                     ).encode(), {}

    def garbage(self, fault: Fault) -> tuple[bytes, bool]:
        if not fault.garbage_is_data:
            return f"{fault.garbage}\r\n\r\n".encode(), False
        return f"data: {fault.garbage}\r\n\r\n".encode(), fault.garbage != "{}"
