"""Wiring: build the services one process needs, once, with every I/O dependency injectable.

Tests and the local runner pass their own boto3 resources, httpx client (or transport),
stages and observer; on Lambda everything comes from the environment. Only entry points
import this module; everything else receives what it needs from here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from aigw.auth.store import KeyStore
from aigw.aws import AwsResources, table_name
from aigw.config.models import GatewayConfig
from aigw.credentials import CredentialStore
from aigw.names import ENTITIES
from aigw.observability import Observer
from aigw.pipeline.pipeline import Pipeline
from aigw.pipeline.stages import Stage
from aigw.providers.registry import ProviderRegistry
from aigw.routing.router import Router
from aigw.services import Services, StageDeps, default_http_client
from aigw.telemetry import listener_from_env

__all__ = ["STAGE_BUILDERS", "AwsResources", "Services", "StageDeps", "build_services", "build_stages",
           "default_http_client", "stage_deps", "table_name"]

# Builders of the optional stages, in pipeline order (guardrails, cache, admission). Each
# takes the process's `StageDeps` and returns a stage, or None when the config turns it off.
StageBuilder = Callable[[StageDeps], Stage | None]
# "module:function" paths, imported at startup.
STAGE_BUILDERS: list[str] = [
    "aigw.telemetry:build_tap_stage",  # first, so it sees the answer as the client gets it (only when tracing)
    "aigw.guardrails.stage:build_guardrail_stage",  # input checks and the output filter (aigw/guardrails)
    "aigw.cache.factory:build_cache_stage",  # exact and semantic response cache (aigw/cache)
    "aigw.budgets.stage:build_admission_stage",  # admission: budgets and rate limits
]


def build_services(
    config: GatewayConfig,
    *,
    aws: AwsResources | None = None,
    http_client: httpx.AsyncClient | None = None,
    stages: Sequence[Stage] | None = None,
    observer: Observer | None = None,
    providers: dict[str, Any] | None = None,
    embedder: Any = None,
    vector_index: Any = None,
) -> Services:
    deps = stage_deps(config, aws=aws, http_client=http_client, observer=observer, providers=providers,
                      embedder=embedder, vector_index=vector_index)
    keys = KeyStore(lambda: deps.aws.table(ENTITIES), ttl_s=config.settings.key_cache_ttl_s)
    if stages is None:
        stages = build_stages(deps)
    pipeline = Pipeline(stages=stages, router=deps.router, providers=deps.providers, credentials=deps.credentials,
                        observer=deps.observer)
    return Services(config=config, aws=deps.aws, keys=keys, pipeline=pipeline, http=deps.http)


def stage_deps(config: GatewayConfig, *, aws: AwsResources | None = None, http_client: httpx.AsyncClient | None = None,
               observer: Observer | None = None, providers: dict[str, Any] | None = None, embedder: Any = None,
               vector_index: Any = None) -> StageDeps:
    """The process's single instances (what a stage builder may use), defaults filled in."""
    aws = aws or AwsResources()
    http = http_client or default_http_client()
    observer = observer or Observer()
    if (tracing := listener_from_env(config.telemetry)) is not None:  # OTEL_EXPORTER_OTLP_ENDPOINT set
        observer.listeners.append(tracing)
    credentials = CredentialStore(aws.secrets_client) if config.credential_names else None
    return StageDeps(config=config, aws=aws, http=http, providers=ProviderRegistry(http, overrides=providers),
                     credentials=credentials, router=Router(config, events=observer), observer=observer,
                     embedder=embedder, vector_index=vector_index)


def build_stages(deps: StageDeps) -> list[Stage]:
    stages: list[Stage] = []
    for path in STAGE_BUILDERS:
        module, _, function = path.partition(":")
        stage = getattr(importlib.import_module(module), function)(deps)
        if stage is not None:
            stages.append(stage)
    return stages
