"""The LIFO upstream pool against a real socket server: reuse, release, errors as httpx maps them."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from aigw.providers.pool import LifoTransport

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=60)


class Server:
    """HTTP/1.1 keep-alive server: counts connections; `/slow` never answers; `/close` closes after."""

    def __init__(self) -> None:
        self.connections = 0
        self.open = self.peak = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ")[1]
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                if path == b"/sse":  # chunked, its last (empty) chunk sent a moment after [DONE]
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                                 b"transfer-encoding: chunked\r\n\r\n")
                    frame = b"data: [DONE]\n\n"
                    writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
                    await writer.drain()
                    await asyncio.sleep(0.005)
                    writer.write(b"0\r\n\r\n")
                    await writer.drain()
                    continue
                if path == b"/slow":
                    await asyncio.sleep(30)
                body = b"x" * 5000 if path == b"/big" else b'{"ok":true}'
                close = path == b"/close"
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                             + str(len(body)).encode() + (b"\r\nconnection: close" if close else b"")
                             + b"\r\n\r\n" + body)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open -= 1
            writer.close()


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=LifoTransport(limits=LIMITS), timeout=httpx.Timeout(5.0))


async def test_sequential_requests_reuse_one_connection() -> None:
    async with Server() as server, client() as http:
        for _ in range(5):
            response = await http.post(f"http://127.0.0.1:{server.port}/", json={"a": 1})
            assert response.json() == {"ok": True}
        assert server.connections == 1


async def test_concurrent_requests_are_capped_and_keepalive_bounded() -> None:
    async with Server() as server, client() as http:
        answers = await asyncio.gather(*(http.get(f"http://127.0.0.1:{server.port}/") for _ in range(12)))
        assert all(a.status_code == 200 for a in answers)
        assert server.peak <= 4  # max_connections
        assert http._transport._pool._idle_count <= 2  # type: ignore[attr-defined]


async def test_a_server_closed_connection_is_not_reused() -> None:
    async with Server() as server, client() as http:
        await http.get(f"http://127.0.0.1:{server.port}/close")
        await http.get(f"http://127.0.0.1:{server.port}/")
        assert server.connections == 2


async def test_a_stream_closed_early_gives_its_slot_back() -> None:
    async with Server() as server, client() as http:
        for _ in range(6):  # more than max_connections: a leaked slot would hang here
            async with http.stream("GET", f"http://127.0.0.1:{server.port}/big") as response:
                async for _chunk in response.aiter_raw(100):
                    break
        assert (await http.get(f"http://127.0.0.1:{server.port}/")).status_code == 200


async def test_timeouts_and_refusals_are_httpx_errors() -> None:
    async with Server() as server, client() as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"http://127.0.0.1:{server.port}/slow", timeout=0.2)
        for _ in range(5):  # the timed-out requests' slots came back
            with pytest.raises(httpx.ReadTimeout):
                await http.get(f"http://127.0.0.1:{server.port}/slow", timeout=0.05)
        assert (await http.get(f"http://127.0.0.1:{server.port}/")).status_code == 200
    with pytest.raises(httpx.ConnectError):
        async with client() as http:
            await http.get(f"http://127.0.0.1:{server.port}/")


async def test_a_cancelled_request_gives_its_slot_back() -> None:
    async with Server() as server, client() as http:
        for _ in range(6):
            task = asyncio.create_task(http.get(f"http://127.0.0.1:{server.port}/slow"))
            await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert (await http.get(f"http://127.0.0.1:{server.port}/")).status_code == 200


async def test_a_stream_read_to_its_protocol_end_keeps_its_connection() -> None:
    from aigw.providers.http import _drain
    from aigw.providers.sse import iter_sse_bytes

    async with Server() as server, client() as http:
        for _ in range(3):
            async with http.stream("GET", f"http://127.0.0.1:{server.port}/sse") as response:
                body = response.aiter_bytes()
                async for event in iter_sse_bytes(body):
                    assert event.data == "[DONE]"
                    await _drain(body)
                    break
        assert server.connections == 1
