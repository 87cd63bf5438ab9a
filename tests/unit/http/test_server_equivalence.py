"""The gateway's HTTP protocol answers exactly as uvicorn's httptools protocol does, byte for
byte, over generated traffic.

The traffic is one to four requests on a connection: GET, POST, PUT and HEAD, HTTP/1.1 and
1.0, bodies sized or chunked, `Expect: 100-continue`, `Connection: close`, odd header case,
percent-encoded paths, invalid requests, and pipelining. It arrives split at random points,
with the loop let run fully or for a few turns between the pieces.

Each request runs one of several apps: an echo of what it received, streams of chunks,
statuses without bodies, a server-side close, and every way an app can get its response
wrong. Both protocols see the same schedule. Everything must match: the bytes the client
gets, whether the server closes, and what each app was given and received. The only
intended difference, the head leaving with the first body bytes, joins writes the client
reads as one stream anyway.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from aigw.http.server import GatewayHttpProtocol
from tests.unit.http.server_harness import config_for, drive


def make_app(log: list[Any]) -> Any:
    """One app for every behaviour, chosen by the path's first segment; it logs what it sees."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen = {k: scope[k] for k in ("method", "path", "raw_path", "query_string", "http_version",
                                      "scheme", "root_path", "client", "server")}
        seen["headers"] = [list(h) for h in scope["headers"]]
        log.append(("scope", repr(seen)))
        kind = scope["path"].strip("/").split("/")[0]

        async def read_all() -> bytes:
            body = b""
            while True:
                message = await receive()
                log.append(("receive", message["type"], len(message.get("body", b"")), message.get("more_body")))
                if message["type"] != "http.request":
                    return body
                body += message.get("body", b"")
                if not message.get("more_body"):
                    return body

        async def start(status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> None:
            await send({"type": "http.response.start", "status": status, "headers": headers or []})

        async def body(data: bytes, more: bool = False) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": more})

        if kind == "raise-before":
            raise RuntimeError("before")
        if kind == "no-response":
            return
        if kind == "answer-first":  # the response starts before the body is read (no 100 Continue then)
            await start(headers=[(b"content-length", b"2")])
            await body(b"o", more=True)
            log.append(("late body", len(await read_all())))
            await body(b"k")
            return
        data = await read_all()
        if kind in PLAIN:
            status, headers, parts = PLAIN[kind]
            await start(status, headers)
            for part in parts:
                await body(part)
        elif kind == "chunks":
            await start(headers=[(b"content-type", b"text/event-stream")])
            for n in range(3):
                await body(f"data: {n}\n\n".encode(), more=True)
                await asyncio.sleep(0)
            await body(b"")
        elif kind == "raise-after":
            await start(headers=[(b"content-length", b"10")])
            raise RuntimeError("after")
        elif kind == "incomplete":
            await start()
            await body(b"part", more=True)
        elif kind == "wait-disconnect":
            message = await receive()  # nothing more comes: only the client leaving ends it
            log.append(("after body", message["type"]))
            await start(headers=[(b"content-length", b"0")])
            await body(b"")
        else:  # echo
            answer = json.dumps({"length": len(data), "sha": hashlib.sha256(data).hexdigest()[:16]}).encode()
            await start(headers=[(b"content-type", b"application/json"), (b"X-Mixed-Case", b"v"),
                                 (b"content-length", str(len(answer)).encode())])
            await body(answer[:5], more=True)
            await body(answer[5:])

    return app


# An answer as (status, headers, body messages): empty bodies, a server-side close, a body
# shorter or longer than its Content-Length, bad header names and values, a body after the end.
PLAIN: dict[str, tuple[int, list[tuple[bytes, bytes]], list[bytes]]] = {
    "empty": (204, [], [b""]),
    "not-modified": (304, [(b"etag", b'"x"')], [b""]),
    "close": (200, [(b"content-length", b"3"), (b"Connection", b"Close")], [b"bye"]),
    "short": (200, [(b"content-length", b"5")], [b"abc"]),
    "long": (200, [(b"content-length", b"2")], [b"abcde"]),
    "bad-header": (200, [(b"x-bad", b"a\r\nx-injected: 1")], [b""]),
    "bad-name": (200, [(b"x bad(name)", b"v")], [b""]),
    "twice": (200, [(b"content-length", b"1")], [b"1", b"2"]),
}

KINDS = ["echo", "echo", "answer-first", "chunks", "raise-before", "raise-after", "no-response", "incomplete",
         "wait-disconnect", *PLAIN]

token = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=8)
value = st.text("abcdefghijklmnopqrstuvwxyz ABC0123456789;=,/.-", max_size=16).map(str.strip)


@st.composite
def request(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 19)) == 0:  # not HTTP at all
        return draw(st.sampled_from([b"NOT A REQUEST\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                                     b"GET /x HTTP/1.1\r\nbad header\r\n\r\n"]))
    method = draw(st.sampled_from(["GET", "POST", "PUT", "HEAD"]))
    path = "/" + draw(st.sampled_from(KINDS)) + draw(st.sampled_from(["", "/a%20b", "/x/", "/%7Euser"]))
    query = draw(st.sampled_from(["", "?a=1", "?q=hello%20world&b=", "?"]))
    version = draw(st.sampled_from(["1.1", "1.1", "1.1", "1.0"]))
    headers = [("Host", "example.com")]
    headers += draw(st.lists(st.tuples(token.map(lambda t: "x-" + t), value), max_size=3))
    if draw(st.booleans()):
        headers.append((draw(st.sampled_from(["connection", "Connection"])),
                        draw(st.sampled_from(["close", "keep-alive", "Keep-Alive, foo"]))))
    large = st.integers(60_000, 140_000).map(lambda n: bytes(range(256)) * (n // 256))  # past the read pause
    body = draw(st.one_of(st.binary(max_size=300), large)) if method in ("POST", "PUT") else b""
    framing = draw(st.sampled_from(["length", "chunked"])) if body else "none"
    if body and draw(st.booleans()):
        headers.append(("Expect", "100-continue"))
    if framing == "length":
        headers.append(("Content-Length", str(len(body))))
        payload = body
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=3)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True) if b > a]
        payload = b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    else:
        payload = b""
    head = f"{method} {path}{query} HTTP/{version}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    return head.encode() + payload


@st.composite
def traffic(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    stream = b"".join(draw(st.lists(request(), min_size=1, max_size=4)))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(len(stream) - 1, 1)), max_size=5))))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True) if b > a]
    turns = draw(st.lists(st.sampled_from([0, 1, 2, 40]), min_size=len(chunks), max_size=len(chunks)))
    return chunks, turns


async def both(chunks: list[bytes], turns: list[int]) -> tuple[Any, Any]:
    runs = []
    for protocol in (HttpToolsProtocol, GatewayHttpProtocol):
        log: list[Any] = []
        app = make_app(log)
        runs.append(await drive(protocol, app, chunks, turns=turns, config=config_for(app), log=log))
    return runs[0], runs[1]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traffic())
def test_the_same_bytes_close_and_app_view_as_uvicorn(case: tuple[list[bytes], list[int]]) -> None:
    chunks, turns = case
    theirs, ours = asyncio.run(both(chunks, turns))
    assert ours.received == theirs.received
    assert ours.closed == theirs.closed
    assert ours.log == theirs.log
    assert ours.reading == theirs.reading  # flow control: paused and resumed at the same points


def test_pipelined_requests_and_a_slow_body_match_too() -> None:
    """Fixed cases the generator reaches only sometimes: three pipelined echoes in one read, and
    a body trickling in a byte per read with the loop run between."""
    pipelined = b"".join(b"POST /echo HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\n\r\nab" + bytes([48 + n])
                         for n in range(3))
    body = b"POST /echo HTTP/1.1\r\nhost: h\r\ncontent-length: 4\r\n\r\nwxyz"
    for chunks in ([pipelined], [body[:-4], *[bytes([c]) for c in body[-4:]]]):
        theirs, ours = asyncio.run(both(chunks, [40] * len(chunks)))
        assert ours.received == theirs.received and ours.log == theirs.log
        assert ours.received.count(b"HTTP/1.1 200 OK") == (3 if chunks == [pipelined] else 1)
