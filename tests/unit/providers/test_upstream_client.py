"""UpstreamClient's short `send` against httpx's AsyncClient.send: the same response (status,
headers, body, elapsed, history, next_request), the same cookies kept, the same errors with
their request attached; hooks, auth and redirect following take httpx's own path."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.providers.upstream_client import UpstreamClient, iter_body

Reply = tuple[int, list[tuple[str, str]], bytes]


def _transport(reply: Reply | Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(reply, Exception):
            raise reply
        status, headers, body = reply
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(handler)


async def _observe(client: httpx.AsyncClient, stream: bool) -> tuple[Any, ...]:
    request = client.build_request("POST", "https://upstream.test/v1/chat?x=1", json={"a": 1},
                                   timeout=httpx.Timeout(3, connect=1))
    try:
        response = await client.send(request, stream=stream)
    except httpx.HTTPError as exc:
        return ("error", type(exc).__name__, str(exc), exc.request is request)
    body = await response.aread()
    await response.aclose()
    nxt = response.next_request
    try:
        elapsed: bool | None = response.elapsed.total_seconds() >= 0
    except RuntimeError:  # httpx sets it only when it closes the stream itself
        elapsed = None
    return (response.status_code, response.headers.multi_items(), body, elapsed,
            response.history, response.request is request, request.extensions["timeout"],
            None if nxt is None else (nxt.method, str(nxt.url)), sorted(client.cookies.items()),
            response.encoding, response.is_closed)


async def _both(reply: Reply | Exception, stream: bool, **kwargs: Any) -> tuple[Any, Any]:
    out = []
    for cls in (UpstreamClient, httpx.AsyncClient):
        async with cls(transport=_transport(reply), follow_redirects=False, **kwargs) as client:
            out.append((await _observe(client, stream), await _observe(client, stream)))
    return out[0], out[1]


headers = st.lists(st.sampled_from([("content-type", "text/plain; charset=latin-1"), ("x-a", "v"),
                                     ("set-cookie", "sid=1; Path=/"), ("set-cookie", "other=2; Domain=elsewhere.test"),
                                     ("location", "/next"), ("location", "https://elsewhere.test/x"),
                                     ("retry-after", "1")]), max_size=4)
replies = st.tuples(st.sampled_from([200, 201, 204, 301, 302, 307, 400, 429, 500]), headers, st.binary(max_size=64))


@settings(max_examples=60, deadline=None)
@given(reply=replies, stream=st.booleans())
def test_same_results_as_httpx(reply: Reply, stream: bool) -> None:
    ours, theirs = asyncio.run(_both(reply, stream))
    assert ours == theirs


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                   httpx.RemoteProtocolError("cut")])
def test_same_errors_with_the_request_attached(error: Exception) -> None:
    ours, theirs = asyncio.run(_both(error, stream=False))
    assert ours == theirs
    assert ours[0][3] is True


def test_hooks_auth_and_redirects_take_httpx_s_path() -> None:
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.headers.get("authorization", ""))

    async def run() -> Any:
        reply = (200, [], b"ok")
        async with UpstreamClient(transport=_transport(reply), event_hooks={"request": [hook]},
                                  auth=("u", "p")) as client:
            first = await _observe(client, False)
        redirect = (302, [("location", "https://upstream.test/there")], b"")
        async with UpstreamClient(transport=_transport(redirect), follow_redirects=True, max_redirects=1) as client:
            second = await _observe(client, False)
        return first, second

    first, second = asyncio.run(run())
    assert first[0] == 200 and seen == ["Basic dTpw"]
    assert second[:2] == ("error", "TooManyRedirects")


def test_a_closed_client_refuses_like_httpx() -> None:
    async def run() -> None:
        client = UpstreamClient(transport=_transport((200, [], b"")))
        await client.aclose()
        with pytest.raises(RuntimeError, match="client has been closed"):
            await client.send(client.build_request("GET", "https://upstream.test/"))

    asyncio.run(run())


# ---- build_json_request against httpx's build_request ------------------------------------------

header_names = st.sampled_from(["authorization", "x-api-key", "anthropic-version", "User-Agent", "accept",
                                "Content-Type", "Accept-Encoding", "connection", "host", "x-custom",
                                "content-length", "Transfer-Encoding"])
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=1, max_size=20)
bodies = st.recursive(st.none() | st.booleans() | st.integers() | st.text() |
                      st.floats(allow_nan=False, allow_infinity=False),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                      max_leaves=20).map(lambda value: {"messages": value})
urls = st.sampled_from(["https://api.openai.test/v1/chat/completions", "http://127.0.0.1:8000/v1/messages",
                        "https://x.test:8443/openai/deployments/d/chat/completions?api-version=2024-10-21",
                        "https://bedrock-runtime.us-east-1.amazonaws.com/model/a%3Ab/converse"])


_NO_TRANSPORT = httpx.MockTransport(lambda request: httpx.Response(500))  # requests are built, never sent


def _same(fast: httpx.Request, slow: httpx.Request) -> None:
    import json

    assert fast.method == slow.method and fast.url == slow.url
    # The same headers in the same order; a Content-Length computed from the body is each
    # body's own (a number may be spelt differently: 1.2e-07 or 0.00000012)
    def masked(request: httpx.Request) -> list[tuple[bytes, bytes]]:
        own = str(len(request.content)).encode()
        return [(n, b"<own>" if n.lower() == b"content-length" and v == own else v) for n, v in request.headers.raw]

    assert masked(fast) == masked(slow)
    assert json.loads(fast.content) == json.loads(slow.content)
    assert fast.extensions == slow.extensions


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["POST", "PUT"]), url=urls, body=bodies,
       headers=st.dictionaries(header_names, header_values, max_size=5),
       client_headers=st.dictionaries(header_names, header_values, max_size=3))
def test_build_json_request_builds_what_build_request_builds(method: str, url: str, body: Any,
                                                             headers: dict[str, str],
                                                             client_headers: dict[str, str]) -> None:
    client = UpstreamClient(headers=client_headers, transport=_NO_TRANSPORT)  # (no TLS context per example)
    timeout = httpx.Timeout(30, connect=2)
    target = httpx.URL(url)
    _same(client.build_json_request(method, target, headers=headers, json=body, timeout=timeout),
          client.build_request(method, target, headers=headers, json=body, timeout=timeout))


@pytest.mark.parametrize("case", ["params", "cookies", "relative", "non-ascii header", "nan", "nan in text"])
def test_build_json_request_takes_httpx_path_where_it_differs(case: str) -> None:
    client = UpstreamClient(base_url="https://base.test/v1/")
    url, headers, body, params = httpx.URL("https://api.test/v1/x"), {"authorization": "Bearer k"}, {"a": 1}, None
    if case == "params":
        params = {"api-version": "1"}
    elif case == "cookies":
        client.cookies.set("session", "abc", domain="api.test")
    elif case == "relative":
        url = httpx.URL("chat/completions")
    elif case == "non-ascii header":
        headers = {"x-name": "café"}
    elif case == "nan":
        body = {"temperature": float("nan")}
    else:
        body = {"text": "NaN and Infinity are words too"}
    timeout = httpx.Timeout(5)
    try:
        slow = client.build_request("POST", url, headers=headers, json=body, params=params, timeout=timeout)
    except (ValueError, UnicodeEncodeError) as exc:
        with pytest.raises(type(exc)):
            client.build_json_request("POST", url, headers=headers, json=body, params=params, timeout=timeout)
        return
    _same(client.build_json_request("POST", url, headers=headers, json=body, params=params, timeout=timeout), slow)


class _Parts(httpx.AsyncByteStream):
    """A streamed body in the given parts, optionally breaking off after them."""

    def __init__(self, parts: list[bytes], error: Exception | None = None) -> None:
        self.parts, self.error = parts, error

    async def __aiter__(self) -> Any:
        for part in self.parts:
            yield part
        if self.error is not None:
            raise self.error


async def _body_of(parts: list[bytes], encoding: str | None, fast: bool,
                   error: Exception | None = None) -> tuple[Any, ...]:
    headers = {"content-encoding": encoding} if encoding else {}
    transport = httpx.MockTransport(lambda r: httpx.Response(200, headers=headers, stream=_Parts(parts, error)))
    async with UpstreamClient(transport=transport) as client:
        request = client.build_request("POST", "https://upstream.test/v1/chat", json={})
        response = await client.send(request, stream=True)
        got: list[bytes] = []
        try:
            async for part in (iter_body(response) if fast else response.aiter_bytes()):
                got.append(part)
        except httpx.HTTPError as exc:
            return b"".join(got), type(exc).__name__, exc.request is request
        return b"".join(got), response.is_closed, response.num_bytes_downloaded, response.is_stream_consumed


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.binary(max_size=40), max_size=6), gzipped=st.booleans(),
       broken=st.booleans())
def test_iter_body_reads_what_aiter_bytes_reads(parts: list[bytes], gzipped: bool, broken: bool) -> None:
    """The fast body iterator (no decoder, no chunker for a body sent as is) against httpx's own:
    the same bytes, the response closed and counted the same, a break-off raised the same way."""
    import gzip

    if gzipped:
        whole = gzip.compress(b"".join(parts))
        parts = [whole[:len(whole) // 2], whole[len(whole) // 2:]]
    error = httpx.ReadTimeout("slow") if broken else None
    encoding = "gzip" if gzipped else None
    ours = asyncio.run(_body_of(parts, encoding, fast=True, error=error))
    theirs = asyncio.run(_body_of(parts, encoding, fast=False, error=error))
    assert ours == theirs


# ---- send_json (the wire's whole exchange) against send(build_json_request) ---------------------

from tests.unit.providers.test_wire import LIMITS, ScriptedServer, answers  # noqa: E402
from tests.unit.providers.test_wire import Answer as ScriptedAnswer  # noqa: E402


async def _json_outcome(client: UpstreamClient, url: str, fast: bool) -> tuple[Any, ...]:
    headers = {"authorization": "Bearer sk-test", "x-custom": "1"}
    timeout = httpx.Timeout(2, connect=1)
    try:
        if fast:
            response = await client.send_json("POST", httpx.URL(url), headers=headers, json={"hello": "world"},
                                              timeout=timeout)
        else:
            response = await client.send(client.build_json_request("POST", httpx.URL(url), headers=headers,
                                                                   json={"hello": "world"}, timeout=timeout))
    except httpx.HTTPError as exc:
        return ("error", type(exc).__name__)
    return (response.status_code, response.reason_phrase, response.headers.multi_items(), response.content)


Outcome = Callable[[UpstreamClient, str, bool], Awaitable[tuple[Any, ...]]]


async def _both_paths(script: Any, outcome: Outcome, requests: int) -> list[tuple[Any, ...]]:
    """Per path (the short one, then httpx's): what each request got, the bytes the server
    received, the cookies kept, the connections the server saw (so whether one was reused)."""
    from aigw.providers.wire import WireTransport

    seen = []
    for fast in (True, False):
        async with ScriptedServer(script) as server, UpstreamClient(transport=WireTransport(limits=LIMITS)) as client:
            url = f"http://127.0.0.1:{server.port}/v1/chat/completions"
            got = [await outcome(client, url, fast) for _ in range(requests)]
            received = [r.replace(b":%d\r\n" % server.port, b":PORT\r\n") for r in server.received]
            seen.append((got, received, sorted(client.cookies.items()), server.connections))
    return seen


async def _json_both(script: Any, requests: int = 2) -> list[tuple[Any, ...]]:
    return await _both_paths(script, _json_outcome, requests)


@settings(max_examples=40, deadline=None)
@given(first=answers, second=answers)
def test_send_json_gets_what_send_gets(first: ScriptedAnswer, second: ScriptedAnswer) -> None:
    """Any framing, split, gzip, interim answer or cut connection: the same status, reason,
    headers and body (or the same error), the same request bytes, the same connection reuse."""
    script = {0: first.pieces(), 1: second.pieces()}
    fast, slow = asyncio.run(_json_both(lambda n: script.get(n, [None])))
    assert fast == slow


def test_send_json_keeps_cookies_as_send_does() -> None:
    """A Set-Cookie is kept (the next request then takes httpx's path and sends it)."""
    raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=1; Path=/\r\nContent-Length: 2\r\n\r\n{}"
    fast, slow = asyncio.run(_json_both(lambda n: [raw]))
    assert fast == slow
    assert fast[2] == [("sid", "1")] and b"cookie: sid=1" in fast[1][1].lower()


def test_send_json_read_timeout_and_refused_connection() -> None:
    async def run() -> list[Any]:
        from aigw.providers.wire import WireTransport

        out = []
        async with ScriptedServer(lambda n: [3.0]) as server, \
                UpstreamClient(transport=WireTransport(limits=LIMITS)) as client:
            with pytest.raises(httpx.ReadTimeout) as slow:
                await client.send_json("POST", httpx.URL(f"http://127.0.0.1:{server.port}/v1/x"), headers={},
                                       json={}, timeout=httpx.Timeout(0.05, connect=1))
            out.append(slow.value.request.url.port == server.port)  # the request, as httpx attaches it
            with pytest.raises(httpx.ConnectError):
                await client.send_json("POST", httpx.URL("http://127.0.0.1:9/v1/x"), headers={}, json={},
                                       timeout=httpx.Timeout(1, connect=1))
        return out

    assert asyncio.run(run()) == [True]


def test_send_json_takes_httpx_path_where_the_wire_does_not_frame() -> None:
    """A mock transport (not the wire), params, hooks: httpx's own path and its Response."""
    reply = (200, [("x-a", "v")], b'{"ok":true}')

    async def run() -> Any:
        async with UpstreamClient(transport=_transport(reply)) as client:
            return await client.send_json("POST", httpx.URL("https://upstream.test/v1/x"), headers={}, json={},
                                          timeout=httpx.Timeout(1))

    response = asyncio.run(run())
    assert isinstance(response, httpx.Response) and response.content == b'{"ok":true}'


def test_an_empty_jar_is_seen_without_counting_and_a_cookie_never_missed() -> None:
    from aigw.providers.upstream_client import _jar_empty

    client = UpstreamClient()
    assert _jar_empty(client.cookies.jar)  # the short path's case: no cookie ever set
    client.cookies.set("session", "abc", domain="api.test")
    assert not _jar_empty(client.cookies.jar)
    client.cookies.jar.clear("api.test", "/", "session")  # leaves empty inner dicts behind
    assert len(client.cookies.jar) == 0 and not _jar_empty(client.cookies.jar)  # httpx's path: still right
    client.cookies.jar.clear()
    assert _jar_empty(client.cookies.jar)


# ---- open_stream (the wire's stream) against send(build_json_request, stream=True) -------------


async def _stream_outcome(client: UpstreamClient, url: str, fast: bool, parts: int | None) -> tuple[Any, ...]:
    """The head, then the body read (to its end, or `parts` reads of it) and let go."""
    headers = {"authorization": "Bearer sk-test", "accept": "text/event-stream"}
    timeout = httpx.Timeout(2, connect=1)
    try:
        if fast:
            response: Any = await client.open_stream("POST", httpx.URL(url), headers=headers,
                                                     json={"stream": True}, timeout=timeout)
        else:
            response = await client.send(client.build_json_request("POST", httpx.URL(url), headers=headers,
                                                                   json={"stream": True}, timeout=timeout),
                                         stream=True)
    except httpx.HTTPError as exc:
        return ("error", type(exc).__name__)
    body: list[bytes] = []
    ending: str | None = None
    try:
        if response.status_code >= 400:
            body.append(await response.aread())
        else:
            async for part in (iter_body(response) if isinstance(response, httpx.Response) else response):
                assert part  # never an empty part
                body.append(part)
                if parts is not None and len(body) == parts:
                    break
    except httpx.HTTPError as exc:
        ending = type(exc).__name__
    finally:
        await response.aclose()
    return (response.status_code, response.reason_phrase, response.headers.multi_items(), b"".join(body), ending)


async def _stream_both(script: Any, requests: int = 2, parts: int | None = None) -> list[tuple[Any, ...]]:
    async def outcome(client: UpstreamClient, url: str, fast: bool) -> tuple[Any, ...]:
        return await _stream_outcome(client, url, fast, parts)

    return await _both_paths(script, outcome, requests)


@settings(max_examples=40, deadline=None)
@given(first=answers, second=answers)
def test_open_stream_reads_what_send_streams(first: ScriptedAnswer, second: ScriptedAnswer) -> None:
    """Any framing, split, gzip (httpx's Response then), interim answer, error status or cut
    connection: the same head, the same body (or the same error at the same point), the same
    request bytes, the same connection reuse."""
    script = {0: first.pieces(), 1: second.pieces()}
    fast, slow = asyncio.run(_stream_both(lambda n: script.get(n, [None])))
    assert fast == slow


@pytest.mark.parametrize("framing", [b"Content-Length: 100", b"Transfer-Encoding: chunked"])
def test_a_stream_cut_mid_body_fails_as_httpx_does(framing: bytes) -> None:
    """The connection lost mid-body: what came, then the same error (not a quiet end)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + framing + b"\r\n\r\n"
    event = b"data: {}\n\n"
    body = event if framing.startswith(b"Content-Length") else b"%x\r\n%s\r\n" % (len(event), event)
    fast, slow = asyncio.run(_stream_both(lambda n: [head + body, 0.02, None], requests=1))
    assert fast == slow
    assert fast[0][0][3:] == (event, "RemoteProtocolError")


def test_open_stream_gives_the_wire_s_answer_and_a_response_where_httpx_must_finish() -> None:
    from aigw.providers.wire import Streamed

    async def kinds(raw: bytes) -> list[type]:
        from aigw.providers.wire import WireTransport

        out = []
        async with ScriptedServer(lambda n: [raw]) as server, \
                UpstreamClient(transport=WireTransport(limits=LIMITS)) as client:
            for _ in range(2):
                response = await client.open_stream("POST", httpx.URL(f"http://127.0.0.1:{server.port}/v1/x"),
                                                    headers={}, json={}, timeout=httpx.Timeout(1))
                out.append(type(response))
                await response.aclose()
        return out

    plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
    cookie = b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=1; Path=/\r\nContent-Length: 2\r\n\r\n{}"
    assert asyncio.run(kinds(plain)) == [Streamed, Streamed]
    # The cookie is kept by httpx's Response; the next request carries it, so it is httpx's too.
    assert asyncio.run(kinds(cookie)) == [httpx.Response, httpx.Response]


def test_open_stream_keeps_cookies_as_send_does() -> None:
    raw = b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=1; Path=/\r\nContent-Length: 2\r\n\r\n{}"
    fast, slow = asyncio.run(_stream_both(lambda n: [raw]))
    assert fast == slow
    assert fast[2] == [("sid", "1")] and b"cookie: sid=1" in fast[1][1].lower()


def test_a_stream_let_go_before_its_end_closes_its_connection() -> None:
    """Read one part of a stream still coming and let it go: the connection is closed, not
    pooled (the next request opens another), on both paths; read to the end, it is reused."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    event = b"data: {}\n\n"
    chunk = b"%x\r\n%s\r\n" % (len(event), event)
    script = lambda n: [head + chunk, 0.05, chunk, b"0\r\n\r\n"]  # noqa: E731
    fast, slow = asyncio.run(_stream_both(script, parts=1))
    assert fast == slow
    assert fast[3] == 2 and fast[0][0][3] == event
    whole_fast, whole_slow = asyncio.run(_stream_both(script))
    assert whole_fast == whole_slow
    assert whole_fast[3] == 1 and whole_fast[0][0][3] == event * 2


def test_open_stream_timeouts_and_refused_connection() -> None:
    async def run() -> list[Any]:
        from aigw.providers.wire import WireTransport

        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        out = []
        async with ScriptedServer(lambda n: [3.0] if n == 0 else [head, 3.0]) as server, \
                UpstreamClient(transport=WireTransport(limits=LIMITS)) as client:
            url = httpx.URL(f"http://127.0.0.1:{server.port}/v1/x")
            timeout = httpx.Timeout(0.05, connect=1)
            with pytest.raises(httpx.ReadTimeout) as before_head:
                await client.open_stream("POST", url, headers={}, json={}, timeout=timeout)
            out.append(before_head.value.request.url.port == server.port)  # the request, as httpx attaches it
            response = await client.open_stream("POST", url, headers={}, json={}, timeout=timeout)
            with pytest.raises(httpx.ReadTimeout):  # mid-body: the stream's reader maps it (providers/http.py)
                await anext(aiter(response))
            out.append([part async for part in response])  # let go: nothing more comes
            with pytest.raises(httpx.ConnectError):
                await client.open_stream("POST", httpx.URL("http://127.0.0.1:9/v1/x"), headers={}, json={},
                                         timeout=httpx.Timeout(1, connect=1))
        return out

    assert asyncio.run(run()) == [True, []]


def test_open_stream_takes_httpx_path_where_the_wire_does_not_frame() -> None:
    reply = (200, [("content-type", "text/event-stream")], b"data: {}\n\n")

    async def run() -> Any:
        async with UpstreamClient(transport=_transport(reply)) as client:
            response = await client.open_stream("POST", httpx.URL("https://upstream.test/v1/x"), headers={},
                                                json={}, timeout=httpx.Timeout(1))
            body = [part async for part in iter_body(response)]
            return response, body

    response, body = asyncio.run(run())
    assert isinstance(response, httpx.Response) and body == [b"data: {}\n\n"]


@pytest.mark.parametrize(("rest", "reused"), [
    ([b"0\r\n\r\n"], True),  # the end came with the last event: dropped without a wait
    ([0.01, b"0\r\n\r\n"], True),  # it came a little later: waited for
    ([0.01, b"%x\r\n%s\r\n" % (70_000, b"x" * 70_000), 0.01, b"0\r\n\r\n"], False),  # too much more: let go
    ([1.0, b"0\r\n\r\n"], False),  # too late
])
def test_a_stream_drained_after_its_protocol_end_keeps_its_connection(rest: list[Any], reused: bool) -> None:
    """After `[DONE]` the rest of the body is read (bounded) so the connection is pooled."""
    from aigw.providers.http import _drain
    from aigw.providers.wire import Streamed, WireTransport

    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    done = b"data: [DONE]\n\n"

    async def run() -> int:
        async with ScriptedServer(lambda n: [head + b"%x\r\n%s\r\n" % (len(done), done), *rest]) as server, \
                UpstreamClient(transport=WireTransport(limits=LIMITS)) as client:
            for _ in range(2):
                response = await client.open_stream("POST", httpx.URL(f"http://127.0.0.1:{server.port}/v1/x"),
                                                    headers={}, json={}, timeout=httpx.Timeout(2))
                assert isinstance(response, Streamed)
                assert await anext(response) == done
                await asyncio.sleep(0.001)  # (a read apart from the event's, when the server sends one)
                await _drain(response)
                await response.aclose()
            return server.connections

    assert asyncio.run(run()) == (1 if reused else 2)
