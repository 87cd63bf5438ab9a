"""The tracer provider and the one way its spans leave the process.

Spans go to an SDK `BatchSpanProcessor` (its background thread also exports on its own
schedule, which is all a long-lived local process needs), and each request's end calls
`Flusher.flush()`: `force_flush` in a dedicated worker thread, awaited by the response's last
message (asgi.py). Concurrent requests share exports: a request whose spans ended before a
queued export starts rides on it, so a burst of N responses costs far fewer than N exports,
and never N threads (the default executor stays free for boto3 and the tokenizer).

Why not a custom processor that exports each trace synchronously: `on_end` runs on the event
loop, and an HTTP export there would block every other request. Why not an export left to a
background thread alone: on Lambda that thread is frozen with the environment once the
response is complete, which delays (or, if the environment is retired, loses) the spans.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aigw.telemetry.settings import ExportSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_log = logging.getLogger(__name__)


class Flusher:
    def __init__(self, flush: Callable[[], object]) -> None:
        self._flush = flush
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aigw-span-export")
        self._lock = threading.Lock()
        self._dirty = False  # a span ended since the last export started
        self._queued: Future[None] | None = None  # submitted, not started: later requests join it
        self._running: Future[None] | None = None

    def mark(self) -> None:
        """A request's spans have ended (they are in the processor's queue)."""
        with self._lock:
            self._dirty = True

    async def flush(self) -> None:
        with self._lock:
            if self._queued is not None:
                future = self._queued
            elif self._dirty:
                future = self._queued = self._executor.submit(self._run)
            elif self._running is not None:
                future = self._running  # it started after our spans ended: it exports them
            else:
                return
        await asyncio.wrap_future(future)

    def _run(self) -> None:
        with self._lock:
            mine = self._running = self._queued
            self._queued = None
            self._dirty = False
        try:
            self._flush()
        except Exception:  # an export failure must not fail a response
            _log.exception("span export failed")
        finally:
            with self._lock:
                if self._running is mine:
                    self._running = None

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def build_provider(settings: ExportSettings, *, session: Any = None) -> TracerProvider:
    """An SDK tracer provider exporting OTLP/HTTP protobuf to `settings.endpoint`. The sampler
    is the SDK's (OTEL_TRACES_SAMPLER; default parent-based always-on, so a caller's
    `traceparent` that says "not sampled" is honoured)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if session is None and settings.sigv4 is not None:
        from aigw.telemetry.sigv4 import SigV4Session

        service, region = settings.sigv4
        session = SigV4Session(service=service, region=region)
    exporter = OTLPSpanExporter(endpoint=settings.endpoint, headers=settings.headers, timeout=settings.timeout_s,
                                session=session)
    provider = TracerProvider(resource=Resource.create(dict(settings.resource)))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider
