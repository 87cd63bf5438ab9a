"""Incremental Server-Sent Events parsing for upstream streams (WHATWG rules, no re-scan)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: str


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """Events from an async iterator of lines (httpx `aiter_lines`), dispatched on blank lines."""
    event: str | None = None
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield SSEEvent(event, "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
    if data:
        yield SSEEvent(event, "\n".join(data))


def encode_sse(data: str, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {data}\n\n".encode()


# A \uD800-\uDFFF escape: a surrogate, paired (an emoji, fine) or lone (no UTF-8 encoder takes it).
_SURROGATE = re.compile(r"\\u[dD][89abcdefABCDEF]")
_SURROGATE_BYTES = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def loads(data: str | bytes) -> Any:
    """JSON as upstreams send it, made safe to render. `NaN` and `Infinity` are not JSON, but
    Python reads them as floats no response encoder accepts (a 500 at render time): they become
    the strings "NaN" / "Infinity", which every encoder writes and no token count accepts. A lone
    surrogate escape (`"\\ud800"`) cannot be encoded as UTF-8: it becomes U+FFFD."""
    value = json.loads(data, parse_constant=str)
    found = _SURROGATE_BYTES.search(data) if isinstance(data, bytes) else _SURROGATE.search(data)
    if found:  # rare: walk only then
        value = _scrub(value)
    return value


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
        return value
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value
