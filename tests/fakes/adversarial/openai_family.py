"""OpenAI Chat Completions as its API reference describes it (also Azure OpenAI's paths).

A stream is `data: <chat.completion.chunk>` events: the role first, content deltas, a chunk
whose choice has `finish_reason`, with `stream_options.include_usage` a last chunk with empty
`choices` and the `usage`, then `data: [DONE]`. Errors: `{"error": {"message", "type",
"param", "code"}}`; a bad key is a 401 `invalid_api_key` that quotes the key masked.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.adversarial.family import WORDS, dumps
from tests.fakes.adversarial.faults import Fault
from tests.fakes.adversarial.server import Received

ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
               429: "rate_limit_error", 500: "server_error"}


def _usage(value: Any) -> dict[str, Any]:
    if value is None:
        return {"prompt_tokens": 12, "completion_tokens": len(WORDS), "total_tokens": 12 + len(WORDS),
                "prompt_tokens_details": {"cached_tokens": 0}}
    return {"prompt_tokens": value, "completion_tokens": value, "total_tokens": value,
            "prompt_tokens_details": {"cached_tokens": value}}


class OpenAIFamily:
    name = "openai"
    reads_after_end = False

    def _base(self) -> dict[str, Any]:
        return {"id": "chatcmpl-adv1", "object": "chat.completion.chunk", "created": 1700000000,
                "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_adv"}

    def stream_frames(self, request: Received, usage: Any) -> tuple[list[bytes], int]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return f"data: {dumps({**self._base(), 'choices': [choice]})}\n\n".encode()

        frames = [chunk({"role": "assistant", "content": "", "refusal": None})]
        frames += [chunk({"content": w}) for w in WORDS]
        frames.append(chunk({}, "stop"))
        complete_at = len(frames)  # every choice has its finish_reason
        frames.append(f"data: {dumps({**self._base(), 'choices': [], 'usage': _usage(usage)})}\n\n".encode())
        frames.append(b"data: [DONE]\n\n")
        return frames, complete_at

    def body(self, request: Received, usage: Any) -> bytes:
        return dumps({"id": "chatcmpl-adv1", "object": "chat.completion", "created": 1700000000,
                      "model": "gpt-4o-mini-2024-07-18",
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(WORDS),
                                                           "refusal": None}, "logprobs": None,
                                   "finish_reason": "stop"}],
                      "usage": _usage(usage)}).encode()

    def error(self, status: int, message: str) -> tuple[bytes, dict[str, str]]:
        code = "invalid_api_key" if status == 401 else None
        body = {"error": {"message": message, "type": ERROR_TYPES.get(status, "server_error"), "param": None,
                          "code": code}}
        return dumps(body).encode(), {"x-request-id": "req_upstream"}

    def garbage(self, fault: Fault) -> tuple[bytes, bool]:
        if not fault.garbage_is_data:
            return f"{fault.garbage}\n\n".encode(), False
        return f"data: {fault.garbage}\n\n".encode(), fault.garbage != "{}"  # an empty object is a chunk
