"""The request's spans, built from the observer's events (imported only when tracing is on).

    POST /v1/chat/completions          SERVER  continues the caller's W3C traceparent
    ├── aigw.guardrails / aigw.cache / aigw.admission   INTERNAL, one per stage's `before`
    ├── chat gpt-4o-mini   CLIENT  attempt 1 (503)      one per upstream attempt: retries and
    ├── chat gpt-4o-mini   CLIENT  attempt 2 (503)      fallbacks are siblings, in order
    └── chat claude-haiku  CLIENT  attempt 3 (200)      a streamed attempt ends with its stream

A request's spans live in its context's typed slot, so nothing is shared between requests.
The successful attempt's span is ended when the request is done, with the end time recorded
when the attempt ended: only then are its usage (a non-streaming answer's is read after the
attempt returns) and response id known. Every span still open then (a stage that raised, an
attempt cut short) is ended as failed, so no span is ever left open.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import aigw.telemetry.attributes as a
from aigw.observability import Listener
from aigw.telemetry.content import content_attributes
from aigw.telemetry.export import Flusher, build_provider
from aigw.telemetry.settings import export_settings
from aigw.telemetry.tap import TAP_STAGE, ResponseSeen, ResponseTap

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span

    from aigw.config.models import Deployment, TelemetryConfig
    from aigw.pipeline.context import RequestContext
    from aigw.routing.attempts import Attempt

TRACER_NAME = "aigw"


@dataclass(slots=True)
class _Spans:
    server: Span
    context: Context
    stages: dict[str, Span] = field(default_factory=dict)
    attempts: dict[int, Span] = field(default_factory=dict)  # open attempts, by number
    answered: tuple[Span, int] | None = None  # the successful attempt and when it ended (ns)


class TraceListener(Listener):
    def __init__(self, provider: TracerProvider, *, capture_content_teams: frozenset[str] = frozenset(),
                 capture_content_max_chars: int = 16_384) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer(TRACER_NAME)
        self._propagator = TraceContextTextMapPropagator()
        self._capture_teams = capture_content_teams
        self._max_chars = capture_content_max_chars
        self._flusher = Flusher(provider.force_flush)
        self.response_tap = ResponseTap(self.captures_content)

    @classmethod
    def from_env(cls, config: TelemetryConfig | None, environ: Mapping[str, str], *,
                 session: Any = None) -> TraceListener:
        provider = build_provider(export_settings(environ), session=session)
        if config is None:
            return cls(provider)
        return cls(provider, capture_content_teams=frozenset(config.capture_content_teams),
                   capture_content_max_chars=config.capture_content_max_chars)

    def captures_content(self, ctx: RequestContext) -> bool:
        return ctx.key.team_id in self._capture_teams

    async def export_pending(self) -> None:
        """Export every span that has ended (off the event loop); see export.py."""
        await self._flusher.flush()

    def shutdown(self) -> None:
        self.provider.shutdown()
        self._flusher.close()

    # ---- events ---------------------------------------------------------------------------------
    def stage_start(self, ctx: RequestContext, stage: str) -> None:
        spans = self._spans(ctx)
        if stage == TAP_STAGE or not spans.server.is_recording():
            return
        spans.stages[stage] = self._tracer.start_span(f"aigw.{stage}", context=spans.context,
                                                      attributes={"aigw.stage": stage})

    def stage_end(self, ctx: RequestContext, stage: str, outcome: object) -> None:
        spans = self._spans(ctx)
        span = spans.stages.pop(stage, None)
        if span is None:
            return
        span.set_attribute("aigw.stage.outcome", "continue" if outcome is None else type(outcome).__name__.lower())
        error = getattr(outcome, "error", None)
        if error is not None:
            span.set_attribute("error.type", getattr(error, "code", None) or getattr(error, "type", "error"))
        span.end()

    def attempt_start(self, ctx: RequestContext, deployment: Deployment, number: int) -> None:
        spans = self._spans(ctx)
        if not spans.server.is_recording():
            return
        spans.attempts[number] = self._tracer.start_span(
            f"{ctx.operation} {deployment.model}", context=spans.context, kind=SpanKind.CLIENT,
            attributes=a.attempt_start_attributes(ctx, deployment, number))

    def attempt_end(self, ctx: RequestContext, attempt: Attempt) -> None:
        spans = self._spans(ctx)
        span = spans.attempts.pop(attempt.number, None)
        if span is None:
            return
        span.set_attributes(a.attempt_end_attributes(attempt))
        if attempt.status == 200:
            spans.answered = (span, time.time_ns())
            return
        span.set_status(Status(StatusCode.ERROR))
        span.end()

    def request_done(self, ctx: RequestContext, record: dict[str, Any]) -> None:
        spans = self._spans(ctx)
        if not spans.server.is_recording():  # not sampled: its children are not either; nothing to export
            spans.server.end()
            return
        seen = ctx.slot(ResponseSeen)
        answer = {**a.response_attributes(ctx, seen), **a.usage_attributes(ctx)}
        if spans.answered is not None:
            span, ended = spans.answered
            span.set_attributes(answer)
            span.end(end_time=ended)
        for span in (*spans.attempts.values(), *spans.stages.values()):  # cut short: failed
            span.set_attribute("error.type", "aborted")
            span.set_status(Status(StatusCode.ERROR))
            span.end()
        spans.attempts.clear()
        spans.stages.clear()
        server = spans.server
        server.set_attributes({**a.log_field_attributes(ctx), **a.guardrail_attributes(ctx), **a.server_attributes(ctx),
                               **answer})
        if self.captures_content(ctx):
            server.set_attributes(content_attributes(ctx, seen, self._max_chars))
        if ctx.status >= 500:
            server.set_status(Status(StatusCode.ERROR))
        server.end()
        self._flusher.mark()

    # ---- the request's spans ----------------------------------------------------------------------
    def _spans(self, ctx: RequestContext) -> _Spans:
        spans = ctx.slot(_Spans)
        if spans is None:
            parent = self._propagator.extract(carrier=ctx.request_headers)
            started = time.time_ns() - int(ctx.elapsed_s() * 1e9)  # the request began before its first event
            path = a.route(ctx)
            server = self._tracer.start_span(
                f"POST {path}" if path else f"{ctx.operation} {ctx.model.name}", context=parent,
                kind=SpanKind.SERVER, start_time=started,
                attributes={"gen_ai.operation.name": ctx.operation, "gen_ai.request.model": ctx.model.name,
                            "http.request.method": "POST", **({"http.route": path} if path else {})})
            spans = _Spans(server, trace.set_span_in_context(server, parent))
            ctx.put(spans)
        return spans
