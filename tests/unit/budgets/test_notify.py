"""Where alerts go: the log line always, EventBridge PutEvents (checked against the service's
own request and response shapes by botocore's Stubber) off the event loop, failures logged."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aigw.budgets.alerts import BudgetAlert
from aigw.budgets.notify import AlertSender, events_enabled

ALERT = BudgetAlert("team", "research", "month", "2026-11", 80, "usd", Decimal("400.25"), Decimal(500))


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(record)

    def named(self, message: str) -> list[logging.LogRecord]:
        return [r for r in self.seen if r.getMessage() == message]


@pytest.fixture
def records() -> Records:
    handler = Records()
    logger = logging.getLogger("test.aigw.alerts")
    logger.handlers = [handler]
    logger.propagate = False
    return handler


def events_client() -> tuple[Any, Stubber]:
    client = boto3.client("events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def entry(detail: dict[str, Any], bus: str = "default") -> dict[str, Any]:
    return {"Source": "aigw", "DetailType": "aigw.budget.threshold", "Detail": json.dumps(detail), "EventBusName": bus}


def detail(request_id: str = "req_1") -> dict[str, Any]:
    return {**ALERT.detail(), "request_id": request_id}


async def send_and_drain(sender: AlertSender, alerts: list[BudgetAlert]) -> None:
    sender.send(alerts, request_id="req_1")
    await sender.drain()


def test_log_only_when_no_bus(records: Records) -> None:
    sender = AlertSender(logging.getLogger("test.aigw.alerts"))
    asyncio.run(send_and_drain(sender, [ALERT]))
    (line,) = records.named("budget_alert")
    assert (line.scope, line.id, line.period, line.threshold, line.spent, line.limit) == (  # type: ignore[attr-defined]
        "team", "research", "2026-11", 80, 400.25, 500)
    assert not sender.sends_events


def test_put_events_off_the_loop_with_the_documented_shape(records: Records) -> None:
    client, stub = events_client()
    stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e1"}]},
                      {"Entries": [entry(detail(), bus="aigw-alerts")]})
    threads: list[str] = []
    original = client.put_events

    def put_events(**kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(**kwargs)

    client.put_events = put_events
    sender = AlertSender(logging.getLogger("test.aigw.alerts"), events=lambda: client, bus="aigw-alerts")
    with stub:
        asyncio.run(send_and_drain(sender, [ALERT]))
        stub.assert_no_pending_responses()
    assert threads and threads[0] != threading.main_thread().name
    assert len(records.named("budget_alert")) == 1 and not records.named("budget_alert_not_sent")


def test_a_refused_entry_is_retried_then_logged_never_dropped(records: Records) -> None:
    client, stub = events_client()
    failed = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]}
    for _ in range(3):
        stub.add_response("put_events", failed, {"Entries": [entry(detail())]})
    sender = AlertSender(logging.getLogger("test.aigw.alerts"), events=lambda: client, sleep=lambda s: None)
    with stub:
        asyncio.run(send_and_drain(sender, [ALERT]))
        stub.assert_no_pending_responses()
    (lost,) = records.named("budget_alert_not_sent")
    assert lost.error == "ThrottlingException" and lost.threshold == 80 and lost.levelno == logging.ERROR  # type: ignore[attr-defined]


def test_only_the_refused_entries_are_sent_again(records: Records) -> None:
    client, stub = events_client()
    other = BudgetAlert("key", "key_1", "day", "2026-11-25", 50, "tokens", Decimal(600), Decimal(1200))
    both = [entry(detail()), entry({**other.detail(), "request_id": "req_1"})]
    stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [
        {"EventId": "e1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]}, {"Entries": both})
    stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "e2"}]}, {"Entries": both[1:]})
    sender = AlertSender(logging.getLogger("test.aigw.alerts"), events=lambda: client, sleep=lambda s: None)
    with stub:
        asyncio.run(send_and_drain(sender, [ALERT, other]))
        stub.assert_no_pending_responses()
    assert not records.named("budget_alert_not_sent")


def test_a_failed_call_is_logged_with_the_whole_alert(records: Records) -> None:
    client, stub = events_client()
    stub.add_client_error("put_events", "AccessDeniedException", "not authorized to perform events:PutEvents")
    sender = AlertSender(logging.getLogger("test.aigw.alerts"), events=lambda: client)
    with stub:
        asyncio.run(send_and_drain(sender, [ALERT]))
    (lost,) = records.named("budget_alert_not_sent")
    assert lost.error == "AccessDeniedException" and "events:PutEvents" in lost.error_message  # type: ignore[attr-defined]
    assert (lost.scope, lost.id, lost.period, lost.spent) == ("team", "research", "2026-11", 400.25)  # type: ignore[attr-defined]


def test_drain_waits_for_the_events_in_flight_and_is_bounded(records: Records) -> None:
    release = threading.Event()

    class Slow:
        def put_events(self, **kwargs: Any) -> dict[str, Any]:
            release.wait(5)
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}

    sender = AlertSender(logging.getLogger("test.aigw.alerts"), events=Slow, drain_timeout_s=0.05)

    async def run() -> None:
        sender.send([ALERT], request_id="req_1")
        await sender.drain()  # times out: says so, and the send goes on
        assert records.named("budget_alert_send_slow")
        release.set()
        await sender.drain()

    asyncio.run(run())
    assert not records.named("budget_alert_not_sent")


def test_events_go_out_on_lambda_or_when_a_bus_is_named() -> None:
    assert not events_enabled({})
    assert events_enabled({"AWS_LAMBDA_FUNCTION_NAME": "gateway"})
    assert events_enabled({"AIGW_EVENT_BUS": "aigw-alerts"})


def test_a_response_ends_after_the_alerts_in_flight_only_when_they_go_to_eventbridge() -> None:
    from types import SimpleNamespace

    from aigw.budgets.notify import send_before_response_end
    from aigw.telemetry.asgi import ExportBeforeResponseEnd

    async def app(scope: Any, receive: Any, send: Any) -> None: ...

    def services(sender: AlertSender) -> Any:
        stages = [SimpleNamespace(name="cache"), SimpleNamespace(name="admission", alert_sender=sender)]
        return SimpleNamespace(pipeline=SimpleNamespace(stages=stages))

    logger = logging.getLogger("test.aigw.alerts")
    assert send_before_response_end(app, services(AlertSender(logger))) is app
    wrapped = send_before_response_end(app, services(AlertSender(logger, events=lambda: None)))
    assert isinstance(wrapped, ExportBeforeResponseEnd) and wrapped.app is app
