"""Stream frames from one upstream read go out together, and none waits on the upstream.

A provider that marks where it caught up with its upstream (`CAUGHT_UP`: the next event needs
a read) lets the pipeline send the frames of a burst in one write; the first text goes at once
with what came before it. Checked against random scripts of events and marks: the client gets
the same bytes as from a provider without marks; by the time the upstream is asked for more
after a mark, or after the first text, the client already has everything before it; and the
writes are at most one per mark, plus the first text and the end."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.auth.records import KeyRecord
from aigw.config import load_config
from aigw.observability import Observer
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import RequestContext
from aigw.pipeline.outcome import StreamOutcome
from aigw.pipeline.pipeline import Pipeline
from aigw.pricing.cost import Usage
from aigw.providers.base import CAUGHT_UP, ChatCall, ChatChunk, ChatResult, StreamItem
from aigw.providers.registry import ProviderRegistry
from aigw.routing.router import Router

CONFIG = load_config({"models": [{"name": "m", "deployments": [{"provider": "mock", "model": "m"}],
                                  "price": {"input_per_mtok": 1, "output_per_mtok": 1}}]})
Step = str | None  # a text event ("" for a chunk without text), or None for a mark
CLIENT = httpx.AsyncClient(verify=False)  # never used (the provider is in-process); one, not one per example


def chunk(text: str, finish: str | None = None) -> ChatChunk:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}]}


class Upstream:
    """Streams a script; with `marks`, a provider that yields CAUGHT_UP (at each None). Each time
    it is asked for more after a mark or after the first text, it notes what the client has
    received by then against what it had sent."""

    def __init__(self, script: list[Step], marks: bool) -> None:
        self.script = script
        self.marks_caught_up = marks
        self.client_text: list[str] = []  # filled by the test's client as frames arrive
        self.late: list[str] = []  # what the client did not have when it should have

    async def complete(self, call: ChatCall) -> ChatResult:
        raise AssertionError("streams only")

    async def stream(self, call: ChatCall) -> AsyncIterator[StreamItem]:
        assert call.caught_up is self.marks_caught_up
        sent, first_text = "", True
        for step in self.script:
            if step is None:
                if self.marks_caught_up:
                    yield CAUGHT_UP
                    self._check(sent, "after a mark")
                continue
            sent += step
            yield chunk(step)
            if step and first_text:
                first_text = False
                self._check(sent, "after the first text")
        yield chunk("", finish="stop")
        yield Usage(input_tokens=1, output_tokens=max(len(self.script), 1))

    def _check(self, sent: str, when: str) -> None:
        if "".join(self.client_text) != sent:
            self.late.append(f"{when}: client had {''.join(self.client_text)!r} of {sent!r}")


async def run(script: list[Step], marks: bool) -> tuple[list[bytes], Upstream]:
    upstream = Upstream(script, marks)
    registry = ProviderRegistry(CLIENT, overrides={"mock": upstream})
    pipeline = Pipeline(stages=[], router=Router(CONFIG), providers=registry, credentials=None,
                        observer=Observer(metrics=False, stream=io.StringIO()))
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    ctx = RequestContext(request_id="req_1", operation="chat", key=KeyRecord(key_hash="h", key_id="k", team_id="t"),
                         model=CONFIG.models[0], body=body, codec=OpenAICodec(), stream=True)
    outcome = await pipeline.handle(ctx)
    assert isinstance(outcome, StreamOutcome)
    frames = []
    async for frame in outcome.body:
        frames.append(frame)
        upstream.client_text.append(text_of(frame))
    return frames, upstream


def text_of(frames: bytes) -> str:
    text = ""
    for frame in frames.split(b"\n\n"):
        if frame.startswith(b"data: {"):
            for choice in json.loads(frame[6:]).get("choices") or []:
                text += choice["delta"].get("content") or ""
    return text


# A script starts with an event (the stream opens on the upstream's first event).
scripts = st.builds(lambda first, rest: [first, *rest], st.sampled_from(["", "Hi"]),
                    st.lists(st.one_of(st.none(), st.sampled_from(["", "a", " b", "c."])), max_size=25))


@settings(max_examples=300, deadline=None)
@given(script=scripts)
async def test_frames_of_a_read_go_together_and_none_waits_on_the_upstream(script: list[Step]) -> None:
    batched, upstream = await run(script, marks=True)
    each, _ = await run(script, marks=False)
    assert b"".join(batched) == b"".join(each)  # the same bytes, in the same order
    assert upstream.late == []
    marks = sum(step is None for step in script)
    assert len(batched) <= marks + 2  # a write per mark at most, the first text, the end


async def test_without_marks_every_frame_goes_at_once() -> None:
    script: list[Step] = ["", "a", "b", None, "c"]
    frames, upstream = await run(script, marks=False)
    assert [text_of(f) for f in frames] == ["", "a", "b", "c", "", ""]  # ... the finish chunk, [DONE]
    assert upstream.late == []


async def test_a_burst_costs_one_write_after_the_first_text() -> None:
    # role chunk, first text, three more in the same read, a mark; then the end
    frames, _ = await run(["", "Hel", "lo", " the", "re", None], marks=True)
    assert [text_of(f) for f in frames] == ["Hel", "lo there", ""]
    assert frames[0].count(b"data: ") == 2  # the role chunk went with the first text
    assert frames[-1].endswith(b"data: [DONE]\n\n")
