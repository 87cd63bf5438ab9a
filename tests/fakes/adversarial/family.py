"""What every family module provides, the reply a fault makes of it, and what the gateway
must then do (the oracle the functional tests check)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from tests.fakes.adversarial.faults import Fault, echo
from tests.fakes.adversarial.server import Received, Reply

WORDS = ["alpha", " beta", " gamma", " delta", " epsilon"]
ANSWER = "".join(WORDS)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))  # NaN and Infinity as Python writes them: invalid JSON


class Family(Protocol):
    name: str
    reads_after_end: bool  # the adapter keeps reading after its terminal frame (no explicit end marker)

    def stream_frames(self, request: Received, usage: Any) -> tuple[list[bytes], int]:
        """The frames of a complete stream, and how many of them make it complete by the protocol."""
        ...

    def body(self, request: Received, usage: Any) -> bytes: ...

    def error(self, status: int, message: str) -> tuple[bytes, dict[str, str]]: ...

    def garbage(self, fault: Fault) -> tuple[bytes, bool]:
        """A garbage frame, and whether the adapter must reject it (else it is legal noise)."""
        ...


@dataclass(frozen=True)
class Expect:
    ok: bool
    status: int = 200  # the log line's status
    codes: tuple[str | None, ...] = ()  # acceptable error codes in the log line; empty: any
    client_status: int | None = None  # the HTTP status the client sees when the error comes first
    fragment: str | None = None  # a piece of the credential that must appear nowhere


STREAM_FAIL = ("truncated",)


def plan(family: Family, request: Received, fault: Fault, secret: str, *, stream: bool,
         stall_s: float) -> tuple[Reply, Expect]:
    usage = fault.usage_value if fault.kind == "usage" else None
    if fault.kind == "echo":
        message, fragment = echo(secret, fault.echo_form)
        body, headers = family.error(fault.echo_status, message)
        status = {401: 502, 403: 502, 500: 502}.get(fault.echo_status, fault.echo_status)
        code = "upstream_auth_failed" if fault.echo_status in (401, 403) else None
        headers["content-type"] = "application/json"
        if fault.echo_status == 429:
            headers["retry-after"] = "0"
        return (Reply(fault.echo_status, headers, [body], stream=False),
                Expect(False, status, (code,) if code else (), status, fragment))
    rejected_usage = fault.kind == "usage" and getattr(family, "rejects_usage", lambda v: False)(usage)
    if not stream:
        body = family.body(request, usage)
        if rejected_usage:
            return (Reply(200, {"content-type": "application/json"}, [body], stream=False),
                    Expect(False, 502, (), 502))
        headers = {"content-type": "application/json"}
        if fault.kind in ("close", "reset"):
            cut = body[: max(1, (fault.at % max(len(body), 1)))]
            return (Reply(200, headers, [cut], stream=False, ending="cut" if fault.kind == "close" else "reset"),
                    Expect(False, 502, ("truncated", "upstream_error", "upstream_invalid_response"), 502))
        if fault.kind == "stall":
            return (Reply(200, headers, [body], stream=False, ending="stall", stall_s=stall_s),
                    Expect(False, 504, ("upstream_error",), 504))
        if fault.kind == "garbage":
            return (Reply(200, headers, [fault.garbage.encode()], stream=False),
                    Expect(False, 502, ("upstream_invalid_response",), 502))
        return Reply(200, headers, [body], stream=False), Expect(True)
    frames, complete_at = family.stream_frames(request, usage)
    reply = Reply(200, {"content-type": getattr(family, "stream_type", "text/event-stream")}, frames)
    n = len(frames)
    if fault.kind == "close":
        sent = fault.at % (n + 1)
        reply.frames = frames[:sent]
        return reply, _broken(sent >= complete_at, sent, 502, STREAM_FAIL)
    if fault.kind == "reset":
        sent = fault.at % n
        reply.frames = frames[:sent] + ([frames[sent][: len(frames[sent]) // 2]] if fault.mid_frame else [])
        reply.ending = "reset"
        return reply, _broken(sent >= complete_at, sent, 502, STREAM_FAIL)
    if fault.kind == "stall":
        sent = fault.at % n
        reply.frames, reply.ending, reply.stall_s = frames[:sent], "stall", stall_s
        return reply, _broken(sent >= complete_at, sent, 504, ("upstream_error", None))
    if fault.kind == "garbage":
        position = fault.at % (n + 1)
        frame, rejected = family.garbage(fault)
        reply.frames = [*frames[:position], frame, *frames[position:]]
        read = position < n or family.reads_after_end
        return reply, _broken(not (rejected and read), position, 502,
                              ("upstream_invalid_response", "truncated", "upstream_error"))
    return reply, Expect(True)


def _broken(complete: bool, sent: int, status: int, codes: tuple[str | None, ...]) -> Expect:
    if complete:
        return Expect(True)
    return Expect(False, status, codes, status if sent == 0 else None)
