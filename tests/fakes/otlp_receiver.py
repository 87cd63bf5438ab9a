"""A local OTLP/HTTP traces receiver: what a collector (or CloudWatch's OTLP endpoint) sees.

It accepts `POST /v1/traces` with an `application/x-protobuf` body (gzip or not), decodes it
as the real `ExportTraceServiceRequest` (opentelemetry-proto), and keeps every span in a flat,
easy-to-assert shape, with the headers its export came with. `status` makes it answer an
error (e.g. 503) to test retries or a dead collector; `delay_s` makes it slow.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root
    start_ns: int
    end_ns: int
    status: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str


@dataclass
class Export:
    headers: dict[str, str]
    body: bytes  # as received (before gzip decoding)
    spans: list[ReceivedSpan]


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return getattr(any_value, kind)


def _attributes(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items}


def decode(body: bytes) -> list[ReceivedSpan]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(ReceivedSpan(
                    name=span.name, kind=KINDS[span.kind], trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(), start_ns=span.start_time_unix_nano,
                    end_ns=span.end_time_unix_nano, status=STATUS[span.status.code],
                    attributes=_attributes(span.attributes), resource=resource, scope=scope_spans.scope.name))
    return spans


@dataclass
class OtlpReceiver:
    status: int = 200
    delay_s: float = 0.0
    exports: list[Export] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def spans(self) -> list[ReceivedSpan]:
        return [s for e in self.exports for s in e.spans]

    def clear(self) -> None:
        with self._changed:
            self.exports.clear()
        self.status, self.delay_s = 200, 0.0

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[ReceivedSpan]:
        """At least `count` spans, or an AssertionError naming what did arrive."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self.spans) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} spans, got {[s.name for s in self.spans]}")
                self._changed.wait(left)
        return self.spans

    async def traces(self, request: Request) -> Response:
        body = await request.body()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.status != 200:
            return Response(status_code=self.status)
        if request.headers.get("content-type") != "application/x-protobuf":
            return Response(status_code=415)
        raw = gzip.decompress(body) if request.headers.get("content-encoding") == "gzip" else body
        export = Export(dict(request.headers), body, decode(raw))
        with self._changed:
            self.exports.append(export)
            self._changed.notify_all()
        # An empty ExportTraceServiceResponse: full success.
        return Response(b"", media_type="application/x-protobuf")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/traces", self.traces, methods=["POST"])])
