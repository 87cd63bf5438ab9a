"""Amazon Bedrock through the Converse and ConverseStream APIs (boto3 `bedrock-runtime`).

Calls run in worker threads (boto3 blocks). A stream is iterated in a thread that hands
each event to the loop through a queue; closing the stream sets a stop flag and closes the
HTTP body, which ends the thread's iteration. Clients are built once per (region, endpoint,
timeouts), with botocore's own retries off: routing retries.

Credentials are the function's IAM role (no secret). `region` picks the region; `api_base`,
when set, is the endpoint (a VPC endpoint, or a local fake); otherwise boto3's standard
`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` applies. Bedrock's `inputTokens` excludes cache reads
and writes: they are added in, as for Anthropic.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from aigw.config.models import Deployment
from aigw.errors import UpstreamError
from aigw.providers.base import ChatCall, ChatResult, StreamEvent
from aigw.providers.bedrock_converse import BedrockStreamState, converse_request, openai_completion
from aigw.providers.http import upstream_status_error

_ClientKey = tuple[str | None, str | None, float, float]
# botocore error codes -> HTTP status, where the response carries none (in-stream exceptions).
ERROR_STATUS: dict[str, int] = {
    "ThrottlingException": 429, "throttlingException": 429, "ModelNotReadyException": 429,
    "ServiceUnavailableException": 503, "serviceUnavailableException": 503,
    "InternalServerException": 500, "internalServerException": 500,
    "ModelStreamErrorException": 500, "modelStreamErrorException": 500,
    "ModelTimeoutException": 504, "ValidationException": 400, "validationException": 400,
    "AccessDeniedException": 403, "ResourceNotFoundException": 404, "ModelErrorException": 500,
}


def bedrock_error(exc: Exception) -> UpstreamError:
    """Map any botocore failure to an UpstreamError (never with credentials in the message)."""
    from botocore.exceptions import ClientError, ConnectionError, ConnectTimeoutError, ReadTimeoutError
    from botocore.parsers import ResponseParserError

    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, ReadTimeoutError | ConnectTimeoutError):
        return UpstreamError("bedrock timed out", status=504, retryable=True)
    if isinstance(exc, ConnectionError):
        return UpstreamError(f"cannot reach bedrock: {type(exc).__name__}", status=502, retryable=True)
    if isinstance(exc, ResponseParserError):
        return UpstreamError("bedrock response not understood", status=502, retryable=True)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error") or {}
        code = str(error.get("Code") or "")
        meta: dict[str, Any] = dict(exc.response.get("ResponseMetadata") or {})
        status = int(meta.get("HTTPStatusCode") or 0)
        if status in (0, 200):
            status = ERROR_STATUS.get(code, 500)
        headers = httpx.Headers(meta.get("HTTPHeaders") or {})
        message = str(error.get("Message") or code or f"bedrock returned {status}")
        return upstream_status_error(status, message, headers, code=code or None)
    return UpstreamError(f"bedrock call failed: {type(exc).__name__}", status=502, retryable=True)


class BedrockProvider:
    """`ChatProvider` for Bedrock. `client_factory(deployment)` injects a boto3 client (tests)."""

    def __init__(self, http_client: httpx.AsyncClient | None = None, *,
                 client_factory: Callable[[Deployment], Any] | None = None) -> None:
        self._factory = client_factory or _new_client
        self._clients: dict[_ClientKey, Any] = {}
        self._lock = threading.Lock()

    def _client(self, d: Deployment) -> Any:
        key = (d.region, d.api_base, d.timeout_s, d.connect_timeout_s)
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = self._factory(d)
        return client

    async def _client_async(self, d: Deployment) -> Any:
        key = (d.region, d.api_base, d.timeout_s, d.connect_timeout_s)
        client = self._clients.get(key)
        return client if client is not None else await asyncio.to_thread(self._client, d)

    async def _invoke(self, call: ChatCall, operation: str) -> Any:
        """One Converse or ConverseStream call in a worker thread; failures as UpstreamError."""
        request = converse_request(call)
        client = await self._client_async(call.deployment)
        try:
            return await asyncio.to_thread(lambda: getattr(client, operation)(**request))
        except Exception as exc:
            raise bedrock_error(exc) from None

    async def complete(self, call: ChatCall) -> ChatResult:
        response = await self._invoke(call, "converse")
        try:
            return openai_completion(response, call.deployment.model)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise UpstreamError(f"bedrock response not understood: {type(exc).__name__}", status=502,
                                retryable=True) from None

    async def stream(self, call: ChatCall) -> AsyncIterator[StreamEvent]:
        response = await self._invoke(call, "converse_stream")
        events = response["stream"]
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def hand(kind: str, item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, (kind, item))

        def pump() -> None:
            try:
                for event in events:
                    if stop.is_set():
                        return
                    hand("event", event)
                hand("end", None)
            except Exception as exc:
                if not stop.is_set():
                    hand("error", exc)

        worker = loop.run_in_executor(None, pump)
        state = BedrockStreamState(call.deployment.model)
        try:
            while True:
                kind, item = await queue.get()
                if kind == "end":
                    break
                if kind == "error":
                    raise bedrock_error(item)
                try:
                    translated = state.event(item)
                except (KeyError, TypeError, ValueError, IndexError) as exc:
                    raise UpstreamError(f"bedrock stream not understood: {type(exc).__name__}", status=502,
                                        retryable=True) from None
                for out in translated:
                    yield out
            if not state.finished:
                raise UpstreamError("bedrock stream ended before its metadata event", status=502, retryable=True)
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                events.close()  # ends the worker's blocking read
            worker.cancel()


def _new_client(d: Deployment) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=d.timeout_s, connect_timeout=d.connect_timeout_s,
                    retries={"total_max_attempts": 1}, max_pool_connections=64)
    # A session of its own: boto3's default session is not safe to share across threads.
    return boto3.session.Session().client("bedrock-runtime", region_name=d.region, endpoint_url=d.api_base,
                                          config=config)
