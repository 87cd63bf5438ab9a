"""Hold each response's last message until the spans it ended are exported.

On Lambda the execution environment freezes once the response is complete (Lambda Web
Adapter returns it and asks for the next event): a span still in a batch queue, or half-sent
by a background thread, is then delayed until the next invocation, or lost with the
environment. So the end of every HTTP response (the final `http.response.body` message, the
terminating chunk of a stream) waits here for the export, which runs off the event loop. The
client has every byte of the answer by then; only the response's end waits, by one export
round trip (about a millisecond to a collector extension on localhost, tens of milliseconds
to an OTLP endpoint in the same region), bounded by the export timeout.

Pure ASGI and free of OpenTelemetry imports: the export itself is the listener's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio

Flush = Callable[[], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class ExportBeforeResponseEnd:
    def __init__(self, app: ASGIApp, flush: Flush) -> None:
        self.app = app
        self._flush = flush

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exported = False

        async def send_after_export(message: Any) -> None:
            nonlocal exported
            if message["type"] == "http.response.body" and not message.get("more_body", False) and not exported:
                exported = True
                await self._export()
            await send(message)

        try:
            await self.app(scope, receive, send_after_export)
        finally:
            if not exported:  # the client left mid-stream, or the app failed: still export, once
                await self._export()

    async def _export(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._flush()
