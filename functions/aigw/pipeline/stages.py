"""The pluggable stages of the hot path and their fixed contract.

Order (DESIGN.md §4): guardrails -> cache -> admission, then routing, then each stage's
`after` in reverse order, only for stages whose `before` ran. `after` runs on every path
(success, upstream error, client disconnect, exception), so a stage that reserved
something always gets to release it.

A stage stops the request with a typed short-circuit instead of an exception:
  Respond(result)  answer without calling upstream (a cache hit); the client still gets
                   a stream if it asked for one;
  Reject(error)    refuse (a guardrail block, a budget or rate-limit refusal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aigw.errors import GatewayError
from aigw.pipeline.context import CacheStatus, RequestContext
from aigw.providers.base import ChatChunk, ChatResult


@dataclass(slots=True)
class Respond:
    result: ChatResult
    cache: CacheStatus = "hit"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Reject:
    error: GatewayError


ShortCircuit = Respond | Reject


class Stage(Protocol):
    name: str

    async def before(self, ctx: RequestContext) -> ShortCircuit | None:
        """Runs before the upstream call; return a short-circuit to stop there."""
        ...

    async def after(self, ctx: RequestContext) -> None:
        """Runs once the response is complete or failed; `ctx` holds usage, cost, status."""
        ...


@runtime_checkable
class ChunkFilter(Protocol):
    """Optional capability: inspect or drop stream chunks on their way to the client."""

    def on_chunk(self, ctx: RequestContext, chunk: ChatChunk) -> ChatChunk | None: ...
