"""The pluggable stages of the hot path and their fixed contract.

Order (docs/DESIGN.md §4): guardrails -> cache -> admission, then routing, then each stage's
`after` in reverse order, only for stages whose `before` ran. `after` runs on every path
(success, upstream error, client disconnect, exception), so a stage that reserved
something always gets to release it.

A stage stops the request with a typed short-circuit instead of an exception:
  Respond(result)  answer without calling upstream (a cache hit); the client still gets
                   a stream if it asked for one;
  Reject(error)    refuse (a guardrail block, a budget or rate-limit refusal).

A stage may also be an `OutputFilter`: it sees the answer on its way to the client, in
reverse stage order (upstream -> admission -> cache -> guardrails -> client), streamed or
complete, cache replays included. A filter may emit zero or several chunks per chunk (hold
back a tail, release it later), flush what it held when the stream ends, and stop the
answer with a typed `Stop`, which the client's API renders as a filtered answer (OpenAI
`finish_reason: "content_filter"`, Anthropic `stop_reason: "refusal"`). What was generated
up to a stop is billed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aigw.errors import GatewayError
from aigw.pipeline.context import CacheStatus, RequestContext
from aigw.pipeline.stop import Stop
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
__all__ = ["OutputFilter", "Reject", "Respond", "ShortCircuit", "Stage", "Stop"]


class Stage(Protocol):
    name: str

    async def before(self, ctx: RequestContext) -> ShortCircuit | None:
        """Runs before the upstream call; return a short-circuit to stop there."""
        ...

    async def after(self, ctx: RequestContext) -> None:
        """Runs once the response is complete or failed; `ctx` holds usage, cost, status."""
        ...


@runtime_checkable
class OutputFilter(Protocol):
    """Optional capability of a stage: see (and change, or stop) the answer before the client does."""

    async def on_chunk(self, ctx: RequestContext, chunk: ChatChunk) -> Sequence[ChatChunk] | Stop:
        """One chunk in; the chunks to pass on (none, this one, or several), or a Stop."""
        ...

    async def on_end(self, ctx: RequestContext) -> Sequence[ChatChunk] | Stop:
        """The stream is complete: flush anything held back, or stop."""
        ...

    async def on_body(self, ctx: RequestContext, result: ChatResult) -> ChatResult | Stop:
        """A complete (non-streaming) answer, a cache hit's included."""
        ...
