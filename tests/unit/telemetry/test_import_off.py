"""Tracing off costs a cold start nothing: the Lambda entry module, imported with no OTLP
endpoint, imports no OpenTelemetry module at all; with one, the listener is wired and the app
wrapped. Run in fresh interpreters, since this test process has OpenTelemetry loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import json, sys
import main
print(json.dumps({"otel": sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry"),
                  "app": type(main.app).__name__,
                  "listeners": [type(l).__name__ for l in main.services.pipeline.observer.listeners],
                  "stages": [s.name for s in main.services.pipeline.stages]}))
"""


def probe(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "AIGW_CONFIG"}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT / "functions" / "gateway", capture_output=True,
                         text=True, check=True, timeout=120,
                         env={**clean, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(ROOT / "functions"), **env})
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_off_imports_no_opentelemetry_module() -> None:
    off = probe()
    assert off["otel"] == []
    assert off["listeners"] == [] and off["app"] == "GatewayApp"  # the app itself, not a tracing wrapper
    assert "telemetry" not in off["stages"]  # type: ignore[operator]


def test_disabled_explicitly_imports_nothing_either() -> None:
    off = probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318", OTEL_SDK_DISABLED="true")
    assert off["otel"] == [] and off["listeners"] == []


def test_on_wires_the_listener_the_tap_and_the_export_before_response_end() -> None:
    on = probe(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:4318/v1/traces")
    assert on["otel"] != []
    assert on["listeners"] == ["TraceListener"]
    assert on["app"] == "ExportBeforeResponseEnd"
    assert on["stages"][0] == "telemetry"  # type: ignore[index]
