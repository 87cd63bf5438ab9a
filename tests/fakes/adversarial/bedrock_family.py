"""Amazon Bedrock Runtime Converse / ConverseStream, as the API reference and the AWS event
stream encoding describe them.

ConverseStream answers `application/vnd.amazon.eventstream`: binary messages, each a prelude
(total length, headers length: big-endian u32) with its CRC32, headers (name length u8, name,
type 7 = string, value length u16, value), a JSON payload, and a CRC32 of all that came
before. Events: messageStart, contentBlockDelta, contentBlockStop, messageStop (stopReason),
then metadata (usage, metrics): the stream is complete only after both. Errors: the HTTP
status with `x-amzn-ErrorType` and `{"message": ...}`.
"""

from __future__ import annotations

import binascii
import math
import struct
from typing import Any

from tests.fakes.adversarial.family import WORDS, dumps
from tests.fakes.adversarial.faults import Fault
from tests.fakes.adversarial.server import Received

ERROR_TYPES = {400: "ValidationException", 401: "UnrecognizedClientException", 403: "AccessDeniedException",
               429: "ThrottlingException", 500: "InternalServerException"}


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return struct.pack("B", len(raw_name)) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def message(event_type: str, payload: dict[str, Any], *, corrupt: bool = False) -> bytes:
    headers = (_header(":event-type", event_type) + _header(":content-type", "application/json")
               + _header(":message-type", "event"))
    body = dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    frame = prelude + struct.pack(">I", binascii.crc32(prelude)) + headers + body
    crc = binascii.crc32(frame) ^ (0xFFFFFFFF if corrupt else 0)
    return frame + struct.pack(">I", crc)


def _usage(value: Any) -> dict[str, Any]:
    if value is None:
        return {"inputTokens": 11, "outputTokens": len(WORDS), "totalTokens": 11 + len(WORDS)}
    return {"inputTokens": value, "outputTokens": value, "totalTokens": value}


class BedrockFamily:
    name = "bedrock"
    reads_after_end = False
    stream_type = "application/vnd.amazon.eventstream"

    @staticmethod
    def rejects_usage(value: Any) -> bool:
        """botocore coerces a Converse response's integer fields with int(): NaN, Infinity, lists
        and objects make the whole response unparseable before the gateway sees it (event
        stream payloads are not coerced: there the gateway reads them itself)."""
        return isinstance(value, list | dict) or (isinstance(value, float) and not math.isfinite(value))

    def stream_frames(self, request: Received, usage: Any) -> tuple[list[bytes], int]:
        frames = [message("messageStart", {"role": "assistant"})]
        frames += [message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": w}}) for w in WORDS]
        frames.append(message("contentBlockStop", {"contentBlockIndex": 0}))
        frames.append(message("messageStop", {"stopReason": "end_turn"}))
        frames.append(message("metadata", {"usage": _usage(usage), "metrics": {"latencyMs": 12}}))
        return frames, len(frames)

    def body(self, request: Received, usage: Any) -> bytes:
        return dumps({"output": {"message": {"role": "assistant", "content": [{"text": "".join(WORDS)}]}},
                      "stopReason": "end_turn", "usage": _usage(usage), "metrics": {"latencyMs": 12}}).encode()

    def error(self, status: int, message_text: str) -> tuple[bytes, dict[str, str]]:
        kind = ERROR_TYPES.get(status, "InternalServerException")
        return dumps({"message": message_text}).encode(), {"x-amzn-errortype": f"{kind}:http://internal.amazon.com/"}

    def garbage(self, fault: Fault) -> tuple[bytes, bool]:
        if fault.garbage_is_data:  # a well-framed message whose checksum is wrong
            return message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}}, corrupt=True), True
        return fault.garbage.encode() + b"\x00" * 12, True  # bytes that are no message at all
