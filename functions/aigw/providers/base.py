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
Closing the stream early (`aclose()`) must cancel the upstream call. A stream that ends
before its protocol's end (OpenAI `[DONE]`, Anthropic `message_stop`, ...) is a failure
(`errors.stream_truncated`), never a success.

When the upstream speaks the client's own API (Anthropic deployment behind /v1/messages),
the adapter yields `NativeChunk`s, canonical chunks that also carry the upstream's SSE frame
verbatim, and a complete answer carries the upstream body in `ChatResult.native`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from aigw.config.models import Deployment
from aigw.pricing.cost import Usage
from aigw.providers.redact import register

# One `chat.completion.chunk` object in OpenAI wire shape, `usage` removed (usage travels
# as a separate `Usage` event so every provider reports it the same way).
ChatChunk = dict[str, Any]
StreamEvent = ChatChunk | Usage


class CaughtUp:
    """Between events of a stream whose `ChatCall` asked for `caught_up` marks: every event the
    upstream has sent so far has been yielded, so the next one needs a read and may take a
    while. The pipeline sends what it framed in the meantime then, in one write, instead of a
    write per event (a burst of events from one read costs a send, a wake-up and a read each,
    on both sides). A provider that cannot tell yields none: every event is then sent at once."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "CAUGHT_UP"


CAUGHT_UP = CaughtUp()
StreamItem = StreamEvent | CaughtUp  # what a provider's stream yields


class NativeChunk(dict[str, Any]):
    """A canonical chunk (possibly with empty `choices`, for frames such as `ping`) that also
    carries the upstream's SSE frame(s) verbatim, for a client that speaks the upstream's API.
    A filter that replaces the chunk object drops `native`: the codec then renders the chunk.
    `unsettled`: the event's data when the usage in it is not the upstream's to show (invalid
    counts): the codec sends that event with the gateway's usage instead of the frame."""

    __slots__ = ("native", "unsettled")

    def __init__(self, chunk: ChatChunk, native: bytes, unsettled: dict[str, Any] | None = None) -> None:
        super().__init__(chunk)
        self.native = native
        self.unsettled = unsettled


@dataclass(frozen=True, slots=True)
class Credential:
    """A provider credential from Secrets Manager. `repr` never shows the values."""

    values: Mapping[str, str] = field(repr=False)

    def __post_init__(self) -> None:
        register(self.values.values())  # whatever an upstream echoes of it is redacted from errors

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
    # A stream may yield CAUGHT_UP marks: asked of a provider with `marks_caught_up = True`.
    caught_up: bool = False


@dataclass(slots=True)
class ChatResult:
    body: dict[str, Any]  # a `chat.completion` object in OpenAI wire shape (the canonical view)
    usage: Usage | None  # None: the upstream reported none; the pipeline counts it
    native: dict[str, Any] | None = None  # the body in the client's own API, when the upstream spoke it


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

    def stream(self, call: ChatCall) -> AsyncIterator[StreamItem]: ...


@runtime_checkable
class EmbeddingsProvider(Protocol):
    async def embed(self, call: EmbeddingsCall) -> EmbeddingsResult: ...
