"""A cached answer: the `chat.completion` body, its usage and the deployment that produced it
(to price the saving on a hit). Serialized as zlib-compressed canonical JSON, the same bytes
in DynamoDB and in the vector index."""

from __future__ import annotations

import base64
import json
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from aigw.pricing.cost import Usage
from aigw.providers.base import ChatResult

# Finish reasons worth replaying. `content_filter`, `error` and a missing reason are not:
# a filtered or broken answer should be asked for again.
CACHEABLE_FINISH = frozenset({"stop", "length", "tool_calls", "function_call"})


@dataclass(slots=True)
class CachedResponse:
    body: dict[str, Any]
    usage: dict[str, Any]  # OpenAI wire shape
    deployment: str | None = None
    created_at: float = field(default_factory=time.time)

    def to_bytes(self) -> bytes:
        payload = {"body": self.body, "usage": self.usage, "deployment": self.deployment,
                   "created_at": self.created_at}
        return zlib.compress(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> CachedResponse:
        payload = json.loads(zlib.decompress(data))
        return cls(body=payload["body"], usage=payload["usage"], deployment=payload.get("deployment"),
                   created_at=float(payload.get("created_at") or 0))

    def to_text(self) -> str:
        return base64.b64encode(self.to_bytes()).decode()

    @classmethod
    def from_text(cls, text: str) -> CachedResponse:
        return cls.from_bytes(base64.b64decode(text))

    def to_result(self, request_id: str) -> ChatResult:
        """The answer to replay: a fresh id, the original usage (counted, never charged)."""
        body = dict(self.body)
        body["id"] = f"chatcmpl-{request_id.replace('-', '')[:24] or uuid.uuid4().hex[:24]}"
        return ChatResult(body=body, usage=Usage.from_openai(self.usage))


def replayable(body: dict[str, Any]) -> bool:
    choices = body.get("choices")
    return isinstance(choices, list) and bool(choices) and all(
        isinstance(c, dict) and c.get("finish_reason") in CACHEABLE_FINISH for c in choices)
