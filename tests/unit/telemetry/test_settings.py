"""When tracing is on, and what the standard OTEL_* variables make of the export."""

from __future__ import annotations

import urllib.parse

from hypothesis import given
from hypothesis import strategies as st

from aigw.telemetry.settings import (
    DEFAULT_EXPORT_TIMEOUT_S,
    export_settings,
    parse_pairs,
    resource_attributes,
    traces_endpoint,
    tracing_enabled,
)


def test_on_only_with_an_endpoint_and_not_disabled() -> None:
    assert not tracing_enabled({})
    assert not tracing_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "})
    assert tracing_enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing_enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    on = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert not tracing_enabled({**on, "OTEL_SDK_DISABLED": "TRUE"})
    assert not tracing_enabled({**on, "OTEL_TRACES_EXPORTER": "none"})


def test_the_generic_endpoint_gets_the_signal_path_and_the_specific_one_is_used_as_is() -> None:
    assert traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://api.honeycomb.io/"}) == \
        "https://api.honeycomb.io/v1/traces"
    assert traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://a", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":
                            "https://b/custom"}) == "https://b/custom"


@given(st.dictionaries(st.text(min_size=1).filter(str.strip), st.text(), max_size=5))
def test_headers_round_trip_through_percent_encoding(headers: dict[str, str]) -> None:
    raw = ",".join(f"{urllib.parse.quote(k)}={urllib.parse.quote(v)}" for k, v in headers.items())
    expected: dict[str, str] = {}
    for k, v in headers.items():
        if k.strip():
            expected[k.strip().lower()] = v.strip()
    assert parse_pairs(raw, lower=True) == expected


def test_malformed_header_entries_are_skipped() -> None:
    assert parse_pairs("novalue,=x,a=1,,b = 2 ", lower=True) == {"a": "1", "b": "2"}


def test_service_name_precedence_and_lambda_resource() -> None:
    assert resource_attributes({})["service.name"] == "aigw"
    env = {"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,deployment.environment=prod",
           "AWS_LAMBDA_FUNCTION_NAME": "gw", "AWS_REGION": "eu-west-1"}
    attributes = resource_attributes(env)
    assert attributes["service.name"] == "from-attrs"
    assert (attributes["deployment.environment"], attributes["faas.name"], attributes["cloud.region"]) == \
        ("prod", "gw", "eu-west-1")
    assert resource_attributes({**env, "OTEL_SERVICE_NAME": "gateway"})["service.name"] == "gateway"


def test_timeouts_and_sigv4() -> None:
    base = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    assert export_settings(base).timeout_s == DEFAULT_EXPORT_TIMEOUT_S
    assert export_settings({**base, "OTEL_EXPORTER_OTLP_TIMEOUT": "1.5"}).timeout_s == 1.5
    assert export_settings({**base, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "2000"}).timeout_s == 2.0  # milliseconds
    assert export_settings({**base, "OTEL_EXPORTER_OTLP_TIMEOUT": "soon"}).timeout_s == DEFAULT_EXPORT_TIMEOUT_S
    assert export_settings(base).sigv4 is None
    xray = export_settings({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://xray.eu-central-1.amazonaws.com/v1/traces"})
    assert xray.sigv4 == ("xray", "eu-central-1")
    forced = export_settings({**base, "AIGW_OTEL_SIGV4_SERVICE": "xray", "AWS_REGION": "us-west-2"})
    assert forced.sigv4 == ("xray", "us-west-2")
    headers = export_settings({**base, "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Basic%20abc"}).headers
    assert headers == {"authorization": "Basic abc"}
