"""Everything one request carries through the pipeline, and what it leaves behind for
settlement, metrics and the log line.

Three seams live here, so that stages never share a string key (docs/DESIGN.md §4):

- `ctx.result`: the final `ChatResult` of a non-streaming request (or a cache hit), a field.
- typed slots: a stage keeps its own state as `ctx.put(MyState(...))` and reads it back with
  `ctx.slot(MyState)`; the key is the class, so two stages cannot collide.
- `ctx.log_for("cache")["cache_skip"] = ...` adds a field to the request's log line, owned by
  that stage: a stage can never overwrite a core field (`status`, `cost_usd`, ...), which are
  the pipeline's, nor a field another stage owns.

And one way to change what goes upstream: `ctx.replace_body(...)` (parameters) and
`ctx.rewrite_texts(fn)` (every text the request sends, in both the canonical body and the
client's native body, so a passthrough adapter cannot bypass a redaction).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from aigw.auth.records import KeyRecord
from aigw.config.models import Deployment, ModelConfig
from aigw.errors import GatewayError
from aigw.pricing.cost import Usage
from aigw.routing.attempts import Attempt

if TYPE_CHECKING:
    from aigw.pipeline.codec import ClientCodec
    from aigw.pipeline.stop import Stop
    from aigw.providers.base import ChatResult, NativeRequest

# What is done (the operation) is separate from who asked (the client API and its codec).
Operation = Literal["chat", "embeddings"]
CacheStatus = Literal["miss", "hit", "semantic-hit", "skip"]
T = TypeVar("T")

__all__ = ["Attempt", "CacheStatus", "LogFields", "Operation", "RequestContext"]

# The fields of every log line that only the pipeline writes (observability.request_record).
CORE_LOG_FIELDS = frozenset({
    "request_id", "api", "operation", "key_id", "team", "project", "model", "served_model", "provider",
    "deployment", "stream", "status", "error_type", "error_code", "error", "input_tokens", "output_tokens",
    "cached_tokens", "cache_write_tokens", "reasoning_tokens", "usage_estimated", "cost_usd", "latency_ms",
    "ttft_ms", "overhead_ms", "cache", "retries", "path", "disconnected", "stopped_by", "route", "level",
    "message", "timestamp", "service", "location", "end_user",
})


class LogFields:
    """The log-line fields stages add. Each field belongs to the stage (namespace) that first
    wrote it: another stage writing it, or anyone writing a core field, is refused, so no
    stage can overwrite `status` or `cost_usd`, nor another stage's figures."""

    __slots__ = ("_fields", "_owners")

    def __init__(self) -> None:
        self._fields: dict[str, Any] = {}
        self._owners: dict[str, str] = {}

    def scope(self, namespace: str) -> _LogScope:
        return _LogScope(self, namespace)

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __bool__(self) -> bool:  # (no stage wrote anything: the core path skips every lookup)
        return bool(self._fields)

    def get(self, name: str, default: Any = None) -> Any:
        return self._fields.get(name, default)

    def items(self) -> Iterator[tuple[str, Any]]:
        return iter(self._fields.items())

    def by_namespace(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name, owner in self._owners.items():
            out.setdefault(owner, {})[name] = self._fields[name]
        return out

    def _claim(self, namespace: str, name: str) -> None:
        if name in CORE_LOG_FIELDS:
            raise KeyError(f"{name!r} is a core log field; stages may not write it")
        owner = self._owners.setdefault(name, namespace)
        if owner != namespace:
            raise KeyError(f"log field {name!r} belongs to {owner!r}, not {namespace!r}")


class _LogScope(MutableMapping[str, Any]):
    def __init__(self, log: LogFields, namespace: str) -> None:
        self._log = log
        self._namespace = namespace

    def __setitem__(self, key: str, value: Any) -> None:
        self._log._claim(self._namespace, key)
        self._log._fields[key] = value

    def __getitem__(self, key: str) -> Any:
        if self._log._owners.get(key) != self._namespace:
            raise KeyError(key)
        return self._log._fields[key]

    def __delitem__(self, key: str) -> None:
        self[key]
        del self._log._fields[key]
        del self._log._owners[key]

    def __iter__(self) -> Iterator[str]:
        return (k for k, owner in self._log._owners.items() if owner == self._namespace)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(slots=True)
class RequestContext:
    request_id: str
    operation: Operation
    key: KeyRecord
    model: ModelConfig
    body: dict[str, Any]  # the canonical (OpenAI-shape) body sent upstream; change it only via replace_body
    codec: ClientCodec  # how answers and errors are rendered for the client's API (its front door's)
    stream: bool = False
    include_usage: bool = False
    started: float = field(default_factory=time.perf_counter)
    native: NativeRequest | None = None  # the client's own body, for an adapter of that same API
    request_headers: Mapping[str, str] = field(default_factory=dict)  # the client's (case-insensitive)
    end_user: str | None = None  # the application's user behind the key (log line, traces; never a metric)

    # --- filled in as the request goes -------------------------------------------------------
    deployment: Deployment | None = None
    served_model: str | None = None  # the public model that answered (differs after a fallback)
    attempts: list[Attempt] = field(default_factory=list)
    result: ChatResult | None = None  # the complete answer (non-streaming, or a cache hit)
    usage: Usage | None = None
    cost_usd: float = 0.0
    cache: CacheStatus = "miss"
    status: int = 200
    error: GatewayError | None = None
    stopped: Stop | None = None  # an output filter ended the answer (e.g. a guardrail block)
    upstream_s: float = 0.0  # time spent waiting on upstreams: excluded from the overhead
    first_token_s: float | None = None  # since `started`
    disconnected: bool = False
    output_text: list[str] = field(default_factory=list)  # generated text, counted if usage is missing
    output_chunks: list[Any] | None = None  # or the chunks that carry it (accounting.kept_text)
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers set by stages
    log: LogFields = field(default_factory=LogFields)  # stage fields for the log line: write via log_for()
    _slots: dict[type, Any] = field(default_factory=dict)

    _prompt_tokens: int | None = None

    @property
    def api(self) -> str:
        """The client's API (its front door): "openai", "anthropic", "responses"."""
        return self.codec.api

    @property
    def team_id(self) -> str:
        return self.key.team_id

    # --- typed per-stage state -------------------------------------------------------------------
    def put(self, value: Any) -> None:
        self._slots[type(value)] = value

    def slot(self, kind: type[T]) -> T | None:
        value = self._slots.get(kind)
        return value if isinstance(value, kind) else None

    def log_for(self, namespace: str) -> MutableMapping[str, Any]:
        return self.log.scope(namespace)

    # --- what goes upstream --------------------------------------------------------------------
    def replace_body(self, body: dict[str, Any]) -> None:
        """Replace the canonical body (e.g. a budget-aware output limit). A native body no
        longer matches it, so it is dropped: the request is then translated, never sent stale."""
        self.body = body
        self.native = None
        self._prompt_tokens = None

    def rewrite_texts(self, fn: Callable[[str], str]) -> None:
        """Apply `fn` to every text the request sends upstream, in the canonical body and in
        the client's native body alike (e.g. a redaction)."""
        from dataclasses import replace

        from aigw.pipeline.texts import map_chat_texts

        self.body = map_chat_texts(self.body, fn)
        if self.native is not None:
            self.native = replace(self.native, body=self.codec.map_native_texts(self.native.body, fn))
        self._prompt_tokens = None

    # --- timing ---------------------------------------------------------------------------------
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started

    def overhead_ms(self, elapsed_s: float | None = None) -> float:
        """The request's time not spent waiting on an upstream, up to now (or to `elapsed_s`)."""
        return max((self.elapsed_s() if elapsed_s is None else elapsed_s) - self.upstream_s, 0.0) * 1000

    def prompt_tokens(self) -> int:
        """Prompt tokens by tiktoken, as OpenAI's recipe counts them (images by its rule); counted
        once, on first use (blocking: `aigw.tokens.count_prompt_tokens` counts off the loop)."""
        if self._prompt_tokens is None:
            from aigw import tokens

            self._prompt_tokens = tokens.prompt_profile(self).openai_tokens(self.model.deployments[0].model)
        return self._prompt_tokens

    def max_output_tokens(self, default: int) -> int:
        """The most output this request may produce: its own limit, else the model's, else
        `default`; times `n` (every choice may use the whole limit)."""
        from aigw import tokens

        limit = tokens.requested_output_tokens(self.body) or self.model.max_output_tokens or default
        return limit * tokens.choices(self.body)
