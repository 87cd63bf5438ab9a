"""The provider adapter interface.

A provider turns one `ChatCall` (the client's request in OpenAI Chat Completions shape,
plus the chosen deployment and its credential) into either a complete `ChatResult` or a
stream of `StreamEvent`s, both in the OpenAI wire shape. The pipeline only ever sees that
shape; every provider quirk stays inside its adapter.

    ChatProvider          required: complete() and stream()
    EmbeddingsProvider    optional capability: embed()

Over HTTP, a provider is `HttpChatProvider` (providers/http.py) plus a `ChatTranslator` per
(client API, provider API) pair: request body, response body, stream event, error. A new
translator is made per call, so stream state lives on it and retries start clean. Non-HTTP
providers (Bedrock via boto3, the in-process mock) implement `ChatProvider` directly.

Failure contract: before the first event, a provider raises `UpstreamError` (routing may
then retry or fall back, and the client gets a proper HTTP status); after it, the stream
raises `UpstreamError` and the pipeline ends the client's stream with an error event.
Closing the stream early (`aclose()`) must cancel the upstream call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from aigw.config.models import Deployment
from aigw.pricing.cost import Usage

# One `chat.completion.chunk` object in OpenAI wire shape, `usage` removed (usage travels
# as a separate `Usage` event so every provider reports it the same way).
ChatChunk = dict[str, Any]
StreamEvent = ChatChunk | Usage


class NativeChunk(dict[str, Any]):
    """A canonical chunk that also carries the upstream's verbatim frame(s) in the client's
    own API (`native`), for a provider that speaks that API. The client's codec sends
    `native` as is unless a filter replaced the chunk."""

    native: bytes = b""


@dataclass(frozen=True, slots=True)
class Credential:
    """A provider credential from Secrets Manager. `repr` never shows the values."""

    values: Mapping[str, str] = field(repr=False)

    @property
    def api_key(self) -> str | None:
        return self.values.get("api_key")

    def __repr__(self) -> str:
        return f"Credential(fields={sorted(self.values)})"


@dataclass(frozen=True, slots=True)
class NativeRequest:
    """The client's own request when it spoke another API than OpenAI's (e.g. "messages"):
    an adapter for that same API sends it as is, so nothing is lost in translation."""

    api: str
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)  # API-specific client headers to forward


@dataclass(frozen=True, slots=True)
class ChatCall:
    """One upstream attempt. Never mutated: a retry sends exactly the same call."""

    body: Mapping[str, Any]  # the validated client body (OpenAI shape), unknown fields included
    deployment: Deployment
    credential: Credential | None
    request_id: str
    native: NativeRequest | None = None


@dataclass(slots=True)
class ChatResult:
    body: dict[str, Any]  # a `chat.completion` object in OpenAI wire shape
    usage: Usage | None  # None: the upstream reported none; the pipeline counts it
    native: dict[str, Any] | None = None  # the same answer in the client's own API, when the upstream spoke it


@dataclass(frozen=True, slots=True)
class EmbeddingsCall:
    body: Mapping[str, Any]
    deployment: Deployment
    credential: Credential | None
    request_id: str


@dataclass(slots=True)
class EmbeddingsResult:
    body: dict[str, Any]  # an OpenAI `list` of `embedding` objects
    usage: Usage | None  # None: the upstream reported none; the pipeline counts it


class ChatProvider(Protocol):
    async def complete(self, call: ChatCall) -> ChatResult: ...

    def stream(self, call: ChatCall) -> AsyncIterator[StreamEvent]: ...


@runtime_checkable
class EmbeddingsProvider(Protocol):
    async def embed(self, call: EmbeddingsCall) -> EmbeddingsResult: ...
