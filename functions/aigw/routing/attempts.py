"""Upstream attempts: the record of each one, and the one place upstream time is measured.

Routing appends an `Attempt` per try; the pipeline closes a streamed attempt when its stream
ends (not at its first event). `waiting_upstream` is the only code that adds to the time a
request spent waiting on upstreams, which the gateway-overhead figure excludes.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

from aigw.config.models import Deployment, ModelConfig
from aigw.pricing.cost import Usage


@dataclass(slots=True)
class Attempt:
    deployment: str
    model: str
    status: int  # 200, or the error status
    error: str | None = None
    latency_ms: float = 0.0  # until the answer was complete (a stream: until its end)
    number: int = 1  # 1-based, across the whole fallback chain
    usage: Usage | None = None
    streaming: bool = False  # a stream that is still open
    started: float = 0.0  # on the router's clock
    upstream_status: int | None = None  # the upstream's own HTTP status, when it answered one (traces)


class Routed(Protocol):
    """What routing reads and writes on a request (the pipeline's RequestContext)."""

    model: ModelConfig
    deployment: Deployment | None
    served_model: str | None
    attempts: list[Attempt]
    upstream_s: float

    def log_for(self, namespace: str) -> MutableMapping[str, Any]: ...


class AttemptEvents(Protocol):
    """Who hears about attempts (the observer: spans, metrics)."""

    def attempt_start(self, ctx: Any, deployment: Deployment, number: int) -> None: ...

    def attempt_end(self, ctx: Any, attempt: Attempt) -> None: ...


class NoEvents:
    def attempt_start(self, ctx: Any, deployment: Deployment, number: int) -> None:
        return None

    def attempt_end(self, ctx: Any, attempt: Attempt) -> None:
        return None


class waiting_upstream:
    """Adds the time spent inside to `ctx.upstream_s`. A class, not a generator context
    manager, and reusable (not reentrant): a stream enters one once per event."""

    __slots__ = ("_ctx", "_started")

    def __init__(self, ctx: Routed) -> None:
        self._ctx = ctx
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self._ctx.upstream_s += time.perf_counter() - self._started
