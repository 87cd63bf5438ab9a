"""A loopback fake of the Lambda Runtime API and Extensions API (AWS's public reference):

  POST /2020-01-01/extension/register        Lambda-Extension-Name; body {"events": [...]}
                                              -> 200, Lambda-Extension-Identifier header
  GET  /2020-01-01/extension/event/next      Lambda-Extension-Identifier; blocks until the next
                                              INVOKE {eventType, deadlineMs, requestId,
                                              invokedFunctionArn, tracing} or SHUTDOWN
                                              {eventType, shutdownReason, deadlineMs}
  GET  /2018-06-01/runtime/invocation/next   blocks; the event payload, with the
                                              Lambda-Runtime-Aws-Request-Id / -Deadline-Ms headers
  POST /2018-06-01/runtime/invocation/{id}/response

Registration after the runtime's first `next` (the end of Init) is refused, as Lambda does.
Every call is time-stamped (time.monotonic) so tests can order them.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EXT = "/2020-01-01/extension"
RUNTIME = "/2018-06-01/runtime"
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:aigw-gateway"


@dataclass
class _Extension:
    name: str
    events: list[str]
    inbox: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)


class FakeLambda:
    def __init__(self) -> None:
        self.extensions: dict[str, _Extension] = {}
        self.invocations: queue.Queue[tuple[str, bytes, int]] = queue.Queue()
        self.responses: dict[str, tuple[float, bytes]] = {}
        self.extension_next: list[float] = []  # when an extension called event/next
        self.init_done = False
        self._lock = threading.Lock()
        self._next_called = threading.Condition(self._lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def start(self) -> FakeLambda:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- driving it ------------------------------------------------------------------------
    def invoke(self, payload: dict[str, Any], *, timeout_s: float = 30.0) -> str:
        request_id = str(uuid.uuid4())
        deadline_ms = int((time.time() + timeout_s) * 1000)
        for ext in self.extensions.values():
            if "INVOKE" in ext.events:
                ext.inbox.put({"eventType": "INVOKE", "deadlineMs": deadline_ms, "requestId": request_id,
                               "invokedFunctionArn": ARN, "tracing": {"type": "X-Amzn-Trace-Id", "value": TRACE}})
        self.invocations.put((request_id, json.dumps(payload).encode(), deadline_ms))
        return request_id

    def shutdown(self, reason: str = "spindown", *, within_s: float = 2.0) -> None:
        deadline_ms = int((time.time() + within_s) * 1000)
        for ext in self.extensions.values():
            if "SHUTDOWN" in ext.events:
                ext.inbox.put({"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms})

    def wait_extension_next(self, count: int, timeout: float = 10.0) -> float:
        """The time of the `count`-th event/next call, once it has been made."""
        with self._next_called:
            if not self._next_called.wait_for(lambda: len(self.extension_next) >= count, timeout=timeout):
                raise AssertionError(f"extension made {len(self.extension_next)} event/next calls, not {count}")
            return self.extension_next[count - 1]

    # ---- the HTTP side -------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                if self.path == EXT + "/register":
                    body = json.loads(self._body() or b"{}")
                    name = self.headers.get("Lambda-Extension-Name")
                    if fake.init_done:
                        return self._send(403, {"errorMessage": "registration after Init",
                                                "errorType": "Extension.ForbiddenRegistration"})
                    if not name or not isinstance(body.get("events"), list):
                        return self._send(400, {"errorMessage": "bad request", "errorType": "InvalidRequest"})
                    ext_id = str(uuid.uuid4())
                    fake.extensions[ext_id] = _Extension(name, body["events"])
                    return self._send(200, {"functionName": "aigw-gateway", "functionVersion": "$LATEST",
                                            "handler": "gateway/run.sh"}, {"Lambda-Extension-Identifier": ext_id})
                if self.path.startswith(RUNTIME + "/invocation/") and self.path.endswith("/response"):
                    request_id = self.path.split("/")[-2]
                    fake.responses[request_id] = (time.monotonic(), self._body())
                    return self._send(202, {"status": "OK"})
                self._send(404, {"errorMessage": "not found", "errorType": "NotFound"})

            def do_GET(self) -> None:
                if self.path == EXT + "/event/next":
                    ext = fake.extensions.get(self.headers.get("Lambda-Extension-Identifier", ""))
                    if ext is None:
                        return self._send(403, {"errorMessage": "unknown extension", "errorType": "Extension.Unknown"})
                    with fake._next_called:
                        fake.extension_next.append(time.monotonic())
                        fake._next_called.notify_all()
                    return self._send(200, ext.inbox.get(), {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})
                if self.path == RUNTIME + "/invocation/next":
                    fake.init_done = True
                    request_id, payload, deadline_ms = fake.invocations.get()
                    return self._send(200, payload, {"Lambda-Runtime-Aws-Request-Id": request_id,
                                                     "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                                                     "Lambda-Runtime-Invoked-Function-Arn": ARN})
                self._send(404, {"errorMessage": "not found", "errorType": "NotFound"})

        return Handler
