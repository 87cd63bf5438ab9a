"""The extension thread and the post-response wrapper against the fake Runtime/Extensions API."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from aigw.config.models import ServerSettings
from aigw.lambda_ext import install
from aigw.lambda_ext.deferred import PostResponse, Tracker, defer
from aigw.lambda_ext.extension import SettlementExtension
from tests.fakes.lambda_runtime import FakeLambda

DETAILS = {"request_id": "req_1", "key_id": "key_1", "counters": ["b#team#t/month#2026-12"], "reserved_usd": "0.5"}


@pytest.fixture
def fake() -> Iterator[FakeLambda]:
    fake = FakeLambda().start()
    yield fake
    fake.stop()


def extension(fake: FakeLambda, tracker: Tracker) -> SettlementExtension:
    return SettlementExtension(tracker, runtime_api=fake.address, events=("INVOKE", "SHUTDOWN")).start()


def test_shutdown_waits_for_pending_settlement(fake: FakeLambda) -> None:
    tracker = Tracker()
    tracker.pending(1, DETAILS)
    ext = extension(fake, tracker)
    fake.wait_extension_next(1)
    fake.shutdown(within_s=5)
    released = threading.Event()

    def finish() -> None:
        time.sleep(0.3)
        released.set()
        tracker.pending(1, None)

    threading.Thread(target=finish).start()
    ext.join(5)
    assert released.is_set()  # the thread ended only after the write finished
    assert ext._thread is not None and not ext._thread.is_alive()


def test_shutdown_deadline_logs_what_to_reconcile(fake: FakeLambda, caplog: pytest.LogCaptureFixture) -> None:
    tracker = Tracker()
    tracker.pending(1, DETAILS)
    ext = extension(fake, tracker)
    fake.wait_extension_next(1)
    started = time.monotonic()
    fake.shutdown(within_s=0.3)
    with caplog.at_level(logging.ERROR, logger="aigw.lambda_ext"):
        ext.join(5)
    assert time.monotonic() - started < 2
    [record] = [r for r in caplog.records if "shutdown with deferred settlements pending" in r.getMessage()]
    assert record.reconcile == DETAILS  # type: ignore[attr-defined]


def test_invoke_waits_for_its_own_request(fake: FakeLambda) -> None:
    tracker = Tracker()
    extension(fake, tracker)
    fake.wait_extension_next(1)
    request_id = fake.invoke({})
    tracker.started("someone-else")  # another id finishing does not release this invocation
    tracker.finished("someone-else")
    tracker.started(request_id)
    time.sleep(0.2)
    assert len(fake.extension_next) == 1  # in flight: no next
    tracker.pending(7, DETAILS)
    tracker.finished(request_id)
    time.sleep(0.2)
    assert len(fake.extension_next) == 1  # response sent, settlement pending: still no next
    tracker.pending(7, None)
    fake.wait_extension_next(2, timeout=2)


def test_invoke_deadline_releases_and_logs(fake: FakeLambda, caplog: pytest.LogCaptureFixture) -> None:
    tracker = Tracker()
    extension(fake, tracker)
    fake.wait_extension_next(1)
    tracker.pending(1, DETAILS)
    with caplog.at_level(logging.ERROR, logger="aigw.lambda_ext"):
        fake.invoke({}, timeout_s=0.3)
        fake.wait_extension_next(2, timeout=3)
    assert any("environment released" in r.getMessage() for r in caplog.records)


def test_no_registration_after_init_means_inline_settlement(fake: FakeLambda, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", fake.address)
    fake.init_done = True  # the runtime already called next: Lambda refuses the registration
    app = object()
    with caplog.at_level(logging.ERROR, logger="aigw.lambda_ext"):
        assert install(app, ServerSettings(settle_after_response=True)) is app
    assert "did not register" in caplog.text
    assert install(app, ServerSettings()) is app


def deferring_app(work: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert defer(SimpleNamespace(request_id="req_2", key=SimpleNamespace(key_id="key_2")), work)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})
    return app


async def test_deferred_work_runs_after_the_body_and_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    order: list[str] = []

    async def slow() -> None:
        order.append("settle")
        await asyncio.sleep(5)

    tracker = Tracker()
    wrapped = PostResponse(deferring_app(slow), tracker, timeout_s=0.1)
    sent: list[str] = []

    async def send(message: Any) -> None:
        sent.append(message["type"])
        order.append(message["type"])

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    with caplog.at_level(logging.ERROR, logger="aigw.lambda_ext"):
        await wrapped({"type": "http", "path": "/v1/chat/completions", "headers": []}, receive, send)
    assert order == ["http.response.start", "http.response.body", "settle"]
    [record] = [r for r in caplog.records if "not completed" in r.getMessage()]
    assert record.reconcile["request_id"] == "req_2"  # type: ignore[attr-defined]
    assert tracker.drain(time.monotonic())  # nothing left pending or in flight


def test_defer_without_the_wrapper_is_refused() -> None:
    async def work() -> None:
        pass

    assert defer(object(), work) is False


async def test_asgi_transport_sees_the_response() -> None:
    done: list[bool] = []

    async def work() -> None:
        done.append(True)

    wrapped = PostResponse(deferring_app(work))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="http://gw") as client:
        answer = await client.post("/v1/chat/completions")
    assert answer.status_code == 200 and done == [True]


def test_details_made_only_when_logged_and_a_failure_to_make_them_is_logged_too(
        fake: FakeLambda, caplog: pytest.LogCaptureFixture) -> None:
    """The wrapper hands the tracker what makes a request's details (most requests never need
    them): made when logged, at the deadline; one that cannot be made still leaves its line."""
    made: list[int] = []

    def details() -> dict[str, Any]:
        made.append(1)
        return DETAILS

    def broken() -> dict[str, Any]:
        raise RuntimeError("the loop was changing it")

    tracker = Tracker()
    tracker.pending(1, details)
    tracker.pending(2, broken)
    assert made == []  # nothing made while the work is pending
    ext = extension(fake, tracker)
    fake.wait_extension_next(1)
    fake.shutdown(within_s=0.3)
    with caplog.at_level(logging.ERROR, logger="aigw.lambda_ext"):
        ext.join(5)
    logged = [r.reconcile for r in caplog.records  # type: ignore[attr-defined]
              if "shutdown with deferred settlements pending" in r.getMessage()]
    assert logged == [DETAILS, {"details_unavailable": "RuntimeError"}] and made == [1]
