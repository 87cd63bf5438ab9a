"""A response's end waits for its spans' export; nothing before it does, and the export also
happens (once) when the response never ends normally."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aigw.telemetry.asgi import ExportBeforeResponseEnd


class Journal:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.exported = asyncio.Event()

    async def flush(self) -> None:
        self.events.append("export:start")
        await asyncio.sleep(0.01)
        self.events.append("export:done")

    async def send(self, message: dict[str, Any]) -> None:
        body = message.get("body", b"")
        self.events.append(f"{message['type']}:{body.decode() or '-'}:{message.get('more_body', False)}")


async def receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


def streaming_app(*, fail: bool = False) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        if fail:
            raise RuntimeError("client gone")
        await send({"type": "http.response.body", "body": b"b", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    return app


async def test_only_the_last_message_waits_for_the_export() -> None:
    journal = Journal()
    await ExportBeforeResponseEnd(streaming_app(), journal.flush)({"type": "http"}, receive, journal.send)
    assert journal.events == ["http.response.start:-:False", "http.response.body:a:True", "http.response.body:b:True",
                              "export:start", "export:done", "http.response.body:-:False"]


async def test_a_response_that_never_ends_still_exports_once() -> None:
    journal = Journal()
    with pytest.raises(RuntimeError):
        await ExportBeforeResponseEnd(streaming_app(fail=True), journal.flush)({"type": "http"}, receive, journal.send)
    assert journal.events[-2:] == ["export:start", "export:done"]
    assert journal.events.count("export:start") == 1


async def test_lifespan_passes_through() -> None:
    journal = Journal()
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    await ExportBeforeResponseEnd(app, journal.flush)({"type": "lifespan"}, receive, journal.send)
    assert seen == ["lifespan"] and journal.events == []
