"""Per-deployment health, in memory per process: latency EWMA and the circuit breaker.

Each deployment keeps an exponentially weighted moving average of its time to first token
(for a stream, the wait for the first event; for a complete call, the whole call), its run
of consecutive failures, and, once that run reaches `cooldown_failures`, a cool-down: the
deployment is skipped until `cooldown_until`. The first call after the cool-down is a
probe: one more failure puts it straight back into cool-down; a success closes the breaker.

The clock is injected, so tests move time instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

EWMA_ALPHA = 0.3  # weight of the newest sample


@dataclass(slots=True)
class DeploymentHealth:
    ewma_ttft_s: float | None = None
    samples: int = 0
    consecutive_failures: int = 0
    cooldown_until: float = 0.0
    cooldown_status: int = 503  # the failure that started the cool-down (429: the upstream's rate limit)
    probing: bool = False  # the cool-down has ended; the next result decides


class HealthBook:
    def __init__(self, *, cooldown_failures: int, cooldown_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._cooldown_failures = cooldown_failures
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._health: dict[str, DeploymentHealth] = {}

    def get(self, deployment_id: str) -> DeploymentHealth:
        health = self._health.get(deployment_id)
        if health is None:
            health = self._health[deployment_id] = DeploymentHealth()
        return health

    def now(self) -> float:
        return self._clock()

    def available(self, deployment_id: str) -> bool:
        health = self.get(deployment_id)
        if health.cooldown_until <= 0:
            return True
        if self._clock() >= health.cooldown_until:
            health.cooldown_until = 0.0
            health.probing = True
            return True
        return False

    def cooldown_remaining_s(self, deployment_id: str) -> float:
        return max(self.get(deployment_id).cooldown_until - self._clock(), 0.0)

    def success(self, deployment_id: str, ttft_s: float) -> None:
        health = self.get(deployment_id)
        health.consecutive_failures = 0
        health.probing = False
        health.samples += 1
        if health.ewma_ttft_s is None:
            health.ewma_ttft_s = ttft_s
        else:
            health.ewma_ttft_s = EWMA_ALPHA * ttft_s + (1 - EWMA_ALPHA) * health.ewma_ttft_s

    def failure(self, deployment_id: str, *, cooldown_s: float | None = None, status: int = 503) -> bool:
        """Count a retryable failure; returns True when the deployment enters cool-down.

        `cooldown_s` overrides the configured length (an upstream Retry-After longer than it).
        """
        health = self.get(deployment_id)
        health.consecutive_failures += 1
        if health.probing or health.consecutive_failures >= self._cooldown_failures:
            health.cooldown_until = self._clock() + max(cooldown_s or 0.0, self._cooldown_s)
            health.cooldown_status = status
            health.consecutive_failures = 0
            health.probing = False
            return True
        return False

    def cool_down(self, deployment_id: str, seconds: float, *, status: int = 429) -> None:
        """Skip the deployment for `seconds` (an upstream's long Retry-After), breaker count reset."""
        health = self.get(deployment_id)
        health.cooldown_until = max(health.cooldown_until, self._clock() + seconds)
        health.cooldown_status = status
        health.consecutive_failures = 0
        health.probing = False

    def latency(self, deployment_id: str) -> float | None:
        return self.get(deployment_id).ewma_ttft_s
