"""A streaming response that notices a client leaving even while the upstream is silent.

Starlette's StreamingResponse, under ASGI spec 2.4 servers (uvicorn), learns of a
disconnect only when a write fails; a stalled upstream would then keep the function (and
its bill) running. Here a second task watches `http.disconnect` and cancels the body, and
the body iterator is always closed, so the pipeline's settlement runs on every path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from aigw.scopes import cancel_scope


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(self, body: AsyncIterator[bytes], *, status_code: int = 200,
                 headers: Mapping[str, str] | None = None) -> None:
        self.body_iterator = body
        self.status_code = status_code
        self.background = None
        self.init_headers({"cache-control": "no-cache", "x-accel-buffering": "no", **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One plain task watches for the disconnect and cancels the body through an anyio
        # scope (so the pipeline's shielded settlement is never cut short); an anyio task
        # group did the same at about five times the cost per stream (65 us against 12).
        body = cancel_scope()

        async def watch_disconnect() -> None:
            while True:
                try:
                    message = await receive()
                except Exception:  # a server whose receive broke: the writes will tell
                    return
                if message["type"] == "http.disconnect":
                    body.cancel()
                    return

        watcher = asyncio.ensure_future(watch_disconnect())
        try:
            with body:
                await send({"type": "http.response.start", "status": self.status_code,
                            "headers": self.raw_headers})
                async for chunk in self.body_iterator:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client is gone (ASGI 2.4 servers raise on write)
        finally:
            watcher.cancel()
            with cancel_scope(shield=True):
                aclose = getattr(self.body_iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
