"""Which deployment serves a request, and what happens when it fails.

The router walks candidates — the model's deployments in strategy order, then each
fallback model's — and calls `attempt(target)` until one succeeds. A retryable failure
(429, 5xx, timeout, connection error) moves on; any other error reaches the client as is.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from aigw.config.models import Deployment, GatewayConfig, ModelConfig
from aigw.errors import GatewayError, UpstreamError
from aigw.pipeline.context import Attempt, RequestContext

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    model: ModelConfig
    deployment: Deployment


class Router:
    def __init__(self, config: GatewayConfig) -> None:
        self._config = config

    def candidates(self, model: ModelConfig) -> Iterator[Target]:
        """Every deployment that may serve `model`, in the order they will be tried."""
        for name in (model.name, *model.fallbacks):
            chain_model = self._config.model(name)
            if chain_model is None:
                continue
            for deployment in chain_model.deployments:
                yield Target(chain_model, deployment)

    async def run(self, ctx: RequestContext, attempt: Callable[[Target], Awaitable[T]]) -> T:
        last: GatewayError | None = None
        for target in self.candidates(ctx.model):
            started = time.perf_counter()
            ctx.deployment, ctx.served_model = target.deployment, target.model.name
            try:
                result = await attempt(target)
            except UpstreamError as exc:
                ctx.attempts.append(Attempt(target.deployment.deployment_id, target.model.name, exc.status,
                                            exc.message, (time.perf_counter() - started) * 1000))
                last = exc
                if not exc.retryable:
                    raise
                continue
            except GatewayError as exc:
                ctx.attempts.append(Attempt(target.deployment.deployment_id, target.model.name, exc.status,
                                            exc.message, (time.perf_counter() - started) * 1000))
                raise
            ctx.attempts.append(Attempt(target.deployment.deployment_id, target.model.name, 200,
                                        latency_ms=(time.perf_counter() - started) * 1000))
            return result
        assert last is not None, "a model always has at least one deployment"
        raise last
