"""When tracing is on and where spans go, read from the standard OpenTelemetry variables.

Tracing is on only when an OTLP endpoint is named (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
`OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`), and not switched off by `OTEL_SDK_DISABLED=true`
or `OTEL_TRACES_EXPORTER=none`. This module imports nothing of OpenTelemetry: deciding that
tracing is off must cost a cold start nothing.

The variables are read from one mapping (the process environment by default) so that tests
and the local runner can pass their own; the exporter is then given explicit values rather
than left to read `os.environ` behind our back.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from aigw.names import SERVICE_NAME

TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
TRACES_TIMEOUT = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT"
SERVICE = "OTEL_SERVICE_NAME"
RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
# Sign exports with SigV4 for this AWS service even when the endpoint's host does not say so
# (e.g. a VPC endpoint of CloudWatch's OTLP traces endpoint): usually "xray".
SIGV4_SERVICE = "AIGW_OTEL_SIGV4_SERVICE"

# Seconds one export may take (retries included) unless the OTEL_* timeout says otherwise. The
# response of the request that ended the spans waits for the export (see listener.py), so a dead
# collector must cost little; the SDK's own default is 10 s.
DEFAULT_EXPORT_TIMEOUT_S = 3.0

# CloudWatch's OTLP traces endpoint, https://xray.<region>.amazonaws.com/v1/traces: SigV4, service xray.
_XRAY_HOST = re.compile(r"^xray\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


@dataclass(frozen=True, slots=True)
class ExportSettings:
    endpoint: str  # the full traces URL
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = DEFAULT_EXPORT_TIMEOUT_S
    resource: dict[str, str] = field(default_factory=dict)
    sigv4: tuple[str, str] | None = None  # (service, region) when exports are signed


def tracing_enabled(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(environ.get(TRACES_ENDPOINT, "").strip() or environ.get(ENDPOINT, "").strip())


def traces_endpoint(environ: Mapping[str, str]) -> str:
    """The signal-specific variable is used as is; the generic one gets `/v1/traces` appended
    (the OTLP exporter specification's rule)."""
    specific = environ.get(TRACES_ENDPOINT, "").strip()
    if specific:
        return specific
    return environ.get(ENDPOINT, "").strip().rstrip("/") + "/v1/traces"


def parse_pairs(raw: str, *, lower: bool = False) -> dict[str, str]:
    """`key1=value1,key2=value2`, percent-encoded (W3C Baggage octets), as both OTEL_*_HEADERS
    and OTEL_RESOURCE_ATTRIBUTES are written; malformed entries are skipped rather than failing
    the process. Header names are case-insensitive (`lower`); attribute keys are not."""
    pairs: dict[str, str] = {}
    for item in raw.split(","):
        name, sep, value = item.partition("=")
        name = urllib.parse.unquote(name).strip()
        if sep and name:
            pairs[name.lower() if lower else name] = urllib.parse.unquote(value).strip()
    return pairs


def resource_attributes(environ: Mapping[str, str]) -> dict[str, str]:
    """service.name (OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES, default "aigw"),
    the other OTEL_RESOURCE_ATTRIBUTES, and what Lambda's own variables say about the function."""
    attributes: dict[str, str] = {"service.name": SERVICE_NAME}
    if environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        attributes.update({"cloud.provider": "aws", "cloud.platform": "aws_lambda",
                           "faas.name": environ["AWS_LAMBDA_FUNCTION_NAME"]})
        if environ.get("AWS_LAMBDA_FUNCTION_VERSION"):
            attributes["faas.version"] = environ["AWS_LAMBDA_FUNCTION_VERSION"]
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region and "cloud.provider" in attributes:
        attributes["cloud.region"] = region
    attributes.update(parse_pairs(environ.get(RESOURCE_ATTRIBUTES, "")))
    service = environ.get(SERVICE, "").strip()
    if service:
        attributes["service.name"] = service
    return attributes


def _timeout_s(environ: Mapping[str, str]) -> float:
    raw = environ.get(TRACES_TIMEOUT, "").strip() or environ.get(TIMEOUT, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_EXPORT_TIMEOUT_S
    except ValueError:
        value = DEFAULT_EXPORT_TIMEOUT_S
    # The Python exporter reads these variables in seconds; a value that is plainly milliseconds
    # (the specification's unit, e.g. 10000) is taken as such rather than as hours.
    return value / 1000 if value > 300 else value if value > 0 else DEFAULT_EXPORT_TIMEOUT_S


def sigv4_for(endpoint: str, environ: Mapping[str, str]) -> tuple[str, str] | None:
    host = (urllib.parse.urlsplit(endpoint).hostname or "").lower()
    match = _XRAY_HOST.match(host)
    forced = environ.get(SIGV4_SERVICE, "").strip()
    if forced:
        region = match.group(1) if match else (environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "")
        return (forced, region) if region else None
    return ("xray", match.group(1)) if match else None


def export_settings(environ: Mapping[str, str]) -> ExportSettings:
    endpoint = traces_endpoint(environ)
    headers = parse_pairs(environ.get(TRACES_HEADERS, "") or environ.get(HEADERS, ""), lower=True)
    return ExportSettings(endpoint=endpoint, headers=headers, timeout_s=_timeout_s(environ),
                          resource=resource_attributes(environ), sigv4=sigv4_for(endpoint, environ))
