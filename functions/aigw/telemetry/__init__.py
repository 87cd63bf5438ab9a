"""OpenTelemetry traces in the GenAI semantic conventions (docs/DESIGN.md §6).

On only when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set
(honouring `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
`OTEL_TRACES_SAMPLER`). When off, nothing of OpenTelemetry is imported, and nothing here
costs a request anything: this module and everything it imports at the top are free of it.

Three pieces, wired once per process:
  listener_from_env()            the `Listener` that builds the spans (observer.listeners)
  build_tap_stage(deps)          a pass-through output filter noting a stream's id, model and
                                 finish reasons (first in STAGE_BUILDERS; None when off)
  export_before_response_end()   wraps the ASGI app so a response ends only once its spans
                                 are exported: a frozen Lambda neither loses nor delays them
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aigw.telemetry.settings import tracing_enabled

if TYPE_CHECKING:
    from aigw.config.models import TelemetryConfig
    from aigw.observability import Listener, Observer
    from aigw.services import StageDeps
    from aigw.telemetry.tap import ResponseTap

__all__ = ["build_tap_stage", "export_before_response_end", "listener_from_env", "tracing_enabled"]

_log = logging.getLogger(__name__)


def listener_from_env(config: TelemetryConfig | None = None, *, environ: Mapping[str, str] | None = None,
                      session: Any = None) -> Listener | None:
    """The tracing listener, or None when no OTLP endpoint is configured (or the SDK is not
    installed: `pip install 'aigw[otel]'`; a warning says so rather than failing the start).
    `session` replaces the exporter's HTTP session (tests)."""
    env = os.environ if environ is None else environ
    if not tracing_enabled(env):
        return None
    try:
        from aigw.telemetry.listener import TraceListener
    except ImportError as exc:
        _log.warning("an OTLP endpoint is set but OpenTelemetry is not installed (pip install 'aigw[otel]'); "
                     "tracing is off: %s", exc)
        return None
    return TraceListener.from_env(config, env, session=session)


def _tracing(observer: Observer) -> Any:
    return next((item for item in observer.listeners if callable(getattr(item, "export_pending", None))), None)


def build_tap_stage(deps: StageDeps) -> ResponseTap | None:
    """STAGE_BUILDERS entry: the response tap when a tracing listener is installed."""
    listener = _tracing(deps.observer)
    tap: ResponseTap | None = getattr(listener, "response_tap", None)
    return tap


def export_before_response_end(app: Any, observer: Observer) -> Any:
    """`app`, wrapped so that each response's end waits for its spans' export when tracing is
    on; `app` itself when it is off."""
    listener = _tracing(observer)
    if listener is None:
        return app
    from aigw.telemetry.asgi import ExportBeforeResponseEnd

    return ExportBeforeResponseEnd(app, listener.export_pending)
