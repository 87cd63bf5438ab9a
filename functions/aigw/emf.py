"""The request's log line and its CloudWatch EMF documents, written directly.

Powertools' `Logger` and `EphemeralMetrics` produce exactly these shapes, but per request they
cost a LogRecord, a formatter pass with an environment read, and a debug log call per metric:
about a tenth of the gateway's CPU on the hot path. Here each is one dict and one encode (aigw/fastjson.py).
`tests/unit/test_emf.py` pins both against Powertools' own output, so the format cannot drift.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

from aigw.fastjson import dumps_text

XRAY_TRACE_ENV = "_X_AMZN_TRACE_ID"
# Under Lambda Web Adapter the gateway is a child process started once, at init, so the
# invocation's `_X_AMZN_TRACE_ID` is set in the adapter's process and never in ours. The adapter
# (lambda_http) copies it onto each request it forwards as this header; a request's log line
# takes its trace id from there (an ALB or API Gateway in front sets the same header).
XRAY_TRACE_HEADER = "x-amzn-trace-id"
_XRAY_ROOT = re.compile(r"(?:^|;)\s*Root=(1-[0-9a-f]{8}-[0-9a-f]{24})\s*(?:;|$)")
_dumps = dumps_text


def slow_log_timestamp(now: float) -> str:
    """Powertools' UTC format: `2026-12-01 09:31:55,995+0000`."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f",{int(now * 1000) % 1000:03d}+0000"


_last_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text; one tuple,
# replaced whole, so a thread never pairs one second's number with another's text


_MILLIS = tuple(f",{ms:03d}+0000" for ms in range(1000))  # the format machinery, cold, cost 15 us a line


def log_timestamp(now: float) -> str:
    """`slow_log_timestamp`, formatting the date and time once per second (strftime was a
    tenth of the log line's cost)."""
    global _last_second
    if now < 0:
        return slow_log_timestamp(now)
    second, text = _last_second
    if second != int(now):
        second = int(now)
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        _last_second = (second, text)
    return text + _MILLIS[int(now * 1000) % 1000]


_environ_data = getattr(os.environ, "_data", None)  # os.environ's own dict (CPython), or None
_TRACE_KEY = os.environ.encodekey(XRAY_TRACE_ENV) if _environ_data is not None else None


def trace_header() -> str | None:
    """`os.environ.get(XRAY_TRACE_ENV)` without the KeyError `os.environ` raises and catches
    inside when the variable is unset, as it is for every request outside a traced Lambda
    function (17 us with cold caches)."""
    if _environ_data is None:
        return os.environ.get(XRAY_TRACE_ENV)
    raw = _environ_data.get(_TRACE_KEY)
    return None if raw is None else os.environ.decodevalue(raw)


def xray_root(header: str | None) -> str | None:
    """The trace id (the `Root`) of an X-Ray trace header: `Root=1-...;Parent=...;Sampled=1`, or
    an ALB's `Self=1-...;Root=1-...`. None unless it is in X-Ray's form: off Lambda a client can
    send the header, and what it sends goes into no log line."""
    if not header or len(header) > 256:
        return None
    found = _XRAY_ROOT.search(header)
    return found.group(1) if found else None


def log_line(level: str, location: str, message: str, service: str, fields: Mapping[str, Any],
             now: float | None = None, trace_id: str | None = None) -> str:
    """With no `trace_id`, the trace of this process's environment, as Powertools reads it (a
    runtime that sets `_X_AMZN_TRACE_ID` per invocation in the process that logs)."""
    line: dict[str, Any] = {"level": level, "location": location, "message": message,
                            "timestamp": log_timestamp(time.time() if now is None else now), "service": service}
    for name, value in fields.items():
        if value is not None:
            line[name] = value
    if trace_id is None:
        trace = trace_header()
        if trace:
            trace_id = trace.split(";")[0].replace("Root=", "")
    if trace_id:
        line["xray_trace_id"] = trace_id
    return _dumps(line)


def emf_document(namespace: str, dimension_sets: Iterable[Iterable[str]], dimensions: Mapping[str, str],
                 metrics: Iterable[tuple[str, str, float]], metadata: Mapping[str, Any] | None = None,
                 timestamp_ms: int | None = None, scalar: bool = False) -> str:
    """One EMF document: `metrics` are (name, unit, value); each value as a one-element list
    (Powertools' shape), or as a plain number with `scalar`."""
    listed = list(metrics)
    timestamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    sets = tuple([tuple(s) for s in dimension_sets])
    rest: dict[str, Any] = dict(dimensions)
    if metadata:
        rest.update(metadata)
    for name, _, value in listed:
        rest[name] = value if scalar else [float(value)]
    declared = (namespace, sets, tuple([(name, unit) for name, unit, _ in listed]))
    if "_aws" in rest:  # a field that would replace the declaration: the document as a dict decides
        document: dict[str, Any] = {"_aws": {"Timestamp": timestamp, "CloudWatchMetrics": _declaration(declared)}}
        document.update(rest)
        return _dumps(document)
    text = _declared.get(declared)
    if text is None:  # the same few metric sets on every request: encoded once each
        text = _dumps(_declaration(declared))
        if len(_declared) >= 256:
            _declared.clear()
        _declared[declared] = text
    head = f'{{"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":{text}}}'
    return head + "," + _dumps(rest)[1:] if rest else head + "}"


_Declared = tuple[str, tuple[tuple[str, ...], ...], tuple[tuple[str, str], ...]]
_declared: dict[_Declared, str] = {}  # a document's CloudWatchMetrics, encoded


def _declaration(declared: _Declared) -> list[dict[str, Any]]:
    namespace, sets, metrics = declared
    return [{"Namespace": namespace, "Dimensions": [list(s) for s in sets],
             "Metrics": [{"Name": name, "Unit": unit} for name, unit in metrics]}]


class LineWriter:
    """Writes whole lines to a stream in one call each (no interleaving between requests)."""

    __slots__ = ("_write",)

    def __init__(self, stream: TextIO) -> None:
        self._write = stream.write

    def write(self, *lines: str) -> None:
        if lines:
            self._write("\n".join(lines) + "\n")
