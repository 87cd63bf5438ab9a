"""`HttpChatProvider.stream` reads an upstream's body as `iter_sse_bytes` over it reads: the same
items, the same caught-up marks (after each read that ended a line), the same end (a protocol
end with anything after it ignored, a truncation, a broken body), however the body's bytes are
split into reads. The reference composes the generator the provider used before it read the
body itself (translator over `iter_sse_bytes`), so the two ways are held equal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.config.models import Deployment
from aigw.errors import UpstreamError
from aigw.providers.base import CAUGHT_UP, ChatCall
from aigw.providers.openai import OpenAIChatTranslator, OpenAIProvider
from aigw.providers.sse import iter_sse_bytes
from aigw.providers.upstream_client import UpstreamClient

DEPLOYMENT = Deployment(provider="openai-compatible", model="m", api_base="http://upstream.test/v1")
CALL = ChatCall({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, DEPLOYMENT, None, "req-1",
                caught_up=True)


def _chunk(text: str | None, finish: str | None = None, usage: bool = False) -> bytes:
    choices = [] if usage else [{"index": 0, "delta": {} if text is None else {"content": text},
                                 "finish_reason": finish}]
    body: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                            "choices": choices}
    if usage:
        body["usage"] = {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class _Parts(httpx.AsyncByteStream):
    """A body that comes in exactly these reads, then ends or breaks."""

    def __init__(self, parts: list[bytes], broken: bool) -> None:
        self.parts = parts
        self.broken = broken

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            await asyncio.sleep(0)
            yield part
        if self.broken:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


def _split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(body)})
    return [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]


async def _provider_items(parts: list[bytes], broken: bool) -> list[Any]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Parts(parts, broken))

    async with UpstreamClient(transport=httpx.MockTransport(handler)) as client:
        provider = OpenAIProvider(client, {"openai": OpenAIChatTranslator})
        out: list[Any] = []
        try:
            async for item in provider.stream(CALL):
                out.append(item)
        except UpstreamError as exc:
            out.append(("error", exc.status, exc.code))
        return out


async def _reference_items(parts: list[bytes], broken: bool) -> list[Any]:
    """The translator over `iter_sse_bytes` (a None is a mark), ended as the provider ends it."""
    translator = OpenAIChatTranslator()
    out: list[Any] = []
    failed: tuple[Any, ...] | None = None
    try:
        async for event in iter_sse_bytes(_Parts(parts, broken).__aiter__(), caught_up=True):
            if event is None:
                out.append(CAUGHT_UP)
                continue
            out.extend(translator.stream_event(event))
            if translator.ended():
                break
    except httpx.RemoteProtocolError:
        failed = ("error", 502, "truncated")
    try:
        out.extend(translator.stream_end())
    except UpstreamError as exc:
        out.append(failed or ("error", exc.status, exc.code))
    return out


texts = st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=6), max_size=5)


@settings(max_examples=150, deadline=None)
@given(texts=texts, finish=st.booleans(), usage=st.booleans(), done=st.booleans(),
       after=st.sampled_from([b"", b"data: {\"late\": 1}\n\n", b": comment\n\n"]),
       cuts=st.lists(st.integers(1, 2000), max_size=8), broken=st.booleans(), crlf=st.booleans())
def test_the_provider_reads_a_body_as_iter_sse_bytes_over_it(texts: list[str], finish: bool, usage: bool,
                                                             done: bool, after: bytes, cuts: list[int],
                                                             broken: bool, crlf: bool) -> None:
    body = _chunk("") + b"".join(_chunk(t) for t in texts)
    if finish:
        body += _chunk(None, "stop")
    if usage:
        body += _chunk(None, usage=True)
    if done:
        body += b"data: [DONE]\n\n" + after
    if crlf:
        body = body.replace(b"\n", b"\r\n")
    parts = _split(body, cuts)
    ours = asyncio.run(_provider_items(parts, broken))
    reference = asyncio.run(_reference_items(parts, broken))
    assert ours == reference
    if done and not broken:  # reached its end: never an error, whatever followed it
        assert not any(isinstance(item, tuple) for item in ours)
    if not done and not finish:  # neither end came: visibly failed, never a quiet success
        assert isinstance(ours[-1], tuple)


def test_a_last_event_without_its_blank_line_is_still_read() -> None:
    body = _chunk("") + _chunk("hi") + _chunk(None, "stop")
    items = asyncio.run(_provider_items([body[:-1]], broken=False))  # the body ends after the last line's LF
    assert items == asyncio.run(_reference_items([body[:-1]], broken=False))
    assert [i["choices"][0]["finish_reason"] for i in items if isinstance(i, dict)][-1] == "stop"
