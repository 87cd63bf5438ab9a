"""The stage and output-filter contract, pinned on a real `Pipeline` with a scripted provider.

What a stage author may rely on: `before` in order, `after` in reverse and only for stages
whose `before` ran, on every path; typed short-circuits; filters in reverse stage order that
may drop, split, hold and flush chunks, see complete bodies and cache replays, and stop the
answer in the client's own API; typed slots; namespaced log fields; one way to rewrite the body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from aigw.auth.records import KeyRecord
from aigw.config import load_config
from aigw.errors import TooManyRequests
from aigw.observability import Observer
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import RequestContext
from aigw.pipeline.outcome import JsonOutcome, StreamOutcome
from aigw.pipeline.pipeline import Pipeline
from aigw.pipeline.stages import Reject, Respond, ShortCircuit, Stop
from aigw.pricing.cost import Usage
from aigw.providers.base import ChatCall, ChatChunk, ChatResult, NativeRequest, StreamEvent
from aigw.providers.registry import ProviderRegistry
from aigw.routing.router import Router
from aigw.translate.anthropic_client import AnthropicCodec

CONFIG = load_config({"models": [{"name": "m", "deployments": [{"provider": "mock", "model": "m"}],
                                  "price": {"input_per_mtok": 1, "output_per_mtok": 1}}]})
WORDS = ["Hello", " there", ", my", " secret", " is", " 42"]


def chunk(text: str | None = None, finish: str | None = None) -> ChatChunk:
    delta: dict[str, Any] = {"content": text} if text is not None else {}
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class Scripted:
    """A provider that answers WORDS, streamed or complete, and records what it was sent."""

    def __init__(self) -> None:
        self.calls: list[ChatCall] = []

    async def complete(self, call: ChatCall) -> ChatResult:
        self.calls.append(call)
        body = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(WORDS)},
                             "finish_reason": "stop"}]}
        return ChatResult(body, Usage(input_tokens=3, output_tokens=6))

    async def stream(self, call: ChatCall) -> AsyncIterator[StreamEvent]:
        self.calls.append(call)
        yield chunk("")
        for word in WORDS:
            yield chunk(word)
        yield chunk(finish="stop")
        yield Usage(input_tokens=3, output_tokens=6)


class Recorder:
    """A stage that records its calls into a shared journal."""

    def __init__(self, name: str, journal: list[str], short: ShortCircuit | None = None) -> None:
        self.name = name
        self.journal = journal
        self.short = short

    async def before(self, ctx: RequestContext) -> ShortCircuit | None:
        self.journal.append(f"before:{self.name}")
        return self.short

    async def after(self, ctx: RequestContext) -> None:
        self.journal.append(f"after:{self.name}")


class Upper(Recorder):
    """A filter that upper-cases text, splits each chunk in two, and journals what it saw."""

    async def on_chunk(self, ctx: RequestContext, c: ChatChunk) -> Sequence[ChatChunk] | Stop:
        self.journal.append(f"chunk:{self.name}")
        text = (c["choices"][0]["delta"].get("content") if c.get("choices") else None) or ""
        if not text:
            return (c,)
        half = len(text) // 2
        return (chunk(text[:half].upper()), chunk(text[half:].upper()))

    async def on_end(self, ctx: RequestContext) -> Sequence[ChatChunk] | Stop:
        return ()

    async def on_body(self, ctx: RequestContext, result: ChatResult) -> ChatResult | Stop:
        self.journal.append(f"body:{self.name}")
        message = result.body["choices"][0]["message"]
        body = {**result.body, "choices": [{**result.body["choices"][0],
                                            "message": {**message, "content": message["content"].upper()}}]}
        return ChatResult(body, result.usage)


class HoldAll(Recorder):
    """Holds every chunk back and releases them at the end (the widest legal hold)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held: list[ChatChunk] = []

    async def on_chunk(self, ctx: RequestContext, c: ChatChunk) -> Sequence[ChatChunk] | Stop:
        self.held.append(c)
        return ()

    async def on_end(self, ctx: RequestContext) -> Sequence[ChatChunk] | Stop:
        self.journal.append(f"end:{self.name}")
        return self.held

    async def on_body(self, ctx: RequestContext, result: ChatResult) -> ChatResult | Stop:
        return result


class StopAt(Recorder):
    """Stops the answer when `word` appears (a guardrail block)."""

    def __init__(self, *args: Any, word: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.word = word

    async def on_chunk(self, ctx: RequestContext, c: ChatChunk) -> Sequence[ChatChunk] | Stop:
        text = (c["choices"][0]["delta"].get("content") if c.get("choices") else None) or ""
        return Stop(by=self.name, detail={"found": "word"}) if self.word in text else (c,)

    async def on_end(self, ctx: RequestContext) -> Sequence[ChatChunk] | Stop:
        return ()

    async def on_body(self, ctx: RequestContext, result: ChatResult) -> ChatResult | Stop:
        text = result.body["choices"][0]["message"]["content"]
        return Stop(by=self.name) if self.word in text else result


def pipeline(stages: list[Any], records: list[dict[str, Any]] | None = None) -> tuple[Pipeline, Scripted]:
    provider = Scripted()
    registry = ProviderRegistry(httpx.AsyncClient(), overrides={"mock": provider})
    observer = Observer(sink=(records.append if records is not None else None), metrics=False,
                        stream=open("/dev/null", "w"))  # noqa: SIM115
    return Pipeline(stages=stages, router=Router(CONFIG), providers=registry, credentials=None,
                    observer=observer), provider


def context(*, stream: bool = False, codec: Any = None, native: NativeRequest | None = None) -> RequestContext:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi alice@example.com"}], "stream": stream}
    return RequestContext(request_id="req_1", operation="chat", key=KeyRecord(key_hash="h", key_id="k", team_id="t"),
                          model=CONFIG.models[0], body=body, codec=codec or OpenAICodec(), stream=stream,
                          native=native)


async def collect(outcome: Any) -> list[bytes]:
    assert isinstance(outcome, StreamOutcome)
    return [frame async for frame in outcome.body]


def openai_texts(frames: list[bytes]) -> tuple[str, list[str | None]]:
    text, finishes = "", []
    for frame in b"".join(frames).split(b"\n\n"):
        if not frame.startswith(b"data: {"):
            continue
        data = json.loads(frame[6:])
        for choice in data.get("choices") or []:
            text += choice["delta"].get("content") or ""
            finishes.append(choice.get("finish_reason"))
    return text, [f for f in finishes if f]


async def test_before_in_order_after_in_reverse_filters_in_reverse() -> None:
    journal: list[str] = []
    p, _ = pipeline([Upper("a", journal), Recorder("b", journal), Upper("c", journal)])
    outcome = await p.handle(context())
    assert isinstance(outcome, JsonOutcome)
    assert journal == ["before:a", "before:b", "before:c", "body:c", "body:a", "after:c", "after:b", "after:a"]
    assert outcome.body["choices"][0]["message"]["content"] == "".join(WORDS).upper()


async def test_reject_runs_after_only_for_stages_that_ran_and_logs_once() -> None:
    journal: list[str] = []
    records: list[dict[str, Any]] = []
    refusal = TooManyRequests("no", code="budget_exceeded")
    p, provider = pipeline([Recorder("a", journal), Recorder("b", journal, Reject(refusal)),
                            Recorder("c", journal)], records)
    with pytest.raises(TooManyRequests):
        await p.handle(context())
    assert journal == ["before:a", "before:b", "after:b", "after:a"]
    assert provider.calls == [] and len(records) == 1 and records[0]["status"] == 429


async def test_a_streamed_chunk_may_become_several_and_every_filter_sees_the_output_of_the_one_before() -> None:
    journal: list[str] = []
    p, _ = pipeline([Upper("a", journal), Upper("b", journal)])
    frames = await collect(await p.handle(context(stream=True)))
    text, finishes = openai_texts(frames)
    assert text == "".join(WORDS).upper() and finishes == ["stop"]
    # each upstream text chunk was split by b, and each half seen by a: a sees twice as many
    assert journal.count("chunk:a") > journal.count("chunk:b")
    assert frames[-1] == b"data: [DONE]\n\n"


async def test_a_held_tail_is_flushed_at_the_end_through_the_later_filters() -> None:
    journal: list[str] = []
    p, _ = pipeline([Upper("outer", journal), HoldAll("inner", journal)])
    text, finishes = openai_texts(await collect(await p.handle(context(stream=True))))
    assert text == "".join(WORDS).upper() and finishes == ["stop"]
    assert "end:inner" in journal


async def test_a_stop_mid_stream_ends_it_as_content_filter_and_bills_what_was_generated() -> None:
    records: list[dict[str, Any]] = []
    p, _ = pipeline([StopAt("guard", [], word="secret")], records)
    text, finishes = openai_texts(await collect(await p.handle(context(stream=True))))
    assert "secret" not in text and text == "Hello there, my"
    assert finishes == ["content_filter"]
    assert records[0]["stopped_by"] == "guard" and records[0]["output_tokens"] > 0 and records[0]["cost_usd"] > 0


async def test_a_stop_renders_as_a_refusal_in_the_anthropic_api() -> None:
    p, _ = pipeline([StopAt("guard", [], word="secret")])
    frames = b"".join(await collect(await p.handle(context(stream=True, codec=AnthropicCodec("m", lambda: 1)))))
    assert b'"stop_reason":"refusal"' in frames and b"end_turn" not in frames and b"secret" not in frames
    assert frames.rstrip().endswith(b'{"type":"message_stop"}')


async def test_a_stop_on_a_complete_body_is_a_content_filter_answer() -> None:
    p, _ = pipeline([StopAt("guard", [], word="secret")])
    ctx = context()
    outcome = await p.handle(ctx)
    assert isinstance(outcome, JsonOutcome)
    choice = outcome.body["choices"][0]
    assert choice["finish_reason"] == "content_filter" and "secret" not in json.dumps(outcome.body)
    assert ctx.stopped is not None and ctx.cost_usd > 0


async def test_cache_replays_pass_the_filters_of_the_stages_before_the_one_that_answered() -> None:
    journal: list[str] = []
    hit = ChatResult({"id": "c9", "object": "chat.completion", "created": 1, "model": "m",
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": "cached secret"},
                                   "finish_reason": "stop"}]}, Usage(input_tokens=1, output_tokens=2))
    p, provider = pipeline([StopAt("guard", journal, word="secret"), Recorder("cache", journal, Respond(hit))])
    text, finishes = openai_texts(await collect(await p.handle(context(stream=True))))
    assert finishes == ["content_filter"] and "secret" not in text and provider.calls == []
    p, _ = pipeline([Upper("guard", journal), Recorder("cache", journal, Respond(hit))])
    outcome = await p.handle(context())
    assert isinstance(outcome, JsonOutcome) and outcome.body["choices"][0]["message"]["content"] == "CACHED SECRET"


async def test_typed_slots_and_namespaced_log_fields() -> None:
    class Mine:
        pass

    class Other:
        pass

    ctx = context()
    mine = Mine()
    ctx.put(mine)
    assert ctx.slot(Mine) is mine and ctx.slot(Other) is None
    ctx.log_for("cache")["cache_skip"] = "x"
    assert ctx.log["cache_skip"] == "x" and ctx.log.by_namespace() == {"cache": {"cache_skip": "x"}}
    with pytest.raises(KeyError):
        ctx.log_for("guardrails")["cost_usd"] = 0  # a core field
    with pytest.raises(KeyError):
        ctx.log_for("guardrails")["cache_skip"] = "y"  # another stage's field
    assert ctx.log["cache_skip"] == "x"
    records: list[dict[str, Any]] = []
    p, _ = pipeline([], records)
    ctx = context()
    ctx.log_for("mine")["mine_x"] = 1
    await p.handle(ctx)
    assert records[0]["status"] == 200 and records[0]["mine_x"] == 1


async def test_rewrite_texts_reaches_the_canonical_and_the_native_body_alike() -> None:
    native = NativeRequest("messages", {"model": "m", "max_tokens": 5, "system": "sys alice@example.com",
                                        "messages": [{"role": "user", "content": [
                                            {"type": "text", "text": "hi alice@example.com"}]}]})
    ctx = context(codec=AnthropicCodec("m", lambda: 1), native=native)
    before = dict(ctx.body)
    ctx.rewrite_texts(lambda t: t.replace("alice@example.com", "[EMAIL_1]"))
    assert "alice" not in json.dumps(ctx.body) and ctx.native is not None
    assert "alice" not in json.dumps(dict(ctx.native.body)) and "[EMAIL_1]" in ctx.native.body["system"]
    assert "alice" in json.dumps(before)  # the original body object was not mutated
    p, provider = pipeline([])
    await p.handle(ctx)
    assert provider.calls[0].native is not None and "alice" not in json.dumps(dict(provider.calls[0].native.body))
    ctx.replace_body({**ctx.body, "max_tokens": 7})
    assert ctx.native is None and ctx.body["max_tokens"] == 7  # a stale native body is never sent
