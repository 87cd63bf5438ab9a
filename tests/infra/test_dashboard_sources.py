"""Every widget reads something the runtime really writes: each metric (name and exact dimension
set, as CloudWatch matches them) comes out of the real Observer's EMF documents, and each field a
Logs Insights table reads is written on the request line (core fields or a stage's log fields)."""

from __future__ import annotations

import inspect
import io
import json
import re
from typing import Any

from aigw import names
from aigw.auth.records import KeyRecord
from aigw.budgets import stage as budget_stage
from aigw.config import load_config
from aigw.errors import GatewayError, TooManyRequests
from aigw.observability import Observer, refusal_record, request_record
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import Attempt, RequestContext
from aigw.pricing import Usage
from tests.infra.conftest import Synth, flatten

Emitted = set[tuple[str, tuple[str, ...]]]

CONFIG = load_config({"models": [
    {"name": "main", "fallbacks": ["spare"], "deployments": [{"provider": "openai", "model": "gpt-4o-mini"}]},
    {"name": "spare", "deployments": [{"provider": "anthropic", "model": "claude-3-5-haiku-latest"}]},
]})


def _context(**fields: Any) -> RequestContext:
    model = CONFIG.models[0]
    key = KeyRecord(key_hash="h" * 64, key_id="key_abc", team_id="search", project="p1")
    ctx = RequestContext(request_id="req_1", operation="chat", codec=OpenAICodec(), key=key, model=model, body={},
                         **fields)
    ctx.deployment = model.deployments[0]
    ctx.served_model = model.name
    ctx.attempts = [Attempt("openai/gpt-4o-mini", "gpt-4o-mini", 200)]
    ctx.usage = Usage(input_tokens=100, output_tokens=20)
    ctx.cost_usd = 0.001
    return ctx


def _requests() -> list[RequestContext]:
    """A few requests that between them take every metric path of the Observer."""
    streamed = _context(stream=True)
    streamed.first_token_s = 0.05
    streamed.cache = "miss"
    hit = _context()
    hit.cache = "hit"
    hit.log_for("cache")["saved_cost_usd"] = 0.002
    fallback = _context()
    fallback.served_model = "spare"
    fallback.attempts.append(Attempt("anthropic/claude-3-5-haiku-latest", "claude-3-5-haiku-latest", 200))
    fallback.log_for("budget")["alerts"] = ["team search 2026-12 80% (usd)"]  # as budgets/stage.py writes it
    fallback.log_for("guardrails")["guardrails"] = [{"name": "pii", "action": "redact", "source": "input"}]
    rejected = _context()
    rejected.error = TooManyRequests("budget exceeded on team search", code="budget_exceeded")
    limited = _context()
    limited.error = TooManyRequests("rate limit", code="rate_limit_exceeded")
    return [streamed, hit, fallback, rejected, limited]


def _emitted() -> Emitted:
    stream = io.StringIO()
    observer = Observer(stream=stream)
    for ctx in _requests():
        observer.request_done(ctx)
    observer.request_refused(refusal_record("req_2", "openai", "/v1/chat/completions",
                                            GatewayError("bad key", status=401, type="authentication_error",
                                                         code="invalid_api_key"), 0.001))
    found: Emitted = set()
    for line in stream.getvalue().splitlines():
        document = json.loads(line)
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            assert directive["Namespace"] == names.METRICS_NAMESPACE
            for metric in directive["Metrics"]:
                for dimensions in directive["Dimensions"]:
                    found.add((metric["Name"], tuple(dimensions)))
    return found


_SEARCH = re.compile(r"SEARCH\('\{(\w+),([\w,]+)\} MetricName=\"(\w+)\"'")
_SELECT = re.compile(r"SELECT \w+\((\w+)\) FROM SCHEMA\(\"(\w+)\", ([\w, ]+)\)")


def _asked(expression: str) -> Emitted:
    asked: Emitted = set()
    for namespace, dimensions, metric in _SEARCH.findall(expression):
        assert namespace == names.METRICS_NAMESPACE
        asked.add((metric, tuple(dimensions.split(","))))
    for metric, namespace, dimensions in _SELECT.findall(expression):
        assert namespace == names.METRICS_NAMESPACE
        asked.add((metric, tuple(d.strip() for d in dimensions.split(","))))
    return asked


def _dashboard(synth: Synth) -> dict[str, Any]:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    return dict(json.loads(flatten(dashboard["Properties"]["DashboardBody"])))


def test_every_gateway_metric_on_the_dashboard_and_alarms_is_emitted(default: Synth) -> None:
    emitted = _emitted()
    asked: Emitted = set()
    expressions = [item["expression"] for w in _dashboard(default)["widgets"]
                   for metric in w["properties"].get("metrics", []) for item in metric
                   if isinstance(item, dict) and "expression" in item]
    for alarm in default.resources("AWS::CloudWatch::Alarm").values():
        expressions += [m["Expression"] for m in alarm["Properties"].get("Metrics", []) if "Expression" in m]
    for expression in expressions:
        found = _asked(expression)
        assert found, f"no gateway metric recognised in {expression!r}"
        asked |= found
    assert asked <= emitted, sorted(asked - emitted)
    for metric in (names.METRIC_GUARDRAIL_INTERVENTIONS, names.METRIC_BUDGET_ALERTS, names.METRIC_ERRORS_BY_TYPE,
                   names.METRIC_GATEWAY_OVERHEAD, names.METRIC_LATENCY, names.METRIC_COST_USD):
        assert any(name == metric for name, _ in asked), metric


def test_refusals_before_the_pipeline_count_in_errors_by_type() -> None:
    assert (names.METRIC_ERRORS_BY_TYPE, names.METRIC_DIMENSIONS_ERROR) in _emitted()


_QUERY_WORDS = {"filter", "and", "or", "not", "ispresent", "stats", "latest", "count", "sum", "max", "min", "avg",
                "as", "by", "sort", "desc", "asc", "limit", "fields"}


def _written_fields() -> set[str]:
    """Fields the request line can carry: the core record, the refusal record, and the budget
    stage's log fields (`log[...] = ` in budgets/stage.py)."""
    written = {"message", "timestamp", "level", "service", "location"}  # emf.log_line's own
    for function in (request_record, refusal_record):
        written |= set(re.findall(r'"(\w+)": ', inspect.getsource(function)))
    written |= set(re.findall(r'log\["(\w+)"\] = ', inspect.getsource(budget_stage)))
    return written


def test_every_field_a_log_table_reads_is_written_on_the_request_line(default: Synth) -> None:
    written = _written_fields()
    assert {"budget_scope", "budget_used_pct", "alerts", "team"} <= written
    tables = [w for w in _dashboard(default)["widgets"] if w["type"] == "log"]
    assert len(tables) == 2
    for table in tables:
        query = re.sub(r"SOURCE '[^']*'", "", table["properties"]["query"])
        query = re.sub(r'"[^"]*"', "", query)  # string literals
        aliases = set(re.findall(r"\bas (\w+)", query))
        identifiers = {m.split(".")[0] for m in re.findall(r"(?<![@\w])[a-z_][\w.]*", query)}
        read = identifiers - _QUERY_WORDS - aliases
        assert read, query
        assert read <= written, (table["properties"]["title"], sorted(read - written))
