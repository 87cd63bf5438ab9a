"""Settlement after the response, end to end: the gateway under uvicorn, its internal extension
registered with a fake Lambda (Runtime + Extensions API), the test playing Lambda Web Adapter
(runtime `next` -> HTTP request with x-amzn-lambda-context -> runtime `response`), and a
counter store whose settlement write is slow."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from aigw.budgets.spec import Budget
from aigw.config import load_config
from aigw.errors import UpstreamError
from aigw.gateway import build_services
from aigw.http.app import create_app
from aigw.lambda_ext import install
from aigw.local.environment import create_key, serve_in_thread
from aigw.observability import Observer
from aigw.providers.base import ChatCall, ChatResult
from aigw.providers.mock import MockProvider
from tests.fakes.lambda_runtime import RUNTIME, FakeLambda
from tests.functional.budgets.helpers import put_scope_limits

# The settlement TransactWriteItems takes this long: long enough that a scheduler stall on a
# busy CI machine (one of 440 ms was seen) is not mistaken for an answer that waited for it.
SLOW_S = 1.0
MODELS = [{"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]}]
BODY = {"model": "mock-fast", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


class SlowSettlement:
    """Wraps the counter store's transact: settlement writes (token "s...") take SLOW_S."""

    def __init__(self, store: Any) -> None:
        self.real = store.transact
        self.done: list[float] = []
        store.transact = self

    def __call__(self, items: Any, *, token: str | None = None) -> Any:
        if token is not None and token.startswith("s"):
            time.sleep(SLOW_S)
            result = self.real(items, token=token)
            self.done.append(time.monotonic())
            return result
        return self.real(items, token=token)


@pytest.fixture
def fake_lambda(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLambda]:
    fake = FakeLambda().start()
    monkeypatch.setenv("AWS_LAMBDA_RUNTIME_API", fake.address)
    yield fake
    fake.stop()


class Refusing(MockProvider):
    """An upstream that answers 400: the reservation is released (settled at zero)."""

    async def complete(self, call: ChatCall) -> ChatResult:
        raise UpstreamError("the upstream refused the request", status=400, upstream_status=400)


def gateway(local_aws: Any, *, settle_after_response: bool,
            **kwargs: Any) -> tuple[Any, SlowSettlement, str, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    config = {"models": MODELS, "settings": {"settle_after_response": settle_after_response}}
    services = build_services(load_config(config), aws=local_aws.aws, observer=Observer(sink=records.append),
                              **kwargs)
    admission = next(s for s in services.pipeline.stages if s.name == "admission")
    slow = SlowSettlement(admission.admission.store)  # type: ignore[attr-defined]
    server = serve_in_thread(install(create_app(services), services.config.settings))
    team = "sar-" + uuid.uuid4().hex[:6]
    put_scope_limits(local_aws, "team", team, budgets=[Budget(period="month", limit_usd=Decimal(10))])
    key, _ = create_key(local_aws.aws, team=team)
    return server, slow, key, records


def lwa_invoke(fake: FakeLambda, url: str, key: str,
               body: dict[str, Any] = BODY) -> tuple[str, float, httpx.Response]:
    """One invocation as Lambda Web Adapter runs it; returns (request id, client latency, response):
    the latency is until the response has ended (a stream's terminating chunk included)."""
    fake.invoke({"version": "2.0", "rawPath": "/v1/chat/completions"})
    with httpx.Client(timeout=10) as rt:
        nxt = rt.get(f"http://{fake.address}{RUNTIME}/invocation/next")
        request_id = nxt.headers["Lambda-Runtime-Aws-Request-Id"]
        context = json.dumps({"request_id": request_id, "deadline": int(nxt.headers["Lambda-Runtime-Deadline-Ms"])})
        started = time.monotonic()
        answer = httpx.post(url + "/v1/chat/completions", json=body, timeout=10,
                            headers={"authorization": f"Bearer {key}", "x-amzn-lambda-context": context})
        latency = time.monotonic() - started
        rt.post(f"http://{fake.address}{RUNTIME}/invocation/{request_id}/response", content=answer.content)
    return request_id, latency, answer


def test_client_gets_its_answer_before_settlement_and_the_extension_waits_for_it(
        local_aws: Any, fake_lambda: FakeLambda) -> None:
    server, slow, key, records = gateway(local_aws, settle_after_response=True)
    try:
        assert len(fake_lambda.extensions) == 1  # registered during Init (before the runtime's next)
        init_next = fake_lambda.wait_extension_next(1)
        for n in range(3):  # the first one also warms the key, limits and tokenizer caches
            request_id, latency, answer = lwa_invoke(fake_lambda, server.url, key)
            assert answer.status_code == 200, answer.text
            answered = time.monotonic()
            assert len(slow.done) == n, "the response waited for the settlement write"
            assert n == 0 or latency < SLOW_S
            released = fake_lambda.wait_extension_next(n + 2)
            assert len(slow.done) == n + 1
            assert released >= slow.done[-1] > answered  # next only once the write finished
            assert fake_lambda.responses[request_id][0] < slow.done[-1]
        assert init_next < released
        assert len(records) == 3 and records[-1]["charged_usd"] != "0"  # the log line was written after settling
        sent, total = records[-1]["response_sent_ms"], records[-1]["latency_ms"]
        assert sent < total - SLOW_S * 1000 * 0.9  # the log line says what the client waited
    finally:
        server.stop()


def test_a_stream_ends_before_its_settlement_and_the_extension_waits_for_it(
        local_aws: Any, fake_lambda: FakeLambda) -> None:
    """A stream's client waits for the response to end, not for `[DONE]` (the SDKs read on until
    it closes): with the setting on, the terminating chunk goes before the settlement too."""
    server, slow, key, records = gateway(local_aws, settle_after_response=True)
    try:
        fake_lambda.wait_extension_next(1)
        for n in range(3):
            _, latency, answer = lwa_invoke(fake_lambda, server.url, key, {**BODY, "stream": True})
            answered = time.monotonic()
            assert answer.status_code == 200
            assert answer.text.rstrip().endswith("data: [DONE]"), answer.text[-200:]
            assert len(slow.done) == n, "the stream's end waited for the settlement write"
            assert n == 0 or latency < SLOW_S
            released = fake_lambda.wait_extension_next(n + 2)
            assert len(slow.done) == n + 1
            assert released >= slow.done[-1] > answered
        assert len(records) == 3 and records[-1]["stream"] and records[-1]["charged_usd"] != "0"
        assert records[-1]["response_sent_ms"] < records[-1]["latency_ms"] - SLOW_S * 1000 * 0.9
    finally:
        server.stop()


def test_setting_off_keeps_settlement_on_the_critical_path(local_aws: Any, fake_lambda: FakeLambda) -> None:
    server, slow, key, _ = gateway(local_aws, settle_after_response=False)
    try:
        assert fake_lambda.extensions == {}  # nothing registered: nothing changes
        for n in range(2):
            started = time.monotonic()
            answer = httpx.post(server.url + "/v1/chat/completions", json=BODY, timeout=10,
                                headers={"authorization": f"Bearer {key}"})
            answered = time.monotonic()
            assert answer.status_code == 200
            assert len(slow.done) == n + 1 and slow.done[-1] <= answered
            assert answered - started >= SLOW_S
    finally:
        server.stop()


def test_without_the_lambda_header_the_next_request_releases_the_invocation(
        local_aws: Any, fake_lambda: FakeLambda) -> None:
    server, slow, key, _ = gateway(local_aws, settle_after_response=True)
    try:
        fake_lambda.wait_extension_next(1)
        fake_lambda.invoke({})
        done = threading.Event()

        def lwa() -> None:  # an adapter that does not pass the Lambda context header
            with httpx.Client(timeout=10) as rt:
                nxt = rt.get(f"http://{fake_lambda.address}{RUNTIME}/invocation/next")
                answer = httpx.post(server.url + "/v1/chat/completions", json=BODY, timeout=10,
                                    headers={"authorization": f"Bearer {key}"})
                rt.post(f"http://{fake_lambda.address}{RUNTIME}/invocation/"
                        f"{nxt.headers['Lambda-Runtime-Aws-Request-Id']}/response", content=answer.content)
            done.set()

        threading.Thread(target=lwa, daemon=True).start()
        released = fake_lambda.wait_extension_next(2)
        assert done.wait(5)
        assert slow.done and released >= slow.done[0]
    finally:
        server.stop()


def test_an_upstream_error_is_answered_first_and_its_reservation_still_released(
        local_aws: Any, fake_lambda: FakeLambda) -> None:
    server, slow, key, records = gateway(local_aws, settle_after_response=True, providers={"mock": Refusing()})
    try:
        fake_lambda.wait_extension_next(1)
        for n in range(2):
            _, latency, answer = lwa_invoke(fake_lambda, server.url, key)
            assert answer.status_code == 400 and answer.json()["error"]["message"]
            assert len(slow.done) == n
            assert n == 0 or latency < SLOW_S
            released = fake_lambda.wait_extension_next(n + 2)
            assert len(slow.done) == n + 1 and released >= slow.done[-1]
        assert records[-1]["status"] == 400 and records[-1]["charged_usd"] == "0"
    finally:
        server.stop()
