"""The byte-level SSE reader equals the reference (httpx `aiter_lines` + `iter_sse`) on any split."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.providers.sse import SSEEvent, iter_sse, iter_sse_bytes

# Characters str.splitlines treats as line ends besides CR/LF: the reference splits at them, SSE
# does not (tested apart below), so the generated text avoids them.
SPLITLINES_ONLY = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
TEXT = st.text(st.characters(blacklist_characters="\r\n" + SPLITLINES_ONLY, blacklist_categories=("Cs",)),
               max_size=12)
LINE = st.one_of(
    st.builds(lambda v: f"data: {v}", TEXT), st.builds(lambda v: f"data:{v}", TEXT),
    st.builds(lambda v: f"event: {v}", TEXT), st.builds(lambda v: f": {v}", TEXT),
    st.just(""), st.just("data"), TEXT,
)
END = st.sampled_from(["\n", "\r\n", "\r"])


async def chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def split(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


async def reference(parts: list[bytes]) -> list[SSEEvent]:
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks(parts))
    return [e async for e in iter_sse(response.aiter_lines())]


async def fast(parts: list[bytes]) -> list[SSEEvent]:
    return [e async for e in iter_sse_bytes(chunks(parts))]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(LINE, END), max_size=12), st.booleans(), st.lists(st.integers(0, 10_000), max_size=8))
def test_equals_the_reference_on_any_split(lines: list[tuple[str, str]], cut_last: bool, cuts: list[int]) -> None:
    text = "".join(line + end for line, end in lines)
    if cut_last and lines:
        text = text[: -len(lines[-1][1])]  # a stream may stop without its final line end
    raw = text.encode()
    parts = split(raw, cuts)
    assert asyncio.run(fast(parts)) == asyncio.run(reference(parts))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40).filter(lambda b: not any(c in b for c in b"\r\n\x0b\x0c\x1c\x1d\x1e")
                                      and b"\xc2\x85" not in b and b"\xe2\x80\xa8" not in b
                                      and b"\xe2\x80\xa9" not in b),
       st.lists(st.integers(0, 100), max_size=6))
def test_invalid_utf8_is_replaced_as_the_reference_does(payload: bytes, cuts: list[int]) -> None:
    raw = b"data: " + payload + b"\n\n"
    parts = split(raw, cuts)
    assert asyncio.run(fast(parts)) == asyncio.run(reference(parts))


def test_lines_end_only_at_cr_and_lf() -> None:
    """A raw U+2028 or form feed inside a JSON data line is data (the reference split it there)."""
    raw = 'data: {"content":"a\u2028b\x0cc\x85d"}\n\n'.encode()
    assert asyncio.run(fast([raw[:9], raw[9:]])) == [SSEEvent(None, '{"content":"a\u2028b\x0cc\x85d"}')]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(LINE, END), max_size=12), st.lists(st.integers(0, 10_000), max_size=8))
def test_caught_up_marks_fall_between_reads(lines: list[tuple[str, str]], cuts: list[int]) -> None:
    """With `caught_up`, the same events, and at most one None per chunk read, after the events
    that chunk completed (the pipeline sends what it framed then: the next needs a read)."""
    parts = split("".join(line + end for line, end in lines).encode(), cuts)
    read: list[int] = []

    async def counted() -> AsyncIterator[bytes]:
        for part in parts:
            read.append(1)
            yield part

    async def marked() -> tuple[list[SSEEvent], list[int]]:
        events, marks = [], []
        async for item in iter_sse_bytes(counted(), caught_up=True):
            if item is None:
                marks.append(len(read))
            else:
                events.append(item)
        return events, marks

    events, marks = asyncio.run(marked())
    assert events == asyncio.run(fast(parts))
    assert marks == sorted(set(marks))  # one per read at most, in order
