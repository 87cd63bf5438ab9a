"""bench/relay.py, the peers bench's floor, moves every byte both ways, including the ones a
client sends before the relay's own upstream connection is up, and closes with the upstream
(or at once, when there is no upstream to reach)."""

from __future__ import annotations

import asyncio

from bench.relay import _Client


def test_bytes_go_both_ways_and_the_upstreams_close_reaches_the_client() -> None:
    async def run() -> tuple[bytes, bytes]:
        received: list[bytes] = []

        async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            received.append(await reader.readexactly(len(b"GET / HTTP/1.1\r\n\r\n") * 2))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
            writer.close()

        loop = asyncio.get_running_loop()
        up = await asyncio.start_server(upstream, "127.0.0.1", 0)
        up_port = up.sockets[0].getsockname()[1]
        relay = await loop.create_server(lambda: _Client(up_port), "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.sockets[0].getsockname()[1])
        writer.write(b"GET / HTTP/1.1\r\n\r\n")  # at once: before the relay has its upstream
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)  # to EOF: the upstream's close is relayed
        writer.close()
        relay.close()
        up.close()
        return received[0], answer

    sent, answer = asyncio.run(run())
    assert sent == b"GET / HTTP/1.1\r\n\r\n" * 2
    assert answer == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


def test_a_client_whose_upstream_cannot_be_reached_is_closed_not_left_waiting() -> None:
    async def run() -> bytes:
        loop = asyncio.get_running_loop()
        probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        dead_port = probe.sockets[0].getsockname()[1]
        probe.close()
        await probe.wait_closed()  # nothing listens there now: the relay's connect is refused
        relay = await loop.create_server(lambda: _Client(dead_port), "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.sockets[0].getsockname()[1])
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)  # EOF, not a timeout
        writer.close()
        relay.close()
        return answer

    assert asyncio.run(run()) == b""
