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
from aigw.errors import TRUNCATED, GatewayError, UpstreamError, stream_truncated
from aigw.providers.base import ChatCall, ChatResult, StreamEvent
from aigw.providers.bedrock_converse import BedrockStreamState, converse_request, openai_completion
from aigw.providers.http import not_understood, upstream_status_error, with_call_context
from aigw.providers.redact import register

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
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "ReadTimeoutError":  # urllib3's, unwrapped
        return UpstreamError("bedrock timed out", status=504, retryable=True)
    # Anything else botocore raised while reading the answer (its parser on a body it cannot
    # coerce, a connection cut mid-body): the answer is not usable.
    return UpstreamError(f"bedrock response not understood: {type(exc).__name__}", status=502, retryable=True,
                         code="upstream_invalid_response")


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
            raise with_call_context(bedrock_error(exc), call.deployment, call.request_id) from None

    async def complete(self, call: ChatCall) -> ChatResult:
        response = await self._invoke(call, "converse")
        try:
            return openai_completion(response, call.deployment.model)
        except GatewayError:
            raise
        except Exception as exc:  # whatever the upstream sent, the client gets a clean 502
            raise not_understood("response", exc) from None

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
                    if state.finished:  # lost after messageStop and metadata: nothing is missing
                        break
                    raise _mid_stream(bedrock_error(item), item)
                try:
                    translated = state.event(item) if isinstance(item, dict) else state.event({})
                except GatewayError:
                    raise
                except Exception as exc:
                    raise not_understood("stream", exc) from None
                for out in translated:
                    yield out
                if state.finished:
                    break  # whatever follows the metadata event is not part of the answer
            if not state.finished:
                raise stream_truncated("messageStop and metadata")
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                events.close()  # ends the worker's blocking read
            worker.cancel()


def _mid_stream(error: UpstreamError, cause: BaseException) -> UpstreamError:
    """A failure after the stream began: unless Bedrock itself reported it (an exception event,
    a timeout), the connection broke and the answer is truncated."""
    if error.status != 502 or error.upstream_status is not None or error.code not in (
            None, "upstream_error", "upstream_invalid_response"):
        return error
    return UpstreamError(f"bedrock stream broke ({type(cause).__name__}): the answer is incomplete", status=502,
                         code=TRUNCATED, retryable=True)


def _register_credentials(session: Any) -> None:
    """The role's keys join the redactor: an error that quotes them never leaves the gateway."""
    with contextlib.suppress(Exception):
        frozen = session.get_credentials().get_frozen_credentials()
        register([v for v in (frozen.access_key, frozen.secret_key, frozen.token) if v])


def _new_client(d: Deployment) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(read_timeout=d.timeout_s, connect_timeout=d.connect_timeout_s,
                    retries={"total_max_attempts": 1}, max_pool_connections=64)
    # A session of its own: boto3's default session is not safe to share across threads.
    session = boto3.session.Session()
    _register_credentials(session)
    return session.client("bedrock-runtime", region_name=d.region, endpoint_url=d.api_base, config=config)
