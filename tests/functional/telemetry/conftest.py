"""A gateway with tracing on, exporting to a local OTLP/HTTP receiver, wired as on Lambda:
the listener from the OTEL_* variables, the response tap first among the stages, and the app
wrapped so that a response ends only once its spans are exported."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from aigw.config import load_config
from aigw.gateway import Services, build_services
from aigw.http.app import create_app
from aigw.local.environment import LocalAws, ServerHandle, create_key, serve_in_thread
from aigw.observability import Observer
from aigw.telemetry import export_before_response_end, listener_from_env
from tests.conftest import put_secret
from tests.fakes.otlp_receiver import OtlpReceiver


@dataclass
class Receiver:
    fake: OtlpReceiver
    server: ServerHandle

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def otlp_receiver_server() -> Iterator[Receiver]:
    fake = OtlpReceiver()
    server = serve_in_thread(fake.app())
    yield Receiver(fake, server)
    server.stop()


@pytest.fixture
def otlp(otlp_receiver_server: Receiver) -> Receiver:
    otlp_receiver_server.fake.clear()
    return otlp_receiver_server


@dataclass
class TracedGateway:
    url: str
    key: str
    services: Services
    records: list[dict[str, Any]]
    listener: Any
    local: LocalAws
    server: ServerHandle
    log: io.StringIO = field(default_factory=io.StringIO)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def create_key(self, **fields: Any) -> str:
        secret, _ = create_key(self.local.aws, **fields)
        return secret


@pytest.fixture
def traced_gateway(local_aws: LocalAws, otlp: Receiver) -> Iterator[Any]:
    """`traced_gateway(config, environ=..., stages=..., team=...)` -> TracedGateway."""
    started: list[TracedGateway] = []

    def make(config: dict[str, Any], *, environ: dict[str, str] | None = None, team: str = "research",
             **kwargs: Any) -> TracedGateway:
        loaded = load_config(config)
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "OTEL_SERVICE_NAME": "aigw-test",
               "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,team.owner=platform",
               "OTEL_EXPORTER_OTLP_HEADERS": "x-test-token=abc%20def", **(environ or {})}
        listener = listener_from_env(loaded.telemetry, environ=env)
        assert listener is not None
        records: list[dict[str, Any]] = []
        log = io.StringIO()
        observer = Observer(stream=log, sink=records.append, listeners=[listener])
        services = build_services(loaded, aws=local_aws.aws, observer=observer, **kwargs)
        put_secret(local_aws, "openai-test", '{"api_key": "sk-test-upstream"}')
        server = serve_in_thread(export_before_response_end(create_app(services), observer))
        key, _ = create_key(local_aws.aws, team=team)
        gateway = TracedGateway(server.url, key, services, records, listener, local_aws, server, log)
        started.append(gateway)
        return gateway

    yield make
    for gateway in started:
        gateway.server.stop()
        gateway.listener.shutdown()
