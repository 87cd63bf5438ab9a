"""Drives an HTTP server protocol (uvicorn's, or the gateway's) over a transport that records
what a client would receive, on a real event loop. No sockets: a test chooses exactly which
bytes arrive when, and both protocols get the same schedule.

A run delivers the client's bytes in `chunks`. After each chunk it lets the loop run, fully
or for a few turns only. It honours the protocol's pause_reading: nothing more arrives until
it resumes. It ends with the client hanging up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

DATE = (b"date", b"Tue, 01 Dec 2026 00:00:00 GMT")
SETTLE_TURNS = 40  # more than any test app needs to finish what it can without the client


class Transport(asyncio.Transport):
    """The server's side of one connection; `writes` is what reached the client, in calls."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.loop = loop
        self.protocol: Any = None
        self.writes: list[bytes] = []
        self.closed = False
        self.paused = False
        self.reading: list[bool] = []  # every pause_reading (False) and resume_reading (True) call

    def write(self, data: Any) -> None:
        if not self.closed:
            self.writes.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        self.write(b"".join(lines))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:  # as a real transport: the protocol hears of it on a later turn
            self.closed = True
            self.loop.call_soon(self.protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def write_eof(self) -> None:
        self.close()

    def can_write_eof(self) -> bool:
        return True

    def pause_reading(self) -> None:
        self.paused = True
        self.reading.append(False)

    def resume_reading(self) -> None:
        self.paused = False
        self.reading.append(True)

    def is_reading(self) -> bool:
        return not self.paused

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8080)}.get(name, default)


@dataclass
class Run:
    writes: list[bytes]
    closed: bool
    reading: list[bool]
    log: list[Any] = field(default_factory=list)

    @property
    def received(self) -> bytes:
        return b"".join(self.writes)


def config_for(app: Any, **options: Any) -> Config:
    config = Config(app, ws="none", lifespan="off", log_config=None, proxy_headers=False, **options)
    config.load()
    return config


async def settle(turns: int = SETTLE_TURNS) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)


async def drive(protocol_class: Any, app: Any, chunks: Sequence[bytes], *, turns: Sequence[int] = (),
                config: Config | None = None, log: list[Any] | None = None) -> Run:
    """`turns[i]`: how many loop turns run after chunk i arrives (all it needs if absent)."""
    loop = asyncio.get_running_loop()
    state = ServerState()
    state.default_headers = [DATE, (b"server", b"uvicorn")]
    protocol = protocol_class(config=config or config_for(app), server_state=state, app_state={}, _loop=loop)
    transport = Transport(loop)
    transport.protocol = protocol
    protocol.connection_made(transport)
    for index, chunk in enumerate(chunks):
        if transport.paused:
            await settle()
        if transport.paused or transport.closed:
            break
        protocol.data_received(chunk)
        await settle(turns[index] if index < len(turns) else SETTLE_TURNS)
    await settle()
    if not transport.closed:  # the client hangs up
        transport.closed = True
        protocol.eof_received()
        protocol.connection_lost(None)
    await settle()
    for task in list(state.tasks):  # an app still waiting on something that will never come
        task.cancel()
    await settle()
    return Run(transport.writes, transport.closed, transport.reading, log if log is not None else [])
