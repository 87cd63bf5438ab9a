"""The shared upstream client: httpx's AsyncClient with a shorter `send` for the common case.

Per request, `AsyncClient.send` runs three nested generator layers (auth, redirects, hooks)
and hands every response to the cookie jar, which builds two urllib compatibility objects
even when the response sets no cookie: about 15% of the gateway's CPU per request once the
transport was cheap (docs/DESIGN.md §4). With no auth, no event hooks and no redirect
following (how `services.default_http_client` builds it), `send` here does what httpx's does
on that path, in one frame: the client's timeout, the transport, the bound stream (so
`response.elapsed` is set on close), the cookie jar only when a `Set-Cookie` came, the log
record, `next_request` for a redirect. Anything else takes httpx's own path.

`build_json_request` is `build_request(method, url, headers=..., json=..., timeout=...)` for
an absolute URL: the same request (headers in the same order, the body's JSON value) built
from the client's default headers directly, in a quarter of the time (28 us to 7). With
query parameters, cookies in the jar, a relative URL, a header value that is not ASCII, or a
body that may hold NaN or Infinity (which httpx refuses), it is httpx's `build_request`.

`send_json` is a JSON call whole (every non-streaming chat call): on the wire transport it
builds no httpx Request or Response at all, where those objects, their Headers and the bound
stream were about 50 us of a call's CPU (docs/DESIGN.md §8); what it returns reads as the
Response does for such a call. tests/unit/providers/test_upstream_client.py pins every short
path here to httpx's results.

`open_stream` is the same for a stream (every streaming chat call): the head sent and the
answer's head read, the body read as it arrives through the wire's `Streamed`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from httpx._client import USE_CLIENT_DEFAULT, BoundAsyncStream, ClientState
from httpx._content import ByteStream

from aigw.fastjson import dumps_finite
from aigw.providers.wire import Answer, Place, Streamed, WireTransport, place_of

_Wired = tuple[WireTransport, bytes, Place]  # a URL's wire transport, netloc and place (`_wired`)

_log = logging.getLogger("httpx")


async def _read(response: httpx.Response) -> None:
    """`response.aread()`: for a body sent as is (no Content-Encoding), `iter_body` joined;
    otherwise httpx's own."""
    if "content-encoding" in response.headers or hasattr(response, "_content"):
        await response.aread()
        return
    response._content = b"".join([part async for part in iter_body(response)])


async def iter_body(response: httpx.Response) -> AsyncIterator[bytes]:
    """`response.aiter_bytes()`: for a body sent as is (no Content-Encoding), straight from the
    transport (one iterator where httpx has two, with a decoder and a chunker per part, for
    every read of a stream); otherwise httpx's own. Closes the response at the end, as httpx's does."""
    if "content-encoding" in response.headers or hasattr(response, "_content"):  # (or read already)
        async for part in response.aiter_bytes():
            yield part
        return
    if response.is_stream_consumed:
        raise httpx.StreamConsumed()
    response.is_stream_consumed = True
    response._num_bytes_downloaded = 0
    try:
        async for part in response.stream:  # type: ignore[union-attr]
            if part:
                response._num_bytes_downloaded += len(part)
                yield part
    except httpx.RequestError as exc:  # what httpx's request_context does
        exc.request = response.request
        raise
    await response.aclose()


def _log_answer(method: str, url: httpx.URL, answer: Answer | Streamed) -> None:
    """httpx's line for a request, for one the wire answered."""
    if _log.isEnabledFor(logging.INFO):
        _log.info('HTTP Request: %s %s "%s %d %s"', method, url, "HTTP/1.1", answer.status_code,
                  answer.reason_phrase)


def _jar_empty(jar: Any) -> bool:
    """`len(jar) == 0` without counting: CookieJar.__len__ walks a generator over every domain
    and path (three Python frames for an empty jar, each request). A jar whose cookies were all
    cleared may keep empty inner dicts: then it reads as not empty, and httpx's path is taken."""
    cookies = getattr(jar, "_cookies", None)
    return not cookies if isinstance(cookies, dict) else len(jar) == 0


class _Bound(BoundAsyncStream):
    """httpx's bound stream (it sets `response.elapsed` on close), letting go of its response
    once closed: the response holds the stream and the stream the response, so every request
    left a cycle of about 24 objects (request, URL, headers, streams) for the cyclic garbage
    collector, a collection every ~40 requests that paused the loop."""

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            self._response = None  # type: ignore[assignment]


class UpstreamClient(httpx.AsyncClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wire_urls: dict[int, tuple[httpx.URL, _Wired | None]] = {}

    def build_json_request(self, method: str, url: httpx.URL, *, headers: Mapping[str, str], json: Any,
                           timeout: httpx.Timeout, params: Mapping[str, str] | None = None) -> httpx.Request:
        head = None if params else self._json_head(url, headers, json)
        if head is None:
            return self.build_request(method, url, headers=headers, json=json, params=params, timeout=timeout)
        raw, body = head
        request = httpx.Request(method, url, headers=raw, stream=ByteStream(body),
                                extensions={"timeout": timeout.as_dict()})
        request._content = body  # what Request.read() sets for a body given whole
        return request

    def _json_head(self, url: httpx.URL, headers: Mapping[str, str], json: Any,
                   netloc: bytes | None = None) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
        """The headers httpx's `build_request` would send with this JSON body, and the body;
        None where httpx's own must build it (see the module's docstring). `netloc`: the URL's,
        when the caller knows it is absolute."""
        if netloc is None:
            if not url.is_absolute_url:
                return None
            netloc = url.netloc
        if not _jar_empty(self._cookies.jar):
            return None
        try:
            own = [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]
        except UnicodeEncodeError:  # httpx's own error (or its encoding) for such a header
            return None
        body = dumps_finite(json)
        if body is None:  # httpx refuses non-finite numbers (allow_nan=False)
            return None
        given = {name.lower() for name, _ in own}
        merged = [item for item in self._headers.raw if item[0].lower() not in given]
        merged.extend(own)
        names = {name.lower() for name, _ in merged}
        raw = [(b"Host", netloc)] if b"host" not in names else []
        raw.extend(merged)
        if b"content-length" not in names:
            raw.append((b"Content-Length", b"%d" % len(body)))
        if b"content-type" not in names:
            raw.append((b"Content-Type", b"application/json"))
        return raw, body

    async def send_json(self, method: str, url: httpx.URL, *, headers: Mapping[str, str], json: Any,
                        timeout: httpx.Timeout,  # noqa: ASYNC109 (httpx's per-phase timeouts, as send's)
                        params: Mapping[str, str] | None = None) -> httpx.Response | Answer:
        """`send(build_json_request(...))` and the whole body read: an `httpx.Response`, or on the
        common path (the wire transport, no hooks, auth, redirects or cookies, a body sent
        without Content-Encoding) the wire's `Answer`, which has what a caller of a JSON call
        reads of a response: `status_code`, `content` and `headers`.
        tests/unit/providers/test_upstream_client.py holds the two paths equal."""
        on_wire = self._on_wire(method, url, headers, json, params)
        if on_wire is None:
            return await self.send(self.build_json_request(method, url, headers=headers, json=json,
                                                           params=params, timeout=timeout))
        (wire, _, place), raw, body = on_wire
        try:
            answer = await wire.exchange(method, url, raw, body, timeout.as_dict(), place)
        except httpx.RequestError as exc:  # the request, as httpx's request_context attaches it
            exc.request = httpx.Request(method, url, headers=raw, content=body)
            raise
        _log_answer(method, url, answer)
        if answer.slow():  # a cookie to keep, or content to decode: httpx's Response does both
            request = httpx.Request(method, url, headers=raw, content=body)
            response = httpx.Response(answer.status_code, headers=answer.raw_headers,
                                      stream=ByteStream(answer.content), request=request,
                                      extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason})
            response.default_encoding = self._default_encoding
            if "set-cookie" in response.headers:
                self.cookies.extract_cookies(response)
            response.read()  # (`content=` would add a Content-Length header the upstream did not send)
            return response
        return answer

    async def open_stream(self, method: str, url: httpx.URL, *, headers: Mapping[str, str], json: Any,
                          timeout: httpx.Timeout,  # noqa: ASYNC109 (as send_json's)
                          params: Mapping[str, str] | None = None) -> httpx.Response | Streamed:
        """`send(build_json_request(...), stream=True)`: the answer's head, its body to be read
        as it comes. On the common path (as `send_json`'s, a body without Content-Encoding and
        no cookie to keep) the wire's `Streamed`, no httpx Request or Response built; else an
        `httpx.Response`. tests/unit/providers/test_upstream_client.py holds the two equal."""
        on_wire = self._on_wire(method, url, headers, json, params)
        if on_wire is None:
            return await self.send(self.build_json_request(method, url, headers=headers, json=json,
                                                           params=params, timeout=timeout), stream=True)
        (wire, _, place), raw, body = on_wire
        start = time.perf_counter()
        try:
            streamed = await wire.open(method, url, raw, body, timeout.as_dict(), place)
        except httpx.RequestError as exc:  # as send_json's
            exc.request = httpx.Request(method, url, headers=raw, content=body)
            raise
        if not streamed.slow():
            _log_answer(method, url, streamed)
            return streamed
        request = httpx.Request(method, url, headers=raw, content=body)
        request.extensions["timeout"] = timeout.as_dict()
        return await self._received(request, wire.response(streamed, request), start, True)

    def _on_wire(self, method: str, url: httpx.URL, headers: Mapping[str, str], json: Any,
                 params: Mapping[str, str] | None) -> tuple[_Wired, list[tuple[bytes, bytes]], bytes] | None:
        """The wire transport, the request's headers and its body, where the call can skip httpx's
        objects (the wire frames it; no params, hooks, auth, redirects or cookies); the client is
        then open, as `send` leaves it. None: httpx's own path."""
        wired = self._wired(url)
        if params or wired is None or method == "HEAD" or not self._plain():
            return None
        head = self._json_head(url, headers, json, wired[1])
        if head is None:
            return None
        self._state = ClientState.OPENED
        return wired, head[0], head[1]

    def _wired(self, url: httpx.URL) -> _Wired | None:
        """The wire transport for `url`, its netloc and its place (target and origin), if the
        wire can carry requests to it (absolute, http or https), once per URL object: the
        providers keep the few they use (aigw/providers/http.py), and the mounts are fixed once
        the client is built. Six URL properties a request, each a Python call, saved."""
        held = self._wire_urls.get(id(url))
        if held is not None and held[0] is url:
            return held[1]
        transport = self._transport_for_url(url)
        wired = (transport, url.netloc, place_of(url)) if isinstance(transport, WireTransport) \
            and url.is_absolute_url and transport.frames("POST", url) else None
        if len(self._wire_urls) < 1024:  # (holding the URL keeps its id from being reused)
            self._wire_urls[id(url)] = (url, wired)
        return wired

    def _plain(self) -> bool:
        """No auth, hooks or redirect following, and open: `send`'s short path applies."""
        return not (self.follow_redirects or self._auth is not None or self._event_hooks["request"]
                    or self._event_hooks["response"] or self._state == ClientState.CLOSED)

    async def send(self, request: httpx.Request, *, stream: bool = False, auth: Any = USE_CLIENT_DEFAULT,
                   follow_redirects: Any = USE_CLIENT_DEFAULT) -> httpx.Response:
        if (auth is not USE_CLIENT_DEFAULT or follow_redirects is True or not self._plain()
                or not isinstance(request.stream, httpx.AsyncByteStream)):
            return await super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        self._state = ClientState.OPENED
        self._set_timeout(request)
        transport = self._transport_for_url(request.url)
        start = time.perf_counter()
        try:
            response = await transport.handle_async_request(request)
        except httpx.RequestError as exc:  # what httpx's request_context does
            exc.request = request
            raise
        return await self._received(request, response, start, stream)

    async def _received(self, request: httpx.Request, response: httpx.Response, start: float,
                        stream: bool) -> httpx.Response:
        """What httpx's `send` does with the transport's response on this path."""
        response.request = request
        response.stream = _Bound(response.stream, response=response, start=start)  # type: ignore[arg-type]
        response.default_encoding = self._default_encoding
        try:
            if "set-cookie" in response.headers:
                self.cookies.extract_cookies(response)
            if _log.isEnabledFor(logging.INFO):
                _log.info('HTTP Request: %s %s "%s %d %s"', request.method, request.url, response.http_version,
                          response.status_code, response.reason_phrase)
            response.history = []
            if response.has_redirect_location:
                response.next_request = self._build_redirect_request(request, response)
            if not stream:
                await _read(response)
        except BaseException:
            await response.aclose()
            raise
        return response
