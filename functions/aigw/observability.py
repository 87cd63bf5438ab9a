"""One structured log line and one EMF metrics document per request (DESIGN.md §6).

Metrics carry only low-cardinality dimensions (Team, Model, Provider; ErrorType on
errors); key ids, request ids and the fallback path go in the log line. Both are written
synchronously in one go, with no await in between, so concurrent requests on the event
loop never interleave their metric sets.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

from aigw import names as n
from aigw.names import METRICS_NAMESPACE, SERVICE_NAME
from aigw.pipeline.context import RequestContext

RecordSink = Callable[[dict[str, Any]], None]
_ids = itertools.count()


def request_record(ctx: RequestContext) -> dict[str, Any]:
    usage = ctx.usage
    deployment = ctx.deployment
    record: dict[str, Any] = {
        "request_id": ctx.request_id,
        "api": ctx.api,
        "key_id": ctx.key.key_id,
        "team": ctx.key.team_id,
        "project": ctx.key.project,
        "model": ctx.model.name,
        "served_model": ctx.served_model,
        "provider": deployment.provider if deployment else None,
        "deployment": deployment.deployment_id if deployment else None,
        "stream": ctx.stream,
        "status": ctx.status,
        "error_type": ctx.error.type if ctx.error else None,
        "error": ctx.error.message if ctx.error else None,
        "error_code": ctx.error.code if ctx.error else None,  # e.g. truncated, upstream_auth_failed
        "error_detail": ctx.error.detail if ctx.error else None,  # log only: never in a response
        "input_tokens": usage.input_tokens if usage else 0,
        "output_tokens": usage.output_tokens if usage else 0,
        "cached_tokens": usage.cache_read_tokens if usage else 0,
        "cache_write_tokens": usage.cache_write_tokens if usage else 0,
        "reasoning_tokens": usage.reasoning_tokens if usage else 0,
        "usage_estimated": usage.estimated if usage else False,
        "cost_usd": round(ctx.cost_usd, 10),
        "latency_ms": round(ctx.elapsed_s() * 1000, 3),
        "ttft_ms": round(ctx.first_token_s * 1000, 3) if ctx.first_token_s is not None else None,
        "overhead_ms": round(ctx.overhead_ms(), 3),
        "cache": ctx.cache,
        "retries": max(len(ctx.attempts) - 1, 0),
        "path": [f"{a.model}:{a.deployment}:{a.status}" for a in ctx.attempts],
        "disconnected": ctx.disconnected,
    }
    record.update(ctx.log)
    return record


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


class Observer:
    """Writes the request log line and its metrics; `sink` sees every record (tests, bench)."""

    def __init__(self, *, stream: TextIO | None = None, sink: RecordSink | None = None,
                 metrics: bool = True) -> None:
        from aws_lambda_powertools.metrics import EphemeralMetrics

        self._logger = _json_logger(stream or sys.stdout)
        # No `service` dimension: dashboards and alarms address exactly [Team, Model, Provider] and [Model].
        self._metrics = EphemeralMetrics(namespace=METRICS_NAMESPACE) if metrics else None
        self._stream = stream or sys.stdout
        self._sink = sink

    @property
    def logger(self) -> Any:
        return self._logger

    def request_done(self, ctx: RequestContext) -> dict[str, Any]:
        record = request_record(ctx)
        self._logger.info("request", extra=record)
        if self._metrics is not None:
            self._emit_metrics(ctx, record)
        if self._sink is not None:
            self._sink(record)
        return record

    def _emit_metrics(self, ctx: RequestContext, record: dict[str, Any]) -> None:
        from aws_lambda_powertools.metrics import MetricUnit

        m = self._metrics
        assert m is not None
        values = {n.DIM_TEAM: record["team"], n.DIM_MODEL: record["model"],
                  n.DIM_PROVIDER: record["provider"] or "none"}
        for name in n.METRIC_DIMENSIONS_DETAIL:
            m.add_dimension(name, values[name])
        m.add_dimensions(**{name: values[name] for name in n.METRIC_DIMENSIONS_MODEL})
        m.add_metric(n.METRIC_REQUESTS, MetricUnit.Count, 1)
        m.add_metric(n.METRIC_INPUT_TOKENS, MetricUnit.Count, record["input_tokens"])
        m.add_metric(n.METRIC_OUTPUT_TOKENS, MetricUnit.Count, record["output_tokens"])
        m.add_metric(n.METRIC_COST_USD, MetricUnit.NoUnit, record["cost_usd"])
        m.add_metric(n.METRIC_LATENCY, MetricUnit.Milliseconds, record["latency_ms"])
        m.add_metric(n.METRIC_GATEWAY_OVERHEAD, MetricUnit.Milliseconds, record["overhead_ms"])
        if record["ttft_ms"] is not None:
            m.add_metric(n.METRIC_TIME_TO_FIRST_TOKEN, MetricUnit.Milliseconds, record["ttft_ms"])
        if ctx.cache in ("hit", "semantic-hit"):
            m.add_metric(n.METRIC_CACHE_HITS, MetricUnit.Count, 1)
            saved = ctx.log.get("saved_cost_usd")
            if isinstance(saved, int | float):
                m.add_metric(n.METRIC_CACHE_SAVED_USD, MetricUnit.NoUnit, saved)
        elif ctx.cache == "miss":
            m.add_metric(n.METRIC_CACHE_MISSES, MetricUnit.Count, 1)
        if record["retries"]:
            m.add_metric(n.METRIC_RETRIES, MetricUnit.Count, record["retries"])
        if ctx.served_model and ctx.served_model != ctx.model.name:
            m.add_metric(n.METRIC_FALLBACKS, MetricUnit.Count, 1)
        if ctx.error is not None:
            m.add_metric(n.METRIC_ERRORS, MetricUnit.Count, 1)
            if ctx.error.code == "budget_exceeded":
                m.add_metric(n.METRIC_BUDGET_REJECTIONS, MetricUnit.Count, 1)
            elif ctx.error.code == "rate_limit_exceeded":
                m.add_metric(n.METRIC_RATE_LIMITED, MetricUnit.Count, 1)
        m.add_metadata("request_id", ctx.request_id)
        m.add_metadata("key_id", ctx.key.key_id)
        document = m.serialize_metric_set()
        m.clear_metrics()
        if ctx.error is not None:
            # Errors by type: a second, tiny document keyed by ErrorType alone.
            document_errors = {
                "_aws": {"Timestamp": document["_aws"]["Timestamp"], "CloudWatchMetrics": [
                    {"Namespace": n.METRICS_NAMESPACE, "Dimensions": [list(n.METRIC_DIMENSIONS_ERROR)],
                     "Metrics": [{"Name": n.METRIC_ERRORS_BY_TYPE, "Unit": "Count"}]}]},
                n.DIM_ERROR_TYPE: ctx.error.code or ctx.error.type, n.METRIC_ERRORS_BY_TYPE: 1,
            }
            self._stream.write(json.dumps(document_errors, separators=(",", ":")) + "\n")
        self._stream.write(json.dumps(document, separators=(",", ":")) + "\n")
