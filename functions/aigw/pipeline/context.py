"""Everything one request carries through the pipeline, and what it leaves behind for
settlement, metrics and the log line."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aigw.auth.records import KeyRecord
from aigw.config.models import Deployment, ModelConfig
from aigw.errors import GatewayError
from aigw.pricing.cost import Usage

if TYPE_CHECKING:
    from aigw.pipeline.codec import ClientCodec
    from aigw.providers.base import NativeRequest

Api = Literal["chat", "embeddings", "messages"]
CacheStatus = Literal["miss", "hit", "semantic-hit", "skip"]


@dataclass(slots=True)
class Attempt:
    deployment: str
    model: str
    status: int  # 200, or the error status
    error: str | None = None
    latency_ms: float = 0.0


@dataclass(slots=True)
class RequestContext:
    request_id: str
    api: Api
    key: KeyRecord
    model: ModelConfig
    body: dict[str, Any]  # the client's validated body; never mutated after validation
    stream: bool = False
    include_usage: bool = False
    started: float = field(default_factory=time.perf_counter)
    # A front door for another API (e.g. /v1/messages) sets how answers are framed for its
    # client, and keeps the client's own body for adapters of that same API.
    codec: ClientCodec | None = None
    native: NativeRequest | None = None
    request_headers: Mapping[str, str] = field(default_factory=dict)  # the client's (case-insensitive)

    # --- filled in as the request goes -------------------------------------------------------
    deployment: Deployment | None = None
    served_model: str | None = None  # the public model that answered (differs after a fallback)
    attempts: list[Attempt] = field(default_factory=list)
    usage: Usage | None = None
    cost_usd: float = 0.0
    cache: CacheStatus = "miss"
    status: int = 200
    error: GatewayError | None = None
    upstream_s: float = 0.0  # time spent waiting on upstreams: excluded from the overhead
    first_token_s: float | None = None  # since `started`
    disconnected: bool = False
    output_text: list[str] = field(default_factory=list)  # streamed text, counted if usage is missing
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers set by stages
    log: dict[str, Any] = field(default_factory=dict)  # extra fields for the request's log line
    state: dict[str, Any] = field(default_factory=dict)  # per-stage scratch (e.g. a reservation)

    _prompt_tokens: int | None = None

    @property
    def team_id(self) -> str:
        return self.key.team_id

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def overhead_ms(self) -> float:
        return max(self.elapsed_s() - self.upstream_s, 0.0) * 1000

    def prompt_tokens(self) -> int:
        """Prompt tokens by tiktoken (for admission); counted once, on first use."""
        if self._prompt_tokens is None:
            from aigw import tokens

            if self.api == "embeddings":
                raw = self.body.get("input")
                items = [raw] if isinstance(raw, str) else list(raw or [])
                self._prompt_tokens = sum(
                    tokens.count_text(i, self.model.name) if isinstance(i, str) else len(i) if
                    isinstance(i, list) else 1 for i in items)
            else:
                self._prompt_tokens = tokens.count_chat_prompt_tokens(
                    list(self.body.get("messages") or []), self.model.name,
                    tools=self.body.get("tools"), functions=self.body.get("functions"))
        return self._prompt_tokens

    def max_output_tokens(self, default: int) -> int:
        """The most output this request may produce: its own limit, else the model's, else `default`."""
        requested = self.body.get("max_completion_tokens") or self.body.get("max_tokens")
        n = int(self.body.get("n") or 1)
        limit = int(requested) if requested else (self.model.max_output_tokens or default)
        return limit * n
