"""The wire transport against httpx's own (httpcore) transport, on the same scripted server
bytes: the same response, or the same httpx exception type, whatever the framing, the split
of the bytes on the wire, or where the server cuts the connection."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.providers.wire import WireTransport, default_transport

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=60)
Script = Callable[[int], list[bytes | float | None]]  # per request number: pieces, pauses (s), None = close


class ScriptedServer:
    """Reads each request whole, then writes what the script says for it."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.connections = 0
        self.requests = 0
        self.received: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                self.received.append(head + await reader.readexactly(length))
                number, self.requests = self.requests, self.requests + 1
                for piece in self.script(number):
                    if piece is None:
                        writer.close()
                        return
                    if isinstance(piece, float):
                        await asyncio.sleep(piece)
                        continue
                    writer.write(piece)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went, or the test's loop is closing
        finally:
            writer.close()


Outcome = tuple[Any, ...]


async def _outcome(client: httpx.AsyncClient, url: str, **kwargs: Any) -> Outcome:
    try:
        response = await client.send(client.build_request("POST", url, json={"hello": "world"}, **kwargs),
                                     stream=True)
        try:
            body = await response.aread()
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        return ("error", type(exc).__name__)
    return (response.status_code, response.reason_phrase, response.headers.multi_items(), body)


async def _both(script: Script, requests: int = 2, **kwargs: Any) -> tuple[list[Outcome], list[Outcome]]:
    results = []
    for transport in (WireTransport(limits=LIMITS), httpx.AsyncHTTPTransport(limits=LIMITS)):
        async with ScriptedServer(script) as server, httpx.AsyncClient(transport=transport) as client:
            url = f"http://127.0.0.1:{server.port}/v1/x?q=1"
            results.append([await _outcome(client, url, **kwargs) for _ in range(requests)])
    return results[0], results[1]


@dataclass
class Answer:
    status: int
    body: bytes
    framing: str  # "length" | "chunked" | "close"
    gzip: bool
    interim: bool
    splits: list[int]
    cut: int | None  # close the connection after this many bytes of the answer

    def pieces(self) -> list[bytes | float | None]:
        body = gzip.compress(self.body) if self.gzip else self.body
        head = [f"HTTP/1.1 {self.status} Some Reason", "Content-Type: application/json", "X-Multi: a", "x-multi: b"]
        if self.gzip:
            head.append("Content-Encoding: gzip")
        if self.framing == "length":
            head.append(f"Content-Length: {len(body)}")
            payload = body
        elif self.framing == "chunked":
            head.append("Transfer-Encoding: chunked")
            half = len(body) // 2
            payload = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in (body[:half], body[half:]) if p)
            payload += b"0\r\n\r\n"
        else:
            head.append("Connection: close")
            payload = body
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
        if self.interim:
            raw = b"HTTP/1.1 100 Continue\r\n\r\n" + raw
        closing = self.framing == "close"
        if self.cut is not None and self.cut < len(raw):
            raw, closing = raw[: self.cut], True
        out: list[bytes | float | None] = []
        last = 0
        for at in sorted({s for s in self.splits if 0 < s < len(raw)}):
            out += [raw[last:at], 0.0]
            last = at
        out.append(raw[last:])
        if closing:
            out.append(None)
        return out


answers = st.builds(
    Answer, status=st.sampled_from([200, 201, 400, 404, 429, 500, 503]), body=st.binary(max_size=3000),
    framing=st.sampled_from(["length", "chunked", "close"]), gzip=st.booleans(), interim=st.booleans(),
    splits=st.lists(st.integers(1, 400), max_size=4), cut=st.none() | st.integers(0, 400))


@settings(max_examples=40, deadline=None)
@given(first=answers, second=answers)
def test_same_as_httpx_for_any_framing_split_or_cut(first: Answer, second: Answer) -> None:
    script = {0: first.pieces(), 1: second.pieces()}
    ours, theirs = asyncio.run(_both(lambda n: script.get(n, [None])))
    assert ours == theirs


@pytest.mark.parametrize("raw", [
    b"garbage\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
])
def test_same_as_httpx_on_odd_answers(raw: bytes) -> None:
    ours, theirs = asyncio.run(_both(lambda n: [raw, 0.01, None]))
    assert ours == theirs


def test_bytes_after_the_body_retire_the_connection() -> None:
    """httpcore reuses such a connection and fails the next request on the stray bytes; this
    transport closes it at once, so the next request gets a fresh one (the only difference)."""
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"
    ours, theirs = asyncio.run(_both(lambda n: [raw, 0.01, None]))
    assert ours[0] == theirs[0] == (200, "OK", [("content-length", "2")], b"ok")
    assert theirs[1] == ("error", "RemoteProtocolError")
    assert ours[1] == ours[0]


def test_read_timeout_before_the_first_byte() -> None:
    ours, theirs = asyncio.run(_both(lambda n: [0.5, None], requests=1, timeout=httpx.Timeout(1, read=0.05)))
    assert ours == theirs == [("error", "ReadTimeout")]


def test_read_timeout_mid_body() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"
    ours, theirs = asyncio.run(_both(lambda n: [raw, 0.5, b"world"], requests=1,
                                     timeout=httpx.Timeout(1, read=0.05)))
    assert ours == theirs == [("error", "ReadTimeout")]


@pytest.mark.parametrize(("gaps", "timed_out"), [
    ([0.06] * 5, False),  # 0.3 s in all, never 0.15 s without a byte: no timeout
    ([0.06, 0.06, 0.3], True),  # one gap past it
])
def test_a_read_timeout_counts_from_the_last_read(gaps: list[float], timed_out: bool) -> None:
    """The timeout is per read (httpx's): each wait has its own deadline, however the one
    timer of the connection was armed."""
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    script: list[bytes | float | None] = [head]
    for gap in gaps:
        script += [gap, b"1\r\nx\r\n"]
    script.append(b"0\r\n\r\n")
    ours, theirs = asyncio.run(_both(lambda n: script, requests=1, timeout=httpx.Timeout(1, read=0.15)))
    assert ours == theirs
    assert (ours[0] == ("error", "ReadTimeout")) is timed_out


def test_one_read_timer_per_connection_and_a_shorter_timeout_still_counts() -> None:
    """Requests with a long read timeout arm one timer for the connection, not one per read;
    a later request with a shorter timeout on the same connection times out on time."""
    async def run() -> tuple[int, float, Outcome]:
        loop = asyncio.get_running_loop()
        armed = 0
        call_at = loop.call_at

        def counting(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
            nonlocal armed
            armed += getattr(callback, "__name__", "") == "_tick"  # (the server's sleeps use timers too)
            return call_at(when, callback, *args, **kwargs)

        loop.call_at = counting  # type: ignore[method-assign]
        chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        pieces: list[bytes | float | None] = [chunked, 0.001, b"1\r\na\r\n", 0.001, b"1\r\nb\r\n", 0.001, b"0\r\n\r\n"]
        async with ScriptedServer(lambda n: pieces if n < 5 else [chunked, 1.0]) as server, \
                httpx.AsyncClient(transport=WireTransport(limits=LIMITS)) as client:
            url = f"http://127.0.0.1:{server.port}/"
            for _ in range(5):
                assert await _outcome(client, url, timeout=httpx.Timeout(30)) == (200, "OK", [
                    ("transfer-encoding", "chunked")], b"ab")
            during = armed
            started = loop.time()
            late = await _outcome(client, url, timeout=httpx.Timeout(30, read=0.1))
            return during, loop.time() - started, late

    during, waited, late = asyncio.run(run())
    assert during == 1  # five requests, about twenty reads: one timer
    assert late == ("error", "ReadTimeout") and waited < 0.5


def test_connect_error_and_illegal_header() -> None:
    async def run() -> tuple[Outcome, Outcome]:
        async with httpx.AsyncClient(transport=WireTransport(limits=LIMITS)) as client:
            refused = await _outcome(client, "http://127.0.0.1:9/")  # discard port: nothing listens
            async with ScriptedServer(lambda n: [None]) as server:
                bad = await _outcome(client, f"http://127.0.0.1:{server.port}/", headers={"x-bad": "a\r\nb: c"})
        return refused, bad

    refused, bad = asyncio.run(run())
    assert refused == ("error", "ConnectError")
    assert bad == ("error", "LocalProtocolError")


OK = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'


def test_keep_alive_reuse_and_a_closed_idle_connection_is_not_reused() -> None:
    async def run() -> tuple[int, int, list[Outcome]]:
        async with ScriptedServer(lambda n: [OK] if n < 3 else [OK, None]) as server, \
                httpx.AsyncClient(transport=WireTransport(limits=LIMITS)) as client:
            url = f"http://127.0.0.1:{server.port}/"
            outcomes = [await _outcome(client, url) for _ in range(4)]
            reused = server.connections
            await asyncio.sleep(0.05)  # the server has closed the idle connection after answer 4
            outcomes.append(await _outcome(client, url))
            return reused, server.connections, outcomes

    reused, total, outcomes = asyncio.run(run())
    assert reused == 1 and total == 2
    assert all(o[0] == 200 for o in outcomes)


def test_request_bytes_are_httpx_s() -> None:
    async def run() -> list[bytes]:
        received = []
        for transport in (WireTransport(limits=LIMITS), httpx.AsyncHTTPTransport(limits=LIMITS)):
            async with ScriptedServer(lambda n: [OK]) as server, httpx.AsyncClient(transport=transport) as client:
                await _outcome(client, f"http://127.0.0.1:{server.port}/v1/chat?x=%20y", headers={"X-Key": "v"})
                received.append(server.received[0].replace(str(server.port).encode(), b"PORT"))
        return received

    ours, theirs = asyncio.run(run())
    # the same request, byte for byte (h11 changes nothing httpx prepared, and neither do we)
    assert ours == theirs


def test_pool_timeout_and_slots_released() -> None:
    async def run() -> tuple[Outcome, Outcome]:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with ScriptedServer(lambda n: [0.3, OK] if n == 0 else [OK]) as server, \
                httpx.AsyncClient(transport=WireTransport(limits=limits)) as client:
            url = f"http://127.0.0.1:{server.port}/"
            slow = asyncio.create_task(_outcome(client, url))
            await asyncio.sleep(0.05)
            waited = await _outcome(client, url, timeout=httpx.Timeout(5, pool=0.05))
            await slow
            return waited, await _outcome(client, url)

    waited, after = asyncio.run(run())
    assert waited == ("error", "PoolTimeout")
    assert after[0] == 200


def test_large_body_with_backpressure() -> None:
    body = bytes(range(256)) * (3 * 4096 + 7)  # past the high-water mark
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    ours, theirs = asyncio.run(_both(lambda n: [raw], requests=2))
    assert ours == theirs and ours[0][3] == body


def test_cancelled_request_frees_its_slot() -> None:
    async def run() -> Outcome:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with ScriptedServer(lambda n: [5.0] if n == 0 else [OK]) as server, \
                httpx.AsyncClient(transport=WireTransport(limits=limits)) as client:
            url = f"http://127.0.0.1:{server.port}/"
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(_outcome(client, url), 0.05)
            return await _outcome(client, url, timeout=httpx.Timeout(2, pool=1))

    assert asyncio.run(run())[0] == 200


def test_default_transport_is_the_wire_one_here() -> None:
    assert isinstance(default_transport(LIMITS), WireTransport)


def test_the_httpcore_transport_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from aigw.providers.pool import LifoTransport

    monkeypatch.setenv("AIGW_UPSTREAM_TRANSPORT", "httpcore")
    assert isinstance(default_transport(LIMITS), LifoTransport)


@settings(max_examples=300, deadline=None)
@given(headers=st.lists(st.tuples(st.binary(max_size=8), st.binary(max_size=12)), max_size=4))
def test_a_header_that_could_end_its_line_early_is_refused(headers: list[tuple[bytes, bytes]]) -> None:
    """The framing check against its definition, header by header: a name is non-empty and
    free of CR, LF, NUL, colon, space and tab; a value is free of CR, LF and NUL."""
    from aigw.providers.wire import _frame

    bad = any(not name or any(c in name for c in b"\r\n\0: \t") or any(c in value for c in b"\r\n\0")
              for name, value in headers)
    if bad:
        with pytest.raises(httpx.LocalProtocolError):
            _frame("POST", b"/v1/x", headers, b"{}", None)
    else:
        assert _frame("POST", b"/v1/x", headers, b"{}", None) == (
            b"POST /v1/x HTTP/1.1\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in headers) + b"\r\n{}")


def test_chunks_that_arrive_together_come_out_as_one_part() -> None:
    """llhttp reports a chunked body chunk by chunk; what one read brought is yielded in one
    piece (an upstream stream sends a chunk per event: one part each cost every iterator above
    a round per event), and chunks that arrive apart still come out as they arrive."""
    events = [b"data: {\"n\": %d}\n\n" % i for i in range(5)]
    together = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events)
    late = b"%x\r\n%s\r\n0\r\n\r\n" % (len(events[0]), events[0])
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

    async def parts() -> list[bytes]:
        async with ScriptedServer(lambda n: [head + together, 0.05, late]) as server, \
                httpx.AsyncClient(transport=WireTransport(limits=LIMITS)) as client, \
                client.stream("GET", f"http://127.0.0.1:{server.port}/") as response:
            return [part async for part in response.aiter_raw()]

    got = asyncio.run(parts())
    assert got == [b"".join(events), events[0]]
