"""A bare HTTP/1.1 server on loopback that sends exactly the bytes a `Reply` describes.

No framework between the test and the socket: a clean close is a finished chunked body
that stops at a frame of the test's choosing, a reset is a TCP RST (SO_LINGER 0), a stall
holds the connection open without a byte, a cut body is shorter than its Content-Length.
Every response closes its connection, so no fault leaks into the next request.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Ending = Literal["clean", "reset", "stall", "cut"]


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    frames: list[bytes] = field(default_factory=list)  # streamed as chunks, or joined as one body
    stream: bool = True
    ending: Ending = "clean"
    stall_s: float = 3.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


Handler = Callable[[Received], Reply]
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests",
           500: "Internal Server Error", 529: "Overloaded"}


class AdversarialServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.received: list[Received] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="adversarial-upstream")
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> AdversarialServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the adversarial server did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        pending = asyncio.all_tasks(self._loop)  # stalled connections: end them before the loop goes
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await self._read(reader)
            if request is None:
                return
            self.received.append(request)
            await self._write(writer, self.handler(request))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the gateway gave up on us (a timeout): that is the point of some faults
        finally:
            if not writer.is_closing():
                writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Received | None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        return Received(method, path, headers, body)

    async def _write(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        head = f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}\r\nconnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items())
        if not reply.stream:
            body = b"".join(reply.frames)
            declared = len(body) * 2 + 10 if reply.ending == "cut" else len(body)
            sent = b"" if reply.ending == "stall" else body  # a stall: the headers, then nothing
            writer.write((head + f"content-length: {declared}\r\n\r\n").encode() + sent)
            await writer.drain()
            await self._end(writer, reply)
            return
        writer.write((head + "transfer-encoding: chunked\r\n\r\n").encode())
        for frame in reply.frames:
            writer.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
            await writer.drain()
        await self._end(writer, reply)

    @staticmethod
    async def _end(writer: asyncio.StreamWriter, reply: Reply) -> None:
        if reply.ending == "clean" and reply.stream:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        elif reply.ending == "stall":
            await asyncio.sleep(reply.stall_s)
        elif reply.ending == "reset":
            sock = writer.get_extra_info("socket")
            if sock is not None:  # SO_LINGER 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        writer.close()
