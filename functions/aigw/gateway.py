"""Wiring: build the services one process needs, once, with every I/O dependency injectable.

Tests and the local runner pass their own boto3 resources, httpx client (or transport),
stages and observer; on Lambda everything comes from the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from aigw.auth.store import KeyStore
from aigw.config.models import GatewayConfig
from aigw.credentials import CredentialStore
from aigw.names import ENTITIES, TableSpec
from aigw.observability import Observer
from aigw.pipeline.pipeline import Pipeline
from aigw.pipeline.stages import Stage
from aigw.providers.registry import ProviderRegistry
from aigw.routing.router import Router

# Builders of the optional stages, in pipeline order (guardrails, cache, admission). Each
# takes the services built so far and returns a stage, or None when the config turns it off.
StageBuilder = Callable[["AwsResources", GatewayConfig], Stage | None]
# "module:function" paths, imported at startup; each builder returns its Stage or None.
STAGE_BUILDERS: list[str] = [
    # guardrails go first (a later issue)
    "aigw.cache.stage:build_cache_stage",  # exact and semantic response cache (aigw/cache)
    "aigw.budgets.stage:build_admission_stage",  # admission: budgets and rate limits
]


def table_name(spec: TableSpec) -> str:
    return os.environ.get(spec.env_var, spec.default_name)


@dataclass
class AwsResources:
    """boto3 handles, created on first use (client creation costs ~50 ms each)."""

    dynamodb: Any = None  # boto3 DynamoDB ServiceResource
    secrets: Any = None  # boto3 Secrets Manager client
    extra: dict[str, Any] = field(default_factory=dict)

    def dynamodb_resource(self) -> Any:
        if self.dynamodb is None:
            import boto3

            self.dynamodb = boto3.resource("dynamodb")
        return self.dynamodb

    def table(self, spec: TableSpec) -> Any:
        tables: dict[str, Any] = self.extra.setdefault("tables", {})
        if spec.logical_id not in tables:
            tables[spec.logical_id] = self.dynamodb_resource().Table(table_name(spec))
        return tables[spec.logical_id]

    def secrets_client(self) -> Any:
        if self.secrets is None:
            import boto3

            self.secrets = boto3.client("secretsmanager")
        return self.secrets


@dataclass
class Services:
    config: GatewayConfig
    aws: AwsResources
    keys: KeyStore
    pipeline: Pipeline
    http: httpx.AsyncClient

    def warm(self) -> None:
        """The slow parts of a cold start (boto3, tokenizer), run before the first request:
        on Lambda this is the init phase, before the adapter's readiness check passes."""
        from aigw import tokens

        self.aws.table(ENTITIES)
        if self.config.credential_names:
            self.aws.secrets_client()
        tokens.warm()
        for stage in self.pipeline.stages:  # e.g. the cache's embedder; optional per stage
            warm = getattr(stage, "warm", None)
            if callable(warm):
                try:
                    warm()
                except Exception:  # a stage that cannot warm up degrades at request time instead
                    self.pipeline.observer.logger.exception("stage warm-up failed", extra={"stage": stage.name})

    async def aclose(self) -> None:
        await self.http.aclose()


def default_http_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """One pooled client for every upstream; keep-alive matters more than anything else here."""
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=60)
    return httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(60.0, connect=5.0), transport=transport,
                             follow_redirects=False, trust_env=False)


def build_services(
    config: GatewayConfig,
    *,
    aws: AwsResources | None = None,
    http_client: httpx.AsyncClient | None = None,
    stages: Sequence[Stage] | None = None,
    observer: Observer | None = None,
    providers: dict[str, Any] | None = None,
) -> Services:
    aws = aws or AwsResources()
    http = http_client or default_http_client()
    keys = KeyStore(lambda: aws.table(ENTITIES), ttl_s=config.settings.key_cache_ttl_s)
    needs_credentials = bool(config.credential_names)
    credentials = CredentialStore(aws.secrets_client) if needs_credentials else None
    if stages is None:
        stages = build_stages(aws, config)
    pipeline = Pipeline(
        stages=stages,
        router=Router(config),
        providers=ProviderRegistry(http, overrides=providers),
        credentials=credentials,
        observer=observer or Observer(),
    )
    return Services(config=config, aws=aws, keys=keys, pipeline=pipeline, http=http)


def build_stages(aws: AwsResources, config: GatewayConfig) -> list[Stage]:
    import importlib

    stages: list[Stage] = []
    for path in STAGE_BUILDERS:
        module, _, function = path.partition(":")
        stage = getattr(importlib.import_module(module), function)(aws, config)
        if stage is not None:
            stages.append(stage)
    return stages
