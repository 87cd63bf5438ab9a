"""Where a crossed budget threshold goes: a `budget_alert` log line, and an EventBridge event.

The log line is written at once, everywhere (locally it is the alert). On AWS (on Lambda, or
with $AIGW_EVENT_BUS set, or an EventBridge client injected) each alert is also one event on
the bus $AIGW_EVENT_BUS (default "default"):

    source "aigw", detail-type "aigw.budget.threshold",
    detail {"scope", "id", "period", "period_type", "threshold", "unit", "spent", "limit", "request_id"}

PutEvents runs in a worker thread that the settlement starts and never awaits: a client's
answer waits for no alert. A failure (the call, or an entry EventBridge refused after the
retries) is logged as `budget_alert_not_sent` with the whole alert: never lost silently. On
Lambda the environment freezes once a response is complete, perhaps with the call in flight;
`send_before_response_end` makes a response's end wait for the alerts still being sent
(bounded by DRAIN_TIMEOUT_S), as the trace export does (aigw/telemetry/asgi.py). That wait
happens only in the few responses that crossed a threshold or overlapped one that did.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aigw.budgets.alerts import BudgetAlert
from aigw.names import ALERT_DETAIL_TYPE, ALERT_EVENT_SOURCE, DEFAULT_EVENT_BUS, ENV_EVENT_BUS

if TYPE_CHECKING:
    from aigw.services import Services, StageDeps

DRAIN_TIMEOUT_S = 8.0
PUT_ATTEMPTS = 3  # for entries EventBridge refused (throttling, internal failures): botocore retries the call
MAX_ENTRIES = 10  # per PutEvents call


class AlertSender:
    def __init__(self, logger: Any, *, events: Callable[[], Any] | None = None, bus: str = DEFAULT_EVENT_BUS,
                 drain_timeout_s: float = DRAIN_TIMEOUT_S, sleep: Callable[[float], None] = time.sleep) -> None:
        self._logger = logger
        self._events = events  # the EventBridge client factory; None: log lines only
        self.bus = bus
        self._drain_timeout_s = drain_timeout_s
        self._sleep = sleep
        self._pending: set[asyncio.Future[None]] = set()

    @property
    def sends_events(self) -> bool:
        return self._events is not None

    def send(self, alerts: Sequence[BudgetAlert], *, request_id: str) -> None:
        """Log each alert now; put the events from a worker thread (call on the event loop)."""
        details = [{**a.detail(), "request_id": request_id} for a in alerts]
        for detail in details:
            self._logger.warning("budget_alert", extra=detail)
        if self._events is None or not details:
            return
        future = asyncio.get_running_loop().run_in_executor(None, self.put, details)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)

    def put(self, details: Sequence[Mapping[str, Any]]) -> None:
        """PutEvents for these alerts, in calls of MAX_ENTRIES; blocking. Never raises."""
        for start in range(0, len(details), MAX_ENTRIES):
            chunk = list(details[start:start + MAX_ENTRIES])
            for attempt in range(1, PUT_ATTEMPTS + 1):
                try:
                    response = self._events().put_events(Entries=[self._entry(d) for d in chunk])  # type: ignore[misc]
                except Exception as exc:
                    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code") or type(exc).__name__
                    for detail in chunk:
                        self._not_sent(detail, str(code), str(exc))
                    break
                results = response.get("Entries") or []
                failed = [(d, r) for d, r in zip(chunk, results, strict=False) if r.get("ErrorCode")]
                if len(results) < len(chunk):  # not EventBridge's contract; never guess which went
                    failed += [(d, {"ErrorCode": "MissingEntry"}) for d in chunk[len(results):]]
                if not failed:
                    break
                if attempt == PUT_ATTEMPTS:
                    for detail, result in failed:
                        self._not_sent(detail, str(result.get("ErrorCode")), str(result.get("ErrorMessage") or ""))
                    break
                chunk = [d for d, _ in failed]
                self._sleep(0.05 * 2 ** attempt)

    def _entry(self, detail: Mapping[str, Any]) -> dict[str, Any]:
        return {"Source": ALERT_EVENT_SOURCE, "DetailType": ALERT_DETAIL_TYPE, "Detail": json.dumps(detail),
                "EventBusName": self.bus}

    def _not_sent(self, detail: Mapping[str, Any], error: str, message: str) -> None:
        self._logger.error("budget_alert_not_sent", extra={**detail, "event_bus": self.bus, "error": error,
                                                           "error_message": message[:500]})

    async def drain(self) -> None:
        """Wait (bounded) for the events still being sent."""
        pending = list(self._pending)
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=self._drain_timeout_s)
        if late:  # still running: they will finish (and log a failure) on their own
            self._logger.warning("budget_alert_send_slow", extra={"pending": len(late), "event_bus": self.bus})


def events_enabled(environ: Mapping[str, str]) -> bool:
    """EventBridge is where alerts go on AWS: on Lambda, or wherever a bus is named."""
    return bool(environ.get(ENV_EVENT_BUS)) or bool(environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def sender_for(deps: StageDeps, environ: Mapping[str, str] | None = None) -> AlertSender:
    env = os.environ if environ is None else environ
    on = deps.aws.events is not None or events_enabled(env)
    return AlertSender(deps.observer.logger, events=deps.aws.events_client if on else None,
                       bus=env.get(ENV_EVENT_BUS) or DEFAULT_EVENT_BUS)


def send_before_response_end(app: Any, services: Services) -> Any:
    """`app`, wrapped so a response ends only once the alerts in flight are sent (Lambda), when
    alerts go to EventBridge; `app` itself otherwise."""
    sender = next((s for stage in services.pipeline.stages
                   if isinstance(s := getattr(stage, "alert_sender", None), AlertSender)), None)
    if sender is None or not sender.sends_events:
        return app
    from aigw.telemetry.asgi import ExportBeforeResponseEnd

    return ExportBeforeResponseEnd(app, sender.drain)
