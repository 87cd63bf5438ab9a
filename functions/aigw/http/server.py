"""The HTTP/1.1 server protocol the gateway runs under uvicorn: uvicorn's own (httptools), with
a response's head sent together with its first body bytes.

uvicorn writes a response's status line and headers, then each body message, as separate
`transport.write` calls; over TCP each is a `send` syscall and a wake-up of the client, so a
JSON answer cost two where one does. Here the head waits for the next write on its connection
or the end of the current event-loop turn, whichever comes first, and goes out with that
write: Starlette writes a JSON body in the same turn as its head, and the pipeline's first
stream frame is ready when its response starts (the stream opens on the upstream's first
event). A head with nothing after it (HEAD, a stream whose first frame is not ready) still
leaves at once. Writes are otherwise passed straight on: a stream's frames are gathered where
the pipeline knows what they carry (one write per upstream read, the first text at once:
pipeline.py `_frames`), not here, where gathering per loop turn delayed the first token.

    uvicorn --http aigw.http.server:GatewayHttpProtocol ...   (functions/gateway/run.sh)
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# What `--http` takes: the protocol as an import string (run.sh spells it out; tests/unit/http/
# test_server.py checks that the two agree).
PROTOCOL = "aigw.http.server:GatewayHttpProtocol"

# How long an idle kept-alive connection stays open (uvicorn's `timeout_keep_alive`; run.sh's
# `--timeout-keep-alive`, checked by test_server.py). It must outlast the clients' own pool
# expiry: a server that closes an idle connection first races the client reusing it, and the
# request written in that moment fails with "Server disconnected without sending a response".
# uvicorn's 5 s equals httpx's (and so the OpenAI and Anthropic SDKs') 5 s pool expiry, and the
# race lost requests in this repository's tests whenever a loaded loop let the two drift apart.
# 75 s, nginx's default, outlasts httpx, aiohttp (15 s), Node (5 s) and the gateway's own pool
# (60 s, services.py).
KEEP_ALIVE_S = 75


# uvicorn's interim answer to `Expect: 100-continue`: the client waits for it before sending
# the body, so it is never held.
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class HeadWithBodyTransport:
    """A transport that holds a response head until the next write on it or the end of the
    loop turn, and sends it with that write. Closing (or ending the write side) sends a held
    head first; everything else is the real transport's."""

    __slots__ = ("_head", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif data[:9] == b"HTTP/1.1 " and data != _CONTINUE:
            self._head = bytes(data)
            self._loop.call_soon(self.flush)  # a flush left over from an earlier head only sends early
        else:
            self._transport.write(data)

    def writelines(self, lines: Any) -> None:
        self.write(b"".join(lines))

    def flush(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._head or b"")

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._head = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, ...
        return getattr(self._transport, name)


class GatewayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `HeadWithBodyTransport`."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(HeadWithBodyTransport(transport, self.loop))  # type: ignore[arg-type]
