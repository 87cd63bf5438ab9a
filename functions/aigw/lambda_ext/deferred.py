"""Work that runs after the response has been sent: settlement off the client's critical path.

`PostResponse` (an ASGI wrapper, outermost) gives each HTTP request a holder in a context
variable; the pipeline's `_finish` hands its stages' `after` and the log line to `defer`
instead of awaiting them, and the wrapper runs them once the inner app has returned, i.e.
once the response's last byte went to the server. Without the wrapper (the setting off, or no
extension to keep a Lambda environment from freezing) `defer` returns False and the pipeline
settles inline as before.

`Tracker` is what the Lambda extension thread (lambda_ext/extension.py) waits on: it may only
call `/event/next` once the invocation's request has finished and nothing deferred is pending,
because a frozen environment runs nothing and a shut-down one loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aigw.names import HEALTH_PATH
from aigw.scopes import cancel_scope

logger = logging.getLogger("aigw.lambda_ext")

# Longest a deferred settlement may run before it is given up (and logged for reconciliation):
# well under the function timeout, so the extension never holds an environment for long.
DEFERRED_TIMEOUT_S = 10.0
LOG = "post_response"  # the namespace in the request log line
LAMBDA_CONTEXT_HEADER = b"x-amzn-lambda-context"  # set by Lambda Web Adapter: the invocation's context

Work = Callable[[], Awaitable[None]]
Details = dict[str, Any] | Callable[[], dict[str, Any]]
_holder: contextvars.ContextVar[list[tuple[Any, Work]] | None] = contextvars.ContextVar("aigw_post_response",
                                                                                       default=None)


def defer(ctx: Any, work: Work) -> bool:
    """Queue `work` (for request `ctx`) to run after the response; False when nothing would run it."""
    holder = _holder.get()
    if holder is None:
        return False
    holder.append((ctx, work))
    return True


def reconcile_details(ctx: Any) -> dict[str, Any]:
    """What a person needs to settle a request by hand: its ids and, when it reserved budget,
    the counters and amounts (the admission stage's Reservation slot)."""
    details: dict[str, Any] = {"request_id": getattr(ctx, "request_id", None)}
    key = getattr(ctx, "key", None)
    details["key_id"] = getattr(key, "key_id", None)
    try:
        from aigw.budgets.admission import Reservation

        reservation = ctx.slot(Reservation)
    except Exception:
        reservation = None
    if reservation is not None:
        details.update(settled=reservation.settled, reserved_usd=str(reservation.usd),
                       reserved_tokens=reservation.tokens,
                       counters=[f"{c.counter.pk}/{c.counter.sk}" for c in reservation.charges])
    usage = getattr(ctx, "usage", None)
    if usage is not None:
        details.update(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens)
    return details


class Tracker:
    """Thread-safe view of requests and deferred work, for the extension thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight = 0
        self._pending: dict[int, Details] = {}  # id(work) -> reconcile details (or what makes them)
        self._finished_ids: set[str] = set()
        self._finished_anonymous = 0  # requests without an invocation id (no LWA header)
        self._ids_seen = False

    def started(self, invocation: str | None) -> None:
        with self._cond:
            self._in_flight += 1
            self._ids_seen = self._ids_seen or invocation is not None

    def finished(self, invocation: str | None, settled: Iterable[int] = ()) -> None:
        """The request is over, and with it its deferred work (`settled`: their `pending` keys)."""
        with self._cond:
            for key in settled:
                self._pending.pop(key, None)
            self._in_flight -= 1
            if invocation is not None:
                self._finished_ids.add(invocation)
            else:
                self._finished_anonymous += 1
            self._cond.notify_all()

    def pending(self, key: int, details: Details | None) -> None:
        """`details` may be a function that makes them: called only if they are logged (then, in
        the extension's thread, they say how far the settlement got)."""
        with self._cond:
            if details is None:
                self._pending.pop(key, None)
                self._cond.notify_all()
            else:
                self._pending[key] = details

    def wait_invocation(self, invocation: str, deadline: float) -> bool:
        """Block until `invocation`'s request has finished, its deferred work included (by id when
        Lambda Web Adapter passed it, else the next request to finish), or `deadline` (monotonic)."""
        with self._cond:
            def done() -> bool:
                if self._pending or self._in_flight:
                    return False
                if invocation in self._finished_ids:
                    return True
                return not self._ids_seen and self._finished_anonymous > 0

            ok = self._cond.wait_for(done, timeout=max(0.0, deadline - time.monotonic()))
            matched = invocation in self._finished_ids
            self._finished_ids.discard(invocation)
            if ok and not matched:
                self._finished_anonymous -= 1
            if not ok:
                self._log_pending("environment released with deferred settlements pending")
            return ok

    def drain(self, deadline: float) -> bool:
        """Block until nothing is pending or in flight, or `deadline`; log what could not finish."""
        with self._cond:
            ok = self._cond.wait_for(lambda: not self._pending and not self._in_flight,
                                     timeout=max(0.0, deadline - time.monotonic()))
            if not ok:
                self._log_pending("shutdown with deferred settlements pending")
            return ok

    def _log_pending(self, message: str) -> None:
        for details in self._pending.values():
            if callable(details):
                try:
                    details = details()
                except Exception as exc:  # what the loop changes meanwhile must not stop the thread
                    details = {"details_unavailable": type(exc).__name__}
            logger.error(message + ": reconcile by hand", extra={"reconcile": details})


class PostResponse:
    """ASGI wrapper: runs the work deferred during a request once its response has been sent."""

    def __init__(self, app: Callable[..., Awaitable[None]], tracker: Tracker | None = None, *,
                 timeout_s: float = DEFERRED_TIMEOUT_S) -> None:
        self.app = app
        self.tracker = tracker or Tracker()
        self.timeout_s = timeout_s

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") == HEALTH_PATH:
            await self.app(scope, receive, send)
            return
        invocation = _invocation_id(scope)
        holder: list[tuple[Any, Work]] = []
        token = _holder.set(holder)
        self.tracker.started(invocation)
        try:
            await self.app(scope, receive, send)
        finally:
            _holder.reset(token)
            try:
                if holder:
                    await self._run(holder)
            finally:
                self.tracker.finished(invocation, [id(work) for _, work in holder])

    async def _run(self, holder: list[tuple[Any, Work]]) -> None:
        """The request's deferred work in order, shielded, within one deadline (one anyio scope
        for both: a shield scope and a timeout each were a timer and a scope more a request)."""
        for ctx, work in holder:
            self.tracker.pending(id(work), lambda ctx=ctx: reconcile_details(ctx))  # made only if logged
        done = 0
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        with cancel_scope(shield=True, deadline=deadline):
            for ctx, work in holder:
                with contextlib.suppress(Exception):
                    # latency_ms in the log line now includes the settlement; this is what the client waited.
                    ctx.log_for(LOG)["response_sent_ms"] = round(ctx.elapsed_s() * 1000, 3)
                try:
                    await work()
                except Exception as exc:  # the pipeline's _finish never raises: a bug, logged
                    _not_completed(ctx, type(exc).__name__)
                done += 1
        for ctx, _ in holder[done:]:  # the deadline came first
            _not_completed(ctx, "TimeoutError")


def _not_completed(ctx: Any, error: str) -> None:
    logger.error("deferred settlement not completed: reconcile by hand", extra={
        "reconcile": reconcile_details(ctx), "error": error})


def _invocation_id(scope: Any) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == LAMBDA_CONTEXT_HEADER:
            try:
                request_id = json.loads(value).get("request_id")
            except (ValueError, AttributeError):
                return None
            return request_id if isinstance(request_id, str) else None
    return None
