from __future__ import annotations

import io
import json
from typing import Any

from aigw.auth.records import KeyRecord
from aigw.config import load_config
from aigw.errors import GatewayError, TooManyRequests
from aigw.observability import Observer, refusal_record
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import Attempt, RequestContext
from aigw.pricing import Usage


def context(**fields: Any) -> RequestContext:
    config = load_config({"models": [{"name": "gpt-4o-mini", "deployments": [
        {"provider": "openai", "model": "gpt-4o-mini"}]}]})
    model = config.models[0]
    key = KeyRecord(key_hash="h" * 64, key_id="key_abc", team_id="search", project="p1")
    ctx = RequestContext(request_id="req_1", operation="chat", codec=OpenAICodec(), key=key, model=model, body={},
                         **fields)
    ctx.deployment = model.deployments[0]
    ctx.served_model = model.name
    ctx.attempts = [Attempt("openai/gpt-4o-mini", "gpt-4o-mini", 200)]
    return ctx


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_one_log_line_and_one_emf_document_per_request() -> None:
    stream = io.StringIO()
    seen: list[dict[str, Any]] = []
    ctx = context(stream=True)
    ctx.usage = Usage(input_tokens=100, output_tokens=20, cache_read_tokens=40)
    ctx.cost_usd = 0.000123
    ctx.first_token_s = 0.05
    Observer(stream=stream, sink=seen.append).request_done(ctx)
    log, emf = lines(stream)
    assert log["message"] == "request" and log["service"] == "aigw"
    for field, value in {"request_id": "req_1", "key_id": "key_abc", "team": "search", "project": "p1",
                         "model": "gpt-4o-mini", "provider": "openai", "deployment": "openai/gpt-4o-mini",
                         "input_tokens": 100, "output_tokens": 20, "cached_tokens": 40, "cost_usd": 0.000123,
                         "status": 200, "cache": "miss", "retries": 0, "ttft_ms": 50.0}.items():
        assert log[field] == value, field
    assert "h" * 64 not in json.dumps(log)  # not even the key's hash
    directive = emf["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "AIGateway"
    assert ["Team", "Model", "Provider"] in directive["Dimensions"] and ["Model"] in directive["Dimensions"]
    names = {m["Name"] for m in directive["Metrics"]}
    assert {"Requests", "InputTokens", "OutputTokens", "CostUSD", "Latency", "TimeToFirstToken",
            "GatewayOverhead", "CacheMisses"} <= names
    assert (emf["Team"], emf["Model"], emf["Provider"]) == ("search", "gpt-4o-mini", "openai")
    assert emf["CostUSD"] in (0.000123, [0.000123])  # EMF allows a value or a list of values
    assert "key_abc" not in json.dumps(directive)  # key ids are metadata, never a dimension
    [record] = seen  # the sink sees exactly what was logged (the JSON line omits null fields)
    assert {k: v for k, v in record.items() if v is not None} == {k: log[k] for k in record if record[k] is not None}


def test_errors_are_counted_by_type() -> None:
    stream = io.StringIO()
    ctx = context()
    ctx.error = TooManyRequests("budget exceeded on team search", code="budget_exceeded")
    ctx.status = 429
    Observer(stream=stream).request_done(ctx)
    log, by_type, emf = lines(stream)
    assert log["status"] == 429 and log["error_type"] == "rate_limit_error"
    assert by_type["ErrorType"] == "budget_exceeded" and by_type["ErrorsByType"] == 1
    assert emf["Errors"] in (1, [1]) and emf["BudgetRejections"] in (1, [1])


TRACE = "1-5759e988-bd862e3fe1be46a994272793"


def test_the_log_line_carries_the_requests_xray_trace_id() -> None:
    """Under the Web Adapter the invocation's trace reaches the app only as this header."""
    stream = io.StringIO()
    ctx = context(request_headers={"x-amzn-trace-id": f"Root={TRACE};Parent=53995c3f42cd8ad8;Sampled=1"})
    Observer(stream=stream).request_done(ctx)
    assert lines(stream)[0]["xray_trace_id"] == TRACE


def test_a_refused_request_carries_it_too_and_a_forged_one_goes_nowhere() -> None:
    stream = io.StringIO()
    observer = Observer(stream=stream)
    refusal = GatewayError("invalid api key", status=401, type="authentication_error")
    observer.request_refused(refusal_record("req_2", "openai", "/v1/chat/completions", refusal, 0.001),
                             headers={"x-amzn-trace-id": f"Root={TRACE}"})
    observer.request_refused(refusal_record("req_3", "openai", "/v1/chat/completions", refusal, 0.001),
                             headers={"x-amzn-trace-id": "Root=<script>;Sampled=1"})
    first, second = [line for line in lines(stream) if line.get("message") == "request"]
    assert first["xray_trace_id"] == TRACE
    assert "xray_trace_id" not in second and "<script>" not in stream.getvalue()
