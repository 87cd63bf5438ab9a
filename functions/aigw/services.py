"""What one process builds once and hands down: the services the HTTP layer uses, and the
dependencies a stage builder may take. Built only by `aigw.gateway.build_services`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from aigw.aws import AwsResources
from aigw.config.models import GatewayConfig

if TYPE_CHECKING:
    from aigw.auth.store import KeyStore
    from aigw.credentials import CredentialStore
    from aigw.observability import Observer
    from aigw.pipeline.pipeline import Pipeline
    from aigw.providers.registry import ProviderRegistry
    from aigw.routing.router import Router


# An idle upstream connection is kept a minute: keep-alive matters more than anything else here
# (the gateway's server keeps its own clients' longer: aigw/http/server.py KEEP_ALIVE_S).
UPSTREAM_POOL = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=60)


def default_http_client(transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """One pooled client for every upstream."""
    limits = UPSTREAM_POOL
    if transport is None:  # httpcore's pool and framing are a third of the hot path's CPU
        from aigw.providers.wire import default_transport

        transport = default_transport(limits)
    client_class: type[httpx.AsyncClient]
    try:
        from aigw.providers.upstream_client import UpstreamClient as client_class
    except ImportError:  # an httpx without the internals the short path uses: httpx's own send
        client_class = httpx.AsyncClient
    return client_class(limits=limits, timeout=httpx.Timeout(60.0, connect=5.0), transport=transport,
                        follow_redirects=False, trust_env=False)


@dataclass
class StageDeps:
    """Everything a stage builder may use; each is the process's single instance."""

    config: GatewayConfig
    aws: AwsResources
    http: httpx.AsyncClient
    providers: ProviderRegistry
    credentials: CredentialStore | None
    router: Router
    observer: Observer
    embedder: Any = None  # an injected semantic-cache embedder (tests); else chosen by the cache factory
    vector_index: Any = None  # an injected vector index (tests)
    _local_embedder: Any = None

    def shared_embedder(self) -> Any:
        """The embedder every stage shares (semantic cache, guardrails): the injected one, else
        the local model from `aigw[semantic-local]` (loaded once), else None."""
        if self.embedder is not None:
            return self.embedder
        if self._local_embedder is None:
            from aigw.cache.embedders import LocalEmbedder, local_embedder_available

            if not local_embedder_available():
                return None
            self._local_embedder = LocalEmbedder()
        return self._local_embedder


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
        from aigw.names import ENTITIES

        self.aws.table(ENTITIES)
        if self.config.credential_names:
            self.aws.secrets_client()
        tokens.warm([name for m in self.config.models for name in (m.name, *(d.model for d in m.deployments))])
        for stage in self.pipeline.stages:  # e.g. the cache's embedder; optional per stage
            warm = getattr(stage, "warm", None)
            if callable(warm):
                try:
                    warm()
                except Exception:  # a stage that cannot warm up degrades at request time instead
                    self.pipeline.observer.logger.exception("stage warm-up failed", extra={"stage": stage.name})

    async def aclose(self) -> None:
        await self.http.aclose()
