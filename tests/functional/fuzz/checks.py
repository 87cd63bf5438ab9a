"""What every fuzzed answer must be: never a 5xx, every error in its route's own envelope, every
stream complete (the mock upstream never fails, so an error event is the gateway's own)."""

from __future__ import annotations

import json
from typing import Any, Literal

from tests.functional.fuzz.harness import Got

Envelope = Literal["openai", "anthropic", "responses", "admin"]


def check(got: Got, envelope: Envelope) -> None:
    assert got.status < 500, got.describe()
    assert b"Traceback" not in got.content, got.describe()
    if got.status >= 400:
        _check_error(got, envelope)
    elif "text/event-stream" in got.headers.get("content-type", ""):
        _check_stream(got, envelope)
    else:
        assert isinstance(json.loads(got.content), dict), got.describe()


def _check_error(got: Got, envelope: Envelope) -> None:
    try:
        body: Any = json.loads(got.content)
    except ValueError:
        raise AssertionError(f"error body is not JSON: {got.describe()}") from None
    assert isinstance(body, dict), got.describe()
    if envelope in ("openai", "responses"):
        assert set(body) == {"error"} and isinstance(body["error"], dict), got.describe()
        error = body["error"]
        assert set(error) == {"message", "type", "param", "code"}, got.describe()
        assert isinstance(error["message"], str) and error["message"], got.describe()
        assert isinstance(error["type"], str) and error["type"], got.describe()
        assert error["param"] is None or isinstance(error["param"], str), got.describe()
        assert error["code"] is None or isinstance(error["code"], str), got.describe()
        assert got.headers.get("x-request-id", "").startswith("req_"), got.describe()
    elif envelope == "anthropic":
        assert set(body) == {"type", "error"} and body["type"] == "error", got.describe()
        error = body["error"]
        assert isinstance(error, dict) and set(error) == {"type", "message"}, got.describe()
        assert isinstance(error["type"], str) and error["type"], got.describe()
        assert isinstance(error["message"], str) and error["message"], got.describe()
        assert got.headers.get("x-request-id", "").startswith("req_"), got.describe()
    else:
        assert set(body) == {"error"} and isinstance(body["error"], dict), got.describe()
        error = body["error"]
        assert {"type", "code", "message"} <= set(error) <= {"type", "code", "message", "details"}, got.describe()
        assert all(isinstance(error[k], str) and error[k] for k in ("type", "code", "message")), got.describe()


def sse_events(content: bytes) -> list[tuple[str | None, str]]:
    events: list[tuple[str | None, str]] = []
    for frame in content.decode().split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in frame.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if name is not None or data:
            events.append((name, "\n".join(data)))
    return events


def _check_stream(got: Got, envelope: Envelope) -> None:
    events = sse_events(got.content)
    assert events, got.describe()
    if envelope == "anthropic":
        assert all(name != "error" for name, _ in events), got.describe()
        assert events[-1][0] == "message_stop", got.describe()
        return
    if envelope == "responses":
        assert all(name not in ("error", "response.failed") for name, _ in events), got.describe()
        assert events[-1][0] in ("response.completed", "response.incomplete"), got.describe()
        return
    assert events[-1][1] == "[DONE]", got.describe()
    for _, data in events[:-1]:
        chunk = json.loads(data)
        assert "error" not in chunk, got.describe()
