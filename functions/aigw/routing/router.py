"""Which deployment serves a request, and what happens when it fails.

For the requested model, then each of its `fallbacks` in order, the router:

1. orders the model's deployments by its strategy (routing/strategies.py) and drops the
   ones in cool-down (routing/health.py);
2. tries them in that order, cycling, for at least one attempt per deployment and at least
   `max_retries + 1` attempts in all. A retryable failure (429, 5xx, timeout, connection
   error) moves on to the next deployment at once; going back to a deployment already
   tried first waits: the upstream's `Retry-After` when it gave one, else exponential
   backoff with jitter (`backoff_base_s * 2^n`, capped at `backoff_max_s`, scaled by a
   random factor in [0.5, 1)). A `Retry-After` beyond `backoff_max_s` is not slept: that
   deployment is done for this request, and cools down for that long;
3. counts each retryable failure against the deployment's breaker; `cooldown_failures` in
   a row put it in cool-down for `cooldown_s` (or the Retry-After, if longer).

A non-retryable upstream error (a 400, say) reaches the client at once: another deployment
would refuse the same request. When every deployment of the chain is cooling down, the
client gets a 503 with `Retry-After`. Every attempt is recorded in `ctx.attempts` (the
`x-aigw-attempts` header and the log line's `path`); routing imports nothing of the pipeline.

Clock, sleep and randomness are injectable for tests.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from aigw.config.models import Deployment, GatewayConfig, ModelConfig
from aigw.errors import GatewayError, UpstreamError
from aigw.pricing.cost import Usage
from aigw.routing.attempts import Attempt, AttemptEvents, NoEvents, Routed
from aigw.routing.health import HealthBook
from aigw.routing.strategies import STRATEGIES

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    model: ModelConfig
    deployment: Deployment


class Router:
    def __init__(self, config: GatewayConfig, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 rng: random.Random | None = None, events: AttemptEvents | None = None) -> None:
        self._config = config
        self._events: AttemptEvents = events or NoEvents()
        self._settings = config.routing
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._timer = time.perf_counter if clock is time.monotonic else clock
        self.health = HealthBook(cooldown_failures=self._settings.cooldown_failures,
                                 cooldown_s=self._settings.cooldown_s, clock=clock)

    def chain(self, model: ModelConfig) -> Iterator[ModelConfig]:
        """The model, then its fallbacks that are configured, in order."""
        for name in (model.name, *model.fallbacks):
            chain_model = self._config.model(name)
            if chain_model is not None:
                yield chain_model

    def candidates(self, model: ModelConfig) -> Iterator[Target]:
        """Every deployment that may serve `model` (its own, then each fallback's)."""
        for chain_model in self.chain(model):
            for deployment in chain_model.deployments:
                yield Target(chain_model, deployment)

    def order(self, model: ModelConfig) -> list[Deployment]:
        """This request's try order for one model: by strategy, cool-downs left out."""
        ordered = STRATEGIES[model.routing].order(model.deployments, self.health, self._rng)
        return [d for d in ordered if self.health.available(d.deployment_id)]

    def backoff_s(self, retry: int) -> float:
        s = self._settings
        return min(s.backoff_max_s, s.backoff_base_s * 2 ** retry) * (0.5 + self._rng.random() / 2)

    async def run(self, ctx: Routed, attempt: Callable[[Target], Awaitable[T]], *, streaming: bool = False) -> T:
        """Try `attempt` along the chain. With `streaming`, a success is the stream's first event:
        its attempt stays open until the pipeline calls `stream_ended`."""
        last: GatewayError | None = None
        cooling: list[str] = []
        for model in self.chain(ctx.model):
            queue = self.order(model)
            open_ids = {d.deployment_id for d in queue}
            cooling.extend(d.deployment_id for d in model.deployments if d.deployment_id not in open_ids)
            budget = max(len(queue), self._settings.max_retries + 1)
            waits: dict[str, float] = {}  # deployment id -> wait before trying it again
            retries = 0
            index = 0
            while queue and budget > 0:
                deployment = queue[index % len(queue)]
                key = deployment.deployment_id
                if key in waits:
                    await self._sleep(waits[key])
                    retries += 1
                budget -= 1
                target = Target(model, deployment)
                ctx.deployment, ctx.served_model = deployment, model.name
                self._events.attempt_start(ctx, deployment, len(ctx.attempts) + 1)
                started = self._timer()
                try:
                    result = await attempt(target)
                except UpstreamError as exc:
                    self._record(ctx, target, exc.status, exc.message, started, upstream_status=exc.upstream_status)
                    last = exc
                    if not exc.retryable:
                        raise
                    retry_after = exc.retry_after_s
                    status = exc.upstream_status or exc.status
                    cooled = self.health.failure(key, cooldown_s=retry_after, status=status)
                    if retry_after is not None and retry_after > self._settings.backoff_max_s:
                        # "come back later": other requests skip it meanwhile
                        self.health.cool_down(key, retry_after, status=status)
                        cooled = True
                    if cooled:
                        queue.remove(deployment)
                        continue  # the same index now points at the next deployment
                    waits[key] = retry_after if retry_after is not None else self.backoff_s(retries)
                    index += 1
                    continue
                except GatewayError as exc:
                    self._record(ctx, target, exc.status, exc.message, started)
                    if exc.status < 500:
                        raise
                    last = exc  # e.g. this deployment's credential is unreadable: next one
                    queue.remove(deployment)
                    continue
                self.health.success(key, self._timer() - started)
                self._record(ctx, target, 200, None, started, streaming=streaming, upstream_status=200)
                if cooling:
                    ctx.log_for("routing")["skipped_cooling_down"] = cooling
                return result
        if cooling:
            ctx.log_for("routing")["skipped_cooling_down"] = cooling
        if last is not None:
            if isinstance(last, UpstreamError) and last.status == 429 and last.retry_after_s is None:
                last.retry_after_s = self.backoff_s(len(ctx.attempts))  # a 429 always says when to retry
            raise last
        raise self._all_cooling(ctx.model)

    def stream_failed(self, ctx: Routed, exc: UpstreamError) -> None:
        """A stream that broke after its first byte: too late to fail over, but it counts
        against the deployment's breaker like any retryable failure."""
        if ctx.deployment is not None and exc.retryable:
            self.health.failure(ctx.deployment.deployment_id)

    def stream_ended(self, ctx: Routed, usage: Usage | None = None) -> None:
        """Close the open streamed attempt: its latency now covers the whole stream."""
        if ctx.attempts and ctx.attempts[-1].streaming:
            attempt = ctx.attempts[-1]
            attempt.streaming = False
            attempt.latency_ms = (self._timer() - attempt.started) * 1000
            attempt.usage = usage if usage is not None else attempt.usage
            self._events.attempt_end(ctx, attempt)

    def _record(self, ctx: Routed, target: Target, status: int, error: str | None,
                started: float, *, streaming: bool = False, upstream_status: int | None = None) -> None:
        attempt = Attempt(target.deployment.deployment_id, target.model.name, status, error,
                          (self._timer() - started) * 1000, number=len(ctx.attempts) + 1, streaming=streaming,
                          started=started, upstream_status=upstream_status)
        ctx.attempts.append(attempt)
        if not streaming:
            self._events.attempt_end(ctx, attempt)

    def _all_cooling(self, model: ModelConfig) -> UpstreamError:
        """Every deployment is cooling down: 429 if upstream rate limits caused it all, else 503."""
        ids = [t.deployment.deployment_id for t in self.candidates(model)]
        wait = max(min((self.health.cooldown_remaining_s(i) for i in ids), default=self._settings.cooldown_s), 1.0)
        if all(self.health.get(i).cooldown_status == 429 for i in ids):
            error = UpstreamError(f"every deployment of {model.name!r} is rate limited upstream", status=429,
                                  retryable=True, retry_after_s=wait, code="upstream_rate_limited")
        else:
            error = UpstreamError(f"every deployment of {model.name!r} is cooling down after repeated failures",
                                  status=503, retryable=True, retry_after_s=wait, code="deployments_cooling_down")
        error.headers["retry-after"] = str(int(wait + 0.999))
        return error
