"""The directly written log line and EMF documents equal what Powertools itself writes
(the slow path they replace), field for field and in order; only clocks differ."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.emf import emf_document, log_line, log_timestamp, xray_root

VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False,
                   allow_infinity=False), st.text(max_size=30), st.lists(st.text(max_size=5), max_size=3))
FIELDS = st.dictionaries(st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True).filter(
    lambda k: k not in {"level", "location", "message", "timestamp", "service", "name", "msg", "args",
                        "exc_info", "exc_text", "stack_info", "lineno", "funcName", "created", "msecs",
                        "relativeCreated", "thread", "threadName", "process", "processName", "pathname",
                        "filename", "module", "levelname", "levelno", "taskName"}), VALUES, max_size=8)


def powertools_line(fields: dict[str, Any], level: int = logging.INFO) -> dict[str, Any]:
    stream = io.StringIO()
    logger = logging.getLogger(f"emf-equivalence-{id(stream)}")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LambdaPowertoolsFormatter(service="aigw", utc=True))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.log(level, "request", extra=fields)
    logger.removeHandler(handler)
    return dict(json.loads(stream.getvalue()))


@settings(max_examples=200, deadline=None)
@given(FIELDS)
def test_the_log_line_is_powertools_format(fields: dict[str, Any]) -> None:
    slow = powertools_line(fields)
    fast = json.loads(log_line("INFO", "x", "request", "aigw", fields))
    for line in (slow, fast):
        line.pop("timestamp")
        line.pop("location")
    assert list(fast.items()) == list(slow.items())


def test_the_timestamp_is_powertools_format() -> None:
    assert log_timestamp(1796117515.995) == "2026-12-01 09:31:55,995+0000"
    slow = powertools_line({})["timestamp"]
    assert len(slow) == len(log_timestamp(0.0)) and slow.endswith("+0000")


def test_the_xray_trace_id_is_added_like_powertools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-abc-def;Parent=1;Sampled=1")
    assert json.loads(log_line("INFO", "x", "m", "aigw", {}))["xray_trace_id"] == powertools_line({})["xray_trace_id"]


ROOT = "1-5759e988-bd862e3fe1be46a994272793"


@pytest.mark.parametrize("header", [
    f"Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1",  # what the Web Adapter forwards
    f"Self=1-67891234-12456789abcdef012345678;Root={ROOT}",  # an ALB's
    f"Root={ROOT}",
    f" Root={ROOT} ;Sampled=0",
])
def test_the_trace_id_is_the_root_of_an_xray_header(header: str) -> None:
    assert xray_root(header) == ROOT


@pytest.mark.parametrize("header", [
    None, "", "Root=", "Root=hello", "Root=1-abc-def", f"Parent={ROOT}", f"XRoot={ROOT}",
    f"Root={ROOT}x", f"Root={ROOT.upper()}", f"Root={ROOT};" + "x" * 300, '{"Root": "1-5759e988-bd862e3f"}',
])
def test_anything_else_is_no_trace_id(header: str | None) -> None:
    assert xray_root(header) is None


@settings(max_examples=300, deadline=None)
@given(header=st.text(max_size=300)
       | st.builds(lambda a, b: a + "Root=" + b, st.text(max_size=20), st.text(max_size=40)))
def test_a_client_header_yields_an_xray_id_or_nothing(header: str) -> None:
    """Off Lambda a client can send the header; what goes into the log is X-Ray's form or nothing."""
    found = xray_root(header)
    assert found is None or re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", found)


_segment = st.text(st.characters(blacklist_characters=";"), max_size=30).filter(lambda s: "Root=" not in s)


@settings(max_examples=300, deadline=None)
@given(before=st.lists(_segment, max_size=3), after=st.lists(_segment, max_size=3),
       root=st.from_regex(r"1-[0-9a-f]{8}-[0-9a-f]{24}", fullmatch=True))
def test_the_root_is_found_among_any_other_fields(before: list[str], after: list[str], root: str) -> None:
    header = ";".join([*before, f"Root={root}", *after])
    assert xray_root(header) == (root if len(header) <= 256 else None)


def test_a_given_trace_id_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-00000000-000000000000000000000000;Sampled=1")
    assert json.loads(log_line("INFO", "x", "m", "aigw", {}, trace_id=ROOT))["xray_trace_id"] == ROOT
    assert json.loads(log_line("INFO", "x", "m", "aigw", {}))["xray_trace_id"] == "1-00000000-000000000000000000000000"
    monkeypatch.delenv("_X_AMZN_TRACE_ID")
    assert "xray_trace_id" not in json.loads(log_line("INFO", "x", "m", "aigw", {}))


@settings(max_examples=100, deadline=None)
@given(team=st.text(min_size=1, max_size=10).filter(str.strip), cost=st.floats(0, 100), latency=st.floats(0, 10_000),
       tokens=st.integers(0, 10**7), error=st.booleans())
def test_the_emf_document_is_powertools_format(team: str, cost: float, latency: float, tokens: int,
                                               error: bool) -> None:
    """(Powertools drops a blank dimension value, and with it the dimension set the dashboards
    query; the observer never writes one: a blank team is "none".)"""
    m = EphemeralMetrics(namespace="AIGateway")
    for name, value in (("Team", team), ("Model", "m"), ("Provider", "p")):
        m.add_dimension(name, value)
    m.add_dimensions(Model="m")
    metrics: list[tuple[str, str, float]] = [("Requests", "Count", 1), ("InputTokens", "Count", tokens),
                                             ("CostUSD", "None", cost), ("Latency", "Milliseconds", latency)]
    if error:
        metrics.append(("Errors", "Count", 1))
    units = {"Count": MetricUnit.Count, "None": MetricUnit.NoUnit, "Milliseconds": MetricUnit.Milliseconds}
    for name, unit, value in metrics:
        m.add_metric(name, units[unit], value)
    m.add_metadata("request_id", "req_1")
    slow = m.serialize_metric_set()
    fast = json.loads(emf_document("AIGateway", [("Team", "Model", "Provider"), ("Model",)],
                                   {"Team": team, "Model": "m", "Provider": "p"}, metrics, {"request_id": "req_1"},
                                   timestamp_ms=slow["_aws"]["Timestamp"]))
    assert json.dumps(fast) == json.dumps(json.loads(json.dumps(slow)))


@settings(max_examples=200)
@given(st.lists(st.floats(min_value=0, max_value=4e9, allow_nan=False) | st.sampled_from(
    [0.0, 1.9999999, 1796129215.9995, 1796129216.0, 1796129215.0004]), min_size=1, max_size=6))
def test_cached_timestamp_equals_strftime_every_time(moments: list[float]) -> None:
    from aigw.emf import log_timestamp, slow_log_timestamp

    for now in moments:  # in any order: the cached second is replaced, never trusted blindly
        assert log_timestamp(now) == slow_log_timestamp(now)


def _document_as_a_dict(namespace: str, sets: Any, dimensions: dict[str, str], metrics: list[Any],
                        metadata: dict[str, Any] | None, timestamp_ms: int, scalar: bool) -> str:
    """The document as one dict, encoded whole: what emf_document wrote before it kept each
    metric set's declaration encoded."""
    from aigw.fastjson import dumps_text

    document: dict[str, Any] = {"_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [
        {"Namespace": namespace, "Dimensions": [list(s) for s in sets],
         "Metrics": [{"Name": name, "Unit": unit} for name, unit, _ in metrics]}]}}
    document.update(dimensions)
    if metadata:
        document.update(metadata)
    for name, _, value in metrics:
        document[name] = value if scalar else [float(value)]
    return dumps_text(document)


NAMES = st.sampled_from(["Requests", "Errors", "Latency", "Team", "Model", "request_id", "_aws", "CostUSD"])


@settings(max_examples=300, deadline=None)
@given(sets=st.lists(st.lists(NAMES, max_size=3), max_size=3), dimensions=st.dictionaries(NAMES, st.text(max_size=8)),
       metrics=st.lists(st.tuples(NAMES, st.sampled_from(["Count", "None", "Milliseconds"]),
                                  st.integers(0, 10**9) | st.floats(0, 1e6)), max_size=5),
       metadata=st.none() | st.dictionaries(NAMES, VALUES, max_size=3), scalar=st.booleans(),
       timestamp=st.integers(0, 2**42))
def test_the_emf_document_is_the_one_dict_encoded(sets: Any, dimensions: dict[str, str], metrics: list[Any],
                                                 metadata: dict[str, Any] | None, scalar: bool,
                                                 timestamp: int) -> None:
    for _ in range(2):  # the declaration encoded, then reused
        fast = emf_document("AIGateway", sets, dimensions, metrics, metadata, timestamp, scalar=scalar)
        assert fast == _document_as_a_dict("AIGateway", sets, dimensions, metrics, metadata, timestamp, scalar)
