"""An internal Lambda extension: keeps the environment from freezing until deferred work is done.

Why internal (a thread in the runtime process) rather than an executable in /opt/extensions:
the deferred settlements live in this process's event loop, so only this process knows when
they are done; an external extension would need IPC for that and would still have to wait on
us. Under Lambda Web Adapter the runtime process is uvicorn (`/opt/bootstrap` execs run.sh,
which execs uvicorn), and Lambda Web Adapter is the Runtime API client: it calls
`/runtime/invocation/next` only after its readiness check passes, so registering while
`functions/gateway/main.py` is imported is inside the Init phase, as the Extensions API requires.

An invocation is complete (and the environment may freeze) only once the runtime and every
extension have called `next`; this thread makes its `/event/next` call only when the INVOKE's
request has finished and nothing deferred is pending (Tracker.wait_invocation), bounded by the
invocation's deadline. Internal extensions register for INVOKE only (SHUTDOWN is for external
ones); at shutdown Lambda sends the runtime SIGTERM instead. Deferred work can only be pending
at a shutdown after a timeout or a crash, because the environment is never idle before the
queue is empty; `events` includes SHUTDOWN when run as an external-style extension (tests),
which then drains with the event's deadline.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.request
from typing import Any

from aigw.lambda_ext.deferred import Tracker

logger = logging.getLogger("aigw.lambda_ext")

EXTENSION_NAME = "aigw-settlement"
API_VERSION = "2020-01-01"
DEADLINE_MARGIN_S = 0.05  # leave Lambda this long before an event's deadline


class SettlementExtension:
    def __init__(self, tracker: Tracker, *, runtime_api: str | None = None,
                 events: tuple[str, ...] = ("INVOKE",), name: str = EXTENSION_NAME) -> None:
        self.tracker = tracker
        self.base = f"http://{runtime_api or os.environ['AWS_LAMBDA_RUNTIME_API']}/{API_VERSION}/extension"
        self.events = events
        self.name = name
        self.extension_id: str | None = None
        self._thread: threading.Thread | None = None

    def register(self) -> None:
        """Register (blocking; must happen before the runtime's first `next`)."""
        request = urllib.request.Request(self.base + "/register", method="POST",
                                         data=json.dumps({"events": list(self.events)}).encode(),
                                         headers={"Lambda-Extension-Name": self.name,
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            self.extension_id = response.headers["Lambda-Extension-Identifier"]

    def start(self) -> SettlementExtension:
        if self.extension_id is None:
            self.register()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _next(self) -> dict[str, Any]:
        assert self.extension_id is not None
        request = urllib.request.Request(self.base + "/event/next",
                                         headers={"Lambda-Extension-Identifier": self.extension_id})
        with urllib.request.urlopen(request, timeout=None) as response:  # blocks until the next event
            event: dict[str, Any] = json.loads(response.read())
            return event

    def _loop(self) -> None:
        while True:
            try:
                event = self._next()
            except Exception:
                logger.exception("extension event/next failed; deferred settlement no longer guarded")
                return
            deadline = _deadline(event)
            if event.get("eventType") == "SHUTDOWN":
                self.tracker.drain(deadline)
                return
            self.tracker.wait_invocation(str(event.get("requestId")), deadline)


def _deadline(event: dict[str, Any]) -> float:
    """The event's deadline (epoch ms) as a monotonic time, less a margin."""
    deadline_ms = event.get("deadlineMs")
    left = (deadline_ms / 1000 - time.time()) if isinstance(deadline_ms, (int, float)) else 2.0
    return time.monotonic() + max(0.0, left - DEADLINE_MARGIN_S)
