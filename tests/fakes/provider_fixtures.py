"""Fixtures for the provider and routing tests: fake upstreams (one server per session) and
a gateway factory that also stores the provider credentials those fakes expect."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aigw.local.environment import LocalAws, serve_in_thread
from tests.conftest import put_secret
from tests.fakes.anthropic_upstream import FakeAnthropic

CREDENTIALS = {
    "anthropic-test": '{"api_key": "sk-ant-test"}',
    "gemini-test": '{"api_key": "gm-test"}',
    "azure-test": '{"api_key": "az-test"}',
}


class Served:
    def __init__(self, fake: Any, url: str) -> None:
        self.fake = fake
        self.url = url


@pytest.fixture(scope="session")
def fake_anthropic_server() -> Iterator[Served]:
    fake = FakeAnthropic()
    server = serve_in_thread(fake.app())
    yield Served(fake, server.url)
    server.stop()


@pytest.fixture
def fake_anthropic(fake_anthropic_server: Served) -> Served:
    fake_anthropic_server.fake.calls.clear()
    fake_anthropic_server.fake.slow_s = 1.5
    fake_anthropic_server.fake.delays.clear()
    fake_anthropic_server.fake.failing.clear()
    return fake_anthropic_server


@pytest.fixture
def provider_gateway(make_gateway: Any, local_aws: LocalAws) -> Any:
    """`make_gateway` plus the credentials of every fake provider."""
    for name, value in CREDENTIALS.items():
        put_secret(local_aws, name, value)
    return make_gateway


@pytest.fixture(scope="session")
def fake_bedrock_server() -> Iterator[Served]:
    from tests.fakes.bedrock_upstream import FakeBedrock

    fake = FakeBedrock()
    server = serve_in_thread(fake.app())
    yield Served(fake, server.url)
    server.stop()


@pytest.fixture
def fake_bedrock(fake_bedrock_server: Served) -> Served:
    fake_bedrock_server.fake.calls.clear()
    fake_bedrock_server.fake.slow_s = 1.5
    return fake_bedrock_server


def last_record(gw: Any, count: int = 1, timeout_s: float = 3.0) -> dict[str, Any]:
    """The newest request log record, once at least `count` exist: a stream's record is
    written when the stream settles, which may be just after the client saw its end."""
    import time

    deadline = time.monotonic() + timeout_s
    while len(gw.records) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(gw.records) >= count, "no request record"
    record: dict[str, Any] = gw.records[-1]
    return record


@pytest.fixture(scope="session")
def fake_gemini_server() -> Iterator[Served]:
    from tests.fakes.gemini_upstream import FakeGemini

    fake = FakeGemini()
    server = serve_in_thread(fake.app())
    yield Served(fake, server.url)
    server.stop()


@pytest.fixture
def fake_gemini(fake_gemini_server: Served) -> Served:
    fake_gemini_server.fake.calls.clear()
    fake_gemini_server.fake.slow_s = 1.5
    return fake_gemini_server


@pytest.fixture(scope="session")
def fake_azure_server() -> Iterator[Served]:
    from tests.fakes.azure_upstream import FakeAzure

    fake = FakeAzure()
    fake.openai.slow_s = 1.5
    server = serve_in_thread(fake.app())
    yield Served(fake, server.url)
    server.stop()


@pytest.fixture
def fake_azure(fake_azure_server: Served) -> Served:
    fake_azure_server.fake.calls.clear()
    return fake_azure_server
