"""bench/loadgen.py reads whole responses, whatever their framing, so a keep-alive connection
stays in step (a misread body would make the next status line garbage)."""

from __future__ import annotations

import asyncio

from bench.loadgen import read_response, request_bytes


def _read_all(data: bytes) -> list[tuple[int, bool]]:
    async def run() -> list[tuple[int, bool]]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        out = []
        while not reader.at_eof():
            out.append(await read_response(reader))
        return out

    return asyncio.run(run())


def test_content_length_and_chunked_responses_back_to_back() -> None:
    data = (b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
            b"HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
    assert _read_all(data) == [(200, True), (429, True), (200, False)]


def test_request_bytes_frames_the_body() -> None:
    host, port, raw = request_bytes("http://127.0.0.1:8123/v1/chat/completions", {"a": 1}, {"authorization": "x"})
    head, _, body = raw.partition(b"\r\n\r\n")
    assert (host, port) == ("127.0.0.1", 8123)
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"content-length: %d" % len(body) in head and b"authorization: x" in head
