"""One structured log line and one EMF metrics document per request (docs/DESIGN.md §6),
written in one go (aigw/emf.py) so concurrent requests never interleave their lines.

Metrics carry only low-cardinality dimensions (Team, Model, Provider; ErrorType on
errors); key ids, request ids and the fallback path go in the log line. Both are written
synchronously in one go, with no await in between, so concurrent requests on the event
loop never interleave their metric sets.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from aigw import names as n
from aigw.emf import XRAY_TRACE_HEADER, LineWriter, emf_document, log_line, xray_root
from aigw.errors import GatewayError
from aigw.names import METRICS_NAMESPACE, SERVICE_NAME

if TYPE_CHECKING:
    from aigw.pipeline.context import RequestContext

RecordSink = Callable[[dict[str, Any]], None]
_ids = itertools.count()


def request_record(ctx: RequestContext) -> dict[str, Any]:
    usage = ctx.usage
    deployment = ctx.deployment
    elapsed_s = ctx.elapsed_s()  # once: the latency and the gateway's overhead of the same instant
    record: dict[str, Any] = {
        "request_id": ctx.request_id,
        "api": ctx.api,
        "operation": ctx.operation,
        "key_id": ctx.key.key_id,
        "team": ctx.key.team_id,
        "project": ctx.key.project,
        "end_user": ctx.end_user,
        "model": ctx.model.name,
        "served_model": ctx.served_model,
        "provider": deployment.provider if deployment else None,
        "deployment": deployment.deployment_id if deployment else None,
        "stream": ctx.stream,
        "status": ctx.status,
        "error_type": ctx.error.type if ctx.error else None,
        "error_code": ctx.error.code if ctx.error else None,
        "error": ctx.error.message if ctx.error else None,
        "error_detail": ctx.error.detail if ctx.error else None,  # log only: never in a response
        "input_tokens": usage.input_tokens if usage else 0,
        "output_tokens": usage.output_tokens if usage else 0,
        "cached_tokens": usage.cache_read_tokens if usage else 0,
        "cache_write_tokens": usage.cache_write_tokens if usage else 0,
        "reasoning_tokens": usage.reasoning_tokens if usage else 0,
        "usage_estimated": usage.estimated if usage else False,
        "cost_usd": round(ctx.cost_usd, 10),
        "latency_ms": round(elapsed_s * 1000, 3),
        "ttft_ms": round(ctx.first_token_s * 1000, 3) if ctx.first_token_s is not None else None,
        "overhead_ms": round(ctx.overhead_ms(elapsed_s), 3),
        "cache": ctx.cache,
        "retries": max(len(ctx.attempts) - 1, 0),
        "path": [f"{a.model}:{a.deployment}:{a.status}" for a in ctx.attempts],
        "disconnected": ctx.disconnected,
        "stopped_by": ctx.stopped.by if ctx.stopped else None,
    }
    if ctx.log:
        for name, value in ctx.log.items():  # stage fields are namespaced: they never replace a core field
            record.setdefault(name, value)
    return record


def refusal_record(request_id: str, api: str, route: str, error: GatewayError, latency_s: float,
                   key_id: str | None = None, team: str | None = None) -> dict[str, Any]:
    """The log line of a request refused before it reached the pipeline (bad body, unknown key...)."""
    return {"request_id": request_id, "api": api, "route": route, "key_id": key_id, "team": team,
            "status": error.status, "error_type": error.type, "error_code": error.code, "error": error.message,
            "latency_ms": round(latency_s * 1000, 3)}


def _json_logger(stream: TextIO) -> logging.Logger:
    """A logger writing Powertools' JSON format to `stream`.

    Powertools' `Logger` configures the process-wide logger named after the service once, so
    a second instance with another stream would silently write to the first one's. Each
    Observer gets its own logger with Powertools' formatter instead; output is identical.
    """
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    logger = logging.getLogger(f"{SERVICE_NAME}.requests.{next(_ids)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LambdaPowertoolsFormatter(service=SERVICE_NAME, utc=True))
    logger.addHandler(handler)
    return logger


class Listener:
    """Hears the events of a request (e.g. tracing). Every method is optional: override what
    you need. Called synchronously on the event loop; must be cheap and must not raise."""

    def stage_start(self, ctx: RequestContext, stage: str) -> None: ...

    def stage_end(self, ctx: RequestContext, stage: str, outcome: object) -> None: ...

    def attempt_start(self, ctx: RequestContext, deployment: Any, number: int) -> None: ...

    def attempt_end(self, ctx: RequestContext, attempt: Any) -> None: ...

    def stream_end(self, ctx: RequestContext) -> None: ...

    def request_done(self, ctx: RequestContext, record: dict[str, Any]) -> None: ...


class Observer:
    """The one place a request's events go: the log line and metrics (request_done and
    refusals), and every `Listener` (stage, attempt and stream events) for spans and the like.
    `sink` sees every record (tests, bench)."""

    def __init__(self, *, stream: TextIO | None = None, sink: RecordSink | None = None,
                 metrics: bool = True, listeners: list[Listener] | None = None) -> None:
        self._logger = _json_logger(stream or sys.stdout)  # everything but the request line (exceptions...)
        # No `service` dimension: dashboards and alarms address exactly [Team, Model, Provider] and [Model].
        self._metrics = metrics
        self._lines = LineWriter(stream or sys.stdout)
        self._sink = sink
        self.listeners: list[Listener] = list(listeners or [])

    @property
    def logger(self) -> Any:
        return self._logger

    def _tell(self, event: str, *args: Any) -> None:
        for listener in self.listeners:
            try:
                getattr(listener, event)(*args)
            except Exception:  # a listener must never break a request
                self._logger.exception("listener failed", extra={"listener": type(listener).__name__,
                                                                 "event": event})

    def stage_start(self, ctx: RequestContext, stage: str) -> None:
        if self.listeners:
            self._tell("stage_start", ctx, stage)

    def stage_end(self, ctx: RequestContext, stage: str, outcome: object) -> None:
        if self.listeners:
            self._tell("stage_end", ctx, stage, outcome)

    def attempt_start(self, ctx: Any, deployment: Any, number: int) -> None:
        if self.listeners:
            self._tell("attempt_start", ctx, deployment, number)

    def attempt_end(self, ctx: Any, attempt: Any) -> None:
        if self.listeners:
            self._tell("attempt_end", ctx, attempt)

    def stream_end(self, ctx: RequestContext) -> None:
        if self.listeners:
            self._tell("stream_end", ctx)

    def request_done(self, ctx: RequestContext) -> dict[str, Any]:
        record = request_record(ctx)
        trace_id = xray_root(ctx.request_headers.get(XRAY_TRACE_HEADER))
        lines = [log_line("INFO", "request_done", "request", SERVICE_NAME, record, trace_id=trace_id)]
        if self._metrics:
            lines.extend(self._metric_documents(ctx, record))
        self._lines.write(*lines)
        if self._sink is not None:
            self._sink(record)
        if self.listeners:
            self._tell("request_done", ctx, record)
        return record

    def request_refused(self, record: dict[str, Any], *, unexpected: bool = False,
                        headers: Mapping[str, str] | None = None) -> None:
        """A request that never reached the pipeline still leaves one log line and its metrics
        (Requests, Errors, ErrorsByType), so auth failures show on the dashboard. `headers`: the
        request's (its trace id, as for a served request)."""
        trace_id = xray_root(headers.get(XRAY_TRACE_HEADER)) if headers is not None else None
        lines = [log_line("ERROR" if unexpected else "INFO", "request_refused", "request", SERVICE_NAME, record,
                          trace_id=trace_id)]
        if self._metrics:
            now = int(time.time() * 1000)
            dimensions = {n.DIM_TEAM: record.get("team") or "none", n.DIM_MODEL: "none", n.DIM_PROVIDER: "none"}
            lines.append(_errors_by_type(record["error_code"] or record["error_type"], now))
            lines.append(emf_document(METRICS_NAMESPACE, _DIMENSION_SETS, dimensions,
                                      [(n.METRIC_REQUESTS, "Count", 1), (n.METRIC_ERRORS, "Count", 1)],
                                      {"request_id": record["request_id"]}, now))
        self._lines.write(*lines)
        if self._sink is not None:
            self._sink(record)

    def _metric_documents(self, ctx: RequestContext, record: dict[str, Any]) -> list[str]:
        now = int(time.time() * 1000)
        dimensions = {n.DIM_TEAM: _dimension(record["team"]), n.DIM_MODEL: _dimension(record["model"]),
                      n.DIM_PROVIDER: _dimension(record["provider"])}
        metrics: list[tuple[str, str, float]] = [
            (n.METRIC_REQUESTS, "Count", 1),
            (n.METRIC_INPUT_TOKENS, "Count", record["input_tokens"]),
            (n.METRIC_OUTPUT_TOKENS, "Count", record["output_tokens"]),
            (n.METRIC_COST_USD, "None", record["cost_usd"]),
            (n.METRIC_LATENCY, "Milliseconds", record["latency_ms"]),
            (n.METRIC_GATEWAY_OVERHEAD, "Milliseconds", record["overhead_ms"]),
        ]
        if record["ttft_ms"] is not None:
            metrics.append((n.METRIC_TIME_TO_FIRST_TOKEN, "Milliseconds", record["ttft_ms"]))
        if ctx.cache in ("hit", "semantic-hit"):
            metrics.append((n.METRIC_CACHE_HITS, "Count", 1))
            saved = ctx.log.get("saved_cost_usd")
            if isinstance(saved, int | float):
                metrics.append((n.METRIC_CACHE_SAVED_USD, "None", saved))
        elif ctx.cache == "miss":
            metrics.append((n.METRIC_CACHE_MISSES, "Count", 1))
        if record["retries"]:
            metrics.append((n.METRIC_RETRIES, "Count", record["retries"]))
        if ctx.served_model and ctx.served_model != ctx.model.name:
            metrics.append((n.METRIC_FALLBACKS, "Count", 1))
        staged = ctx.log
        if staged:
            if "budget_overrun" in staged:
                metrics.append((n.METRIC_BUDGET_OVERRUNS, "Count", 1))
            if "usage_invalid" in staged:
                metrics.append((n.METRIC_USAGE_INVALID, "Count", 1))
            alerts = staged.get("alerts")
            if alerts:
                metrics.append((n.METRIC_BUDGET_ALERTS, "Count", len(alerts)))
        documents = []
        if ctx.error is not None:
            metrics.append((n.METRIC_ERRORS, "Count", 1))
            if ctx.error.code == "budget_exceeded":
                metrics.append((n.METRIC_BUDGET_REJECTIONS, "Count", 1))
            elif ctx.error.code == "rate_limit_exceeded":
                metrics.append((n.METRIC_RATE_LIMITED, "Count", 1))
            documents.append(_errors_by_type(ctx.error.code or ctx.error.type, now))
        for acted in (staged.get("guardrails") or ()) if staged else ():
            documents.append(emf_document(
                METRICS_NAMESPACE, [n.METRIC_DIMENSIONS_GUARDRAIL],
                {n.DIM_GUARDRAIL: _dimension(acted.get("name")), n.DIM_ACTION: _dimension(acted.get("action"))},
                [(n.METRIC_GUARDRAIL_INTERVENTIONS, "Count", 1)], timestamp_ms=now, scalar=True))
        documents.append(emf_document(METRICS_NAMESPACE, _DIMENSION_SETS, dimensions, metrics,
                                      {"request_id": ctx.request_id, "key_id": ctx.key.key_id}, now))
        return documents


def _dimension(value: str | None) -> str:
    """A dimension value is never blank (CloudWatch would drop the whole dimension set)."""
    return value if value and value.strip() else "none"


# Every request's metrics carry exactly these dimension sets (see names.METRIC_DIMENSIONS_*).
_DIMENSION_SETS = (n.METRIC_DIMENSIONS_DETAIL, n.METRIC_DIMENSIONS_MODEL)


def _errors_by_type(error_type: str, timestamp_ms: int) -> str:
    """Errors by type: a second, tiny document keyed by ErrorType alone."""
    return emf_document(METRICS_NAMESPACE, [n.METRIC_DIMENSIONS_ERROR], {n.DIM_ERROR_TYPE: error_type},
                        [(n.METRIC_ERRORS_BY_TYPE, "Count", 1)], timestamp_ms=timestamp_ms, scalar=True)
