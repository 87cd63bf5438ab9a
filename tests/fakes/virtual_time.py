"""Virtual time for simulations: many threads, one running at a time, time jumping ahead.

Each participant is a thread (a gateway instance: Lambda runs one request per instance at a
time). Exactly one participant runs at any moment; it gives the baton up when it sleeps in
virtual time (`clock.sleep`) or ends, and the participant with the earliest wake-up time runs
next, the clock set to that time. Python's own CPU time therefore costs nothing in virtual
time: a simulation measures the behaviour of what it simulates (DynamoDB's latency,
throttling and conflicts), not the speed of the machine running it, and it is deterministic
for a given seed.

`InlineExecutor` runs `asyncio.to_thread` work in the calling thread, so an asyncio program
run by one participant stays one thread of control (its blocking calls sleep in virtual time).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import threading
from collections.abc import Awaitable, Callable
from typing import Any


class VirtualClock:
    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._heap: list[tuple[float, int, threading.Event]] = []
        self._seq = 0
        self._alive = 0
        self._done = threading.Event()
        self._errors: list[BaseException] = []

    def now(self) -> float:
        return self._now

    def sleep(self, seconds: float) -> None:
        """Block the calling participant for `seconds` of virtual time."""
        event = threading.Event()
        with self._lock:
            self._push(self._now + max(seconds, 0.0), event)
            self._next()
        event.wait()

    def park(self) -> threading.Event:
        """A handle for `wait_parked`/`unpark`: a participant that waits for another to wake it."""
        return threading.Event()

    def wait_parked(self, handle: threading.Event) -> None:
        """Give up the baton until another participant calls `unpark(handle)`."""
        with self._lock:
            self._next()
        handle.wait()
        handle.clear()

    def unpark(self, handle: threading.Event) -> None:
        """Let a parked participant run again, at the current time (after the caller yields)."""
        with self._lock:
            self._push(self._now, handle)

    def spawn(self, fn: Callable[[], Any], *, at: float | None = None, name: str | None = None) -> None:
        """A participant that starts at virtual time `at` (default: now)."""
        event = threading.Event()

        def body() -> None:
            event.wait()
            try:
                fn()
            except BaseException as exc:  # reported by run()
                self._errors.append(exc)
            finally:
                with self._lock:
                    self._alive -= 1
                    self._next()

        with self._lock:
            self._alive += 1
            self._push(self._now if at is None else max(at, self._now), event)
        threading.Thread(target=body, name=name, daemon=True).start()

    def run(self, timeout_s: float = 3_600.0) -> None:
        """Drive every participant to its end (call from a thread that is not one)."""
        with self._lock:
            self._done.clear()
            self._next()
        if not self._done.wait(timeout_s):
            raise TimeoutError("the simulation did not finish (a participant blocked outside virtual time?)")
        if self._errors:
            raise self._errors[0]

    def _push(self, at: float, event: threading.Event) -> None:
        heapq.heappush(self._heap, (at, self._seq, event))
        self._seq += 1

    def _next(self) -> None:
        if self._heap:
            at, _, event = heapq.heappop(self._heap)
            self._now = max(self._now, at)
            event.set()
        elif self._alive == 0:
            self._done.set()


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """Runs submitted work at once, in the submitting thread (see the module doc)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def run_async(main: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine on a fresh event loop whose `to_thread` work runs inline."""
    async def wrapped() -> Any:
        asyncio.get_running_loop().set_default_executor(InlineExecutor(max_workers=1))
        return await main()

    return asyncio.run(wrapped())
