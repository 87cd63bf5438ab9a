"""Incremental Server-Sent Events parsing for upstream streams (WHATWG rules, no re-scan)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, overload

from aigw.fastjson import loads_strict


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: str


class SSEParser:
    """Events from the raw body (httpx `aiter_bytes`), chunk by chunk: the fast path of
    `iter_sse(aiter_lines())`.

    httpx's line reader decodes text through four incremental layers per chunk, and it splits
    lines like `str.splitlines` (also at U+2028, U+0085, form feeds...), which breaks a JSON
    data line carrying one of those characters raw. SSE lines end only at CR, LF or CRLF
    (WHATWG), which is what this splits on, in bytes, before decoding each line as UTF-8.
    Fed by its reader, not an async generator over the body: one generator fewer for every
    event of every stream to pass through (each resumption is a frame switch)."""

    __slots__ = ("_data", "_event", "_pending", "_skip_lf")

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._pending: list[bytes] = []  # the start of a line not yet ended
        self._skip_lf = False  # the last chunk ended with CR: an LF starting the next one is its CRLF

    def feed(self, chunk: bytes) -> list[SSEEvent] | None:
        """The events this chunk completes; None if it ended no line (nothing can have come)."""
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return None
        if chunk.find(b"\r") >= 0:  # (`find`, not `in`: see aigw/fastjson.py)
            self._skip_lf = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if chunk.find(b"\n") < 0:
            self._pending.append(chunk)
            return None
        lines = chunk.split(b"\n")
        pending = self._pending
        if pending:
            lines[0] = b"".join(pending) + lines[0]
            pending.clear()
        rest = lines.pop()
        if rest:
            pending.append(rest)
        out: list[SSEEvent] = []
        event, data = self._event, self._data
        for raw in lines:
            if not raw:
                if data:
                    out.append(SSEEvent(event, "\n".join(data)))
                    data = []
                event = None
            elif raw[:6] == b"data: ":  # nearly every line of a stream: what `_field` makes of it
                data.append(raw[6:].decode("utf-8", "replace"))
            else:
                event = _field(raw.decode("utf-8", "replace"), event, data)
        self._event, self._data = event, data
        return out

    def end(self) -> list[SSEEvent]:
        """What the body's end completes: a last event not followed by a blank line."""
        event, data = self._event, self._data
        if self._pending:
            event = _field(b"".join(self._pending).decode("utf-8", "replace"), event, data)
            self._pending.clear()
        self._event, self._data = None, []
        return [SSEEvent(event, "\n".join(data))] if data else []


@overload
def iter_sse_bytes(chunks: AsyncIterator[bytes], *,
                   caught_up: Literal[False] = False) -> AsyncIterator[SSEEvent]: ...


@overload
def iter_sse_bytes(chunks: AsyncIterator[bytes], *, caught_up: bool) -> AsyncIterator[SSEEvent | None]: ...


async def iter_sse_bytes(chunks: AsyncIterator[bytes], *, caught_up: bool = False) -> AsyncIterator[SSEEvent | None]:
    """`SSEParser` over an async iterator of chunks. With `caught_up`, a None follows the
    events of each chunk that ended a line: the next event needs a read."""
    parser = SSEParser()
    async for chunk in chunks:
        events = parser.feed(chunk)
        if events is None:
            continue
        for event in events:
            yield event
        if caught_up:
            yield None
    for event in parser.end():
        yield event


def _field(line: str, event: str | None, data: list[str]) -> str | None:
    """Apply one non-blank line: a data line appends to `data`; returns the event name."""
    if line.startswith(":"):
        return event
    name, _, value = line.partition(":")
    if value.startswith(" "):
        value = value[1:]
    if name == "data":
        data.append(value)
    elif name == "event":
        return value
    return event


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """Events from an async iterator of lines (httpx `aiter_lines`), dispatched on blank lines.
    The reference for `iter_sse_bytes` (tests hold the two equal)."""
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
    surrogate escape (`"\\ud800"`) cannot be encoded as UTF-8: it becomes U+FFFD. The fast
    parser refuses both (and little else), so only such documents take the slow path."""
    try:
        return loads_strict(data)
    except ValueError:
        pass
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
