"""The span tree a request leaves, on a real `Pipeline` with a scripted provider and the SDK's
in-memory exporter: every path ends every span it opened (short-circuits, refusals, a stage
that raised, a stream replayed from the cache), and spans are parented and named as the
conventions say."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aigw.auth.records import KeyRecord
from aigw.config import load_config
from aigw.errors import TooManyRequests
from aigw.observability import Observer
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import RequestContext
from aigw.pipeline.outcome import StreamOutcome
from aigw.pipeline.pipeline import Pipeline
from aigw.pipeline.stages import Reject, Respond, ShortCircuit
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatCall, ChatResult, StreamEvent
from aigw.providers.registry import ProviderRegistry
from aigw.routing.router import Router
from aigw.telemetry.listener import TraceListener

CONFIG = load_config({"models": [{"name": "m", "deployments": [{"provider": "mock", "model": "m-up"}],
                                  "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
                                 {"name": "e", "mode": "embedding",
                                  "deployments": [{"provider": "mock", "model": "e-up"}],
                                  "price": {"input_per_mtok": 1, "output_per_mtok": 0}}]})
BODY = {"id": "cmpl-1", "object": "chat.completion", "created": 1, "model": "m-up-2026",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "length"}]}


def chunk(text: str | None = None, finish: str | None = None) -> dict[str, Any]:
    return {"id": "cmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "m-up-2026",
            "choices": [{"index": 0, "delta": {"content": text} if text is not None else {}, "finish_reason": finish}]}


class Scripted:
    async def complete(self, call: ChatCall) -> ChatResult:
        return ChatResult(BODY, Usage(input_tokens=4, output_tokens=2))

    async def stream(self, call: ChatCall) -> AsyncIterator[StreamEvent]:
        for piece in ("Hi", " there"):
            yield chunk(piece)
        yield chunk(finish="stop")
        yield Usage(input_tokens=4, output_tokens=2, cache_read_tokens=1)

    async def embed(self, call: Any) -> Any:
        return ChatResult({"object": "list", "data": [], "model": "e-up"}, Usage(input_tokens=3))


class Stage:
    def __init__(self, name: str, short: ShortCircuit | None = None, fail: bool = False) -> None:
        self.name, self.short, self.fail = name, short, fail

    async def before(self, ctx: RequestContext) -> ShortCircuit | None:
        if self.fail:
            raise RuntimeError("stage bug")
        return self.short

    async def after(self, ctx: RequestContext) -> None:
        return None


@pytest.fixture
def traced() -> tuple[TraceListener, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return TraceListener(provider), exporter


def run(listener: TraceListener, stages: list[Any]) -> Pipeline:
    observer = Observer(metrics=False, stream=open("/dev/null", "w"), listeners=[listener])  # noqa: SIM115
    registry = ProviderRegistry(httpx.AsyncClient(), overrides={"mock": Scripted()})
    return Pipeline(stages=[listener.response_tap, *stages], router=Router(CONFIG, events=observer),
                    providers=registry, credentials=None, observer=observer)


def context(*, stream: bool = False, model: int = 0, headers: dict[str, str] | None = None) -> RequestContext:
    operation = "embeddings" if model == 1 else "chat"
    body: dict[str, Any] = {"model": CONFIG.models[model].name, "stream": stream, "max_completion_tokens": 9,
                            "messages": [{"role": "user", "content": "hi"}]} if model == 0 else {"input": "x"}
    return RequestContext(request_id="req_1", operation=operation,
                          key=KeyRecord(key_hash="h", key_id="key_1", team_id="t"), model=CONFIG.models[model],
                          body=body, codec=OpenAICodec(), stream=stream, request_headers=headers or {})


def spans(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    out = {span.name: span for span in exporter.get_finished_spans()}
    assert len(out) == len(exporter.get_finished_spans()), "span names are unique in these tests"
    return out


async def test_a_complete_answer(traced: Any) -> None:
    listener, exporter = traced
    await run(listener, [Stage("cache")]).handle(context())
    found = spans(exporter)
    assert sorted(found) == ["POST /v1/chat/completions", "aigw.cache", "chat m-up"]
    server, stage, attempt = found["POST /v1/chat/completions"], found["aigw.cache"], found["chat m-up"]
    assert server.kind == SpanKind.SERVER and attempt.kind == SpanKind.CLIENT
    assert server.parent is None
    assert stage.parent is not None and attempt.parent is not None
    assert stage.parent.span_id == attempt.parent.span_id == server.context.span_id
    expected = {"gen_ai.response.id": "cmpl-1", "gen_ai.response.model": "m-up-2026",
                "gen_ai.response.finish_reasons": ("length",), "gen_ai.usage.input_tokens": 4,
                "gen_ai.usage.output_tokens": 2, "gen_ai.request.max_tokens": 9, "gen_ai.provider.name": "mock"}
    assert {k: (attempt.attributes or {}).get(k) for k in expected} == expected
    assert (server.attributes or {})["gen_ai.response.finish_reasons"] == ("length",)
    assert "server.address" not in (attempt.attributes or {})  # the mock provider lives in-process
    assert server.end_time is not None and attempt.end_time is not None and attempt.end_time <= server.end_time


async def test_a_stream_replayed_from_the_cache_has_no_attempt_and_its_response_from_the_tap(traced: Any) -> None:
    listener, exporter = traced
    hit = Respond(ChatResult(BODY, Usage(input_tokens=4, output_tokens=2)), cache="hit")
    outcome = await run(listener, [Stage("cache", hit)]).handle(context(stream=True))
    assert isinstance(outcome, StreamOutcome)
    # The request (its server span) is done only once the stream is.
    assert [s.name for s in exporter.get_finished_spans()] == ["aigw.cache"]
    [frame async for frame in outcome.body]
    found = spans(exporter)
    assert sorted(found) == ["POST /v1/chat/completions", "aigw.cache"]
    attributes = found["POST /v1/chat/completions"].attributes or {}
    assert (attributes["aigw.cache.result"], attributes["gen_ai.response.id"]) == ("hit", "cmpl-1")
    assert attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert "gen_ai.provider.name" not in attributes and attributes["aigw.attempts"] == 0
    assert (found["aigw.cache"].attributes or {})["aigw.stage.outcome"] == "respond"


async def test_a_streamed_answer_reads_id_model_and_finish_from_the_stream(traced: Any) -> None:
    listener, exporter = traced
    outcome = await run(listener, []).handle(context(stream=True))
    assert isinstance(outcome, StreamOutcome)
    [frame async for frame in outcome.body]
    attempt = spans(exporter)["chat m-up"].attributes or {}
    assert (attempt["gen_ai.response.id"], attempt["gen_ai.response.model"]) == ("cmpl-s", "m-up-2026")
    assert attempt["gen_ai.response.finish_reasons"] == ("stop",)
    assert attempt["gen_ai.usage.cache_read.input_tokens"] == 1


async def test_a_refusal_and_a_stage_that_raised_still_end_every_span(traced: Any) -> None:
    listener, exporter = traced
    refusal = Reject(TooManyRequests("no", code="budget_exceeded"))
    with pytest.raises(TooManyRequests):
        await run(listener, [Stage("admission", refusal)]).handle(context())
    found = spans(exporter)
    assert (found["aigw.admission"].attributes or {})["error.type"] == "budget_exceeded"
    assert (found["POST /v1/chat/completions"].attributes or {})["http.response.status_code"] == 429
    assert found["POST /v1/chat/completions"].status.status_code == StatusCode.UNSET  # a 4xx is the client's
    exporter.clear()
    with pytest.raises(RuntimeError):
        await run(listener, [Stage("guardrails", fail=True)]).handle(context())
    found = spans(exporter)
    assert found["aigw.guardrails"].status.status_code == StatusCode.ERROR
    assert (found["aigw.guardrails"].attributes or {})["error.type"] == "aborted"
    assert found["POST /v1/chat/completions"].status.status_code == StatusCode.ERROR  # a 500


async def test_embeddings_and_a_malformed_traceparent(traced: Any) -> None:
    listener, exporter = traced
    await run(listener, []).handle(context(model=1, headers={"traceparent": "00-zz-not-a-trace-01"}))
    found = spans(exporter)
    assert sorted(found) == ["POST /v1/embeddings", "embeddings e-up"]
    server = found["POST /v1/embeddings"]
    assert server.parent is None  # an unusable traceparent starts a new trace rather than failing
    assert (server.attributes or {})["gen_ai.operation.name"] == "embeddings"
    assert (server.attributes or {})["gen_ai.usage.input_tokens"] == 3
    assert "gen_ai.request.max_tokens" not in (server.attributes or {})
