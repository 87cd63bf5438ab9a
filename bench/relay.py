"""The floor of the peers bench: `python bench/relay.py --port P --upstream-port U`.

A Python process in the path that does nothing but move bytes: each client connection gets its
own connection to the upstream, and whatever arrives on one side is written to the other
(uvloop, `asyncio.Protocol`, no parsing, no copies beyond the kernel's). What any gateway adds
over it is its own work; what the relay adds is the extra hop itself (two more socket reads and
writes, two more wake-ups) on this machine. `bench/peers.py --floor` runs it as a column.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import cast


class _Upstream(asyncio.Protocol):
    def __init__(self, client: asyncio.Transport) -> None:
        self.client = client

    def data_received(self, data: bytes) -> None:
        self.client.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.close()


class _Client(asyncio.Protocol):
    """Bytes that arrive before the upstream connection is up wait in `pending`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.upstream: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass of it
        # (kept: the loop holds only a weak reference to a task)
        self.connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            upstream, _ = await loop.create_connection(lambda: _Upstream(self.transport), "127.0.0.1",
                                                       self.upstream_port)
        except OSError:  # no upstream: the client sees its connection close, not a hang
            self.transport.close()
            return
        self.upstream = upstream
        if self.closed:  # the client left before the upstream was up
            upstream.close()
            return
        if self.pending:
            upstream.write(b"".join(self.pending))
            self.pending.clear()

    def data_received(self, data: bytes) -> None:
        if self.upstream is None:
            self.pending.append(data)
        else:
            self.upstream.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.upstream is not None:
            self.upstream.close()


async def serve(port: int, upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Client(upstream_port), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream-port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # the stock loop: slower, and then the floor is too
        asyncio.run(serve(args.port, args.upstream_port))
    else:
        uvloop.run(serve(args.port, args.upstream_port))


if __name__ == "__main__":
    main()
