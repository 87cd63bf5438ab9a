"""Shared fixtures: moto in server mode (session), a fake OpenAI upstream (session), and a
factory that starts the gateway on a loopback port with a usable key."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# Never let a test reach real AWS or a real provider: fake credentials, no proxies.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
os.environ["NO_PROXY"] = "*"

from aigw.config import load_config
from aigw.gateway import Services, build_services
from aigw.http.app import create_app
from aigw.local.environment import LocalAws, ServerHandle, create_key, serve_in_thread, start_local_aws
from aigw.observability import Observer
from tests.fakes.openai_upstream import FakeOpenAI


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    local = start_local_aws(load_config({}))
    yield local
    local.stop()


def put_secret(local: LocalAws, name: str, value: str) -> None:
    client = local.aws.secrets_client()
    try:
        client.create_secret(Name=f"aigw/{name}", SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=f"aigw/{name}", SecretString=value)


@dataclass
class FakeUpstream:
    fake: FakeOpenAI
    server: ServerHandle

    @property
    def base_url(self) -> str:
        return self.server.url + "/v1"

    @property
    def calls(self) -> list[Any]:
        return self.fake.calls


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeUpstream]:
    fake = FakeOpenAI()
    server = serve_in_thread(fake.app())
    yield FakeUpstream(fake, server)
    server.stop()


@pytest.fixture
def fake_openai(fake_openai_server: FakeUpstream) -> FakeUpstream:
    fake_openai_server.fake.calls.clear()
    fake_openai_server.fake.stream_endings.clear()
    fake_openai_server.fake.slow_s = 1.5
    fake_openai_server.fake.word_delay_s = 0.0
    return fake_openai_server


@dataclass
class GatewayHandle:
    url: str
    key: str
    services: Services
    records: list[dict[str, Any]]
    local: LocalAws
    server: ServerHandle
    log: io.StringIO = field(default_factory=io.StringIO)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def last_record(self, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """The newest request record, once `count` records exist (a stream's record is written
        just after the client has read its end)."""
        deadline = time.monotonic() + timeout
        want = count
        while len(self.records) < want:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {want} request records, have {len(self.records)}")
            time.sleep(0.005)
        return self.records[-1]

    def create_key(self, **fields: Any) -> str:
        secret, _ = create_key(self.local.aws, **fields)
        return secret


@pytest.fixture
def make_gateway(local_aws: LocalAws) -> Iterator[Any]:
    """`make_gateway(config_dict, server={uvicorn options}, **build_services_kwargs)` -> GatewayHandle,
    on a loopback port (under the gateway's own server unless `server` says otherwise)."""
    started: list[GatewayHandle] = []

    def make(config: dict[str, Any], *, server: dict[str, Any] | None = None, **kwargs: Any) -> GatewayHandle:
        records: list[dict[str, Any]] = []
        log = io.StringIO()
        kwargs.setdefault("observer", Observer(stream=log, sink=records.append))
        services = build_services(load_config(config), aws=local_aws.aws, **kwargs)
        put_secret(local_aws, "openai-test", '{"api_key": "sk-test-upstream"}')
        served = serve_in_thread(create_app(services), **(server or {}))
        key, _ = create_key(local_aws.aws)
        handle = GatewayHandle(served.url, key, services, records, local_aws, served, log)
        started.append(handle)
        return handle

    yield make
    for handle in started:
        handle.server.stop()
