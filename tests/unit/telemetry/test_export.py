"""The flusher: exports run off the event loop, a response waits for the export that covers
its spans (never for nothing, never for a later one it does not need), and a burst of
concurrent responses shares exports instead of queueing one each."""

from __future__ import annotations

import asyncio
import threading

import pytest

from aigw.telemetry.export import Flusher


class Gate:
    """A flush that blocks until released, and counts calls and the threads they ran on."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[str] = set()
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        self.started.set()
        assert self.release.wait(5)


@pytest.fixture
def gate() -> Gate:
    return Gate()


async def test_nothing_ended_means_no_export(gate: Gate) -> None:
    flusher = Flusher(gate)
    await flusher.flush()
    assert gate.calls == 0


async def test_the_export_runs_in_its_own_thread_and_the_response_waits_for_it(gate: Gate) -> None:
    flusher = Flusher(gate)
    flusher.mark()
    waiting = asyncio.ensure_future(flusher.flush())
    assert await asyncio.to_thread(gate.started.wait, 5)
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the loop is free meanwhile (this coroutine runs), the response waits
    gate.release.set()
    await asyncio.wait_for(waiting, 5)
    assert gate.calls == 1 and gate.threads and threading.current_thread().name not in gate.threads
    flusher.close()


async def test_a_burst_shares_exports(gate: Gate) -> None:
    flusher = Flusher(gate)
    flusher.mark()
    first = asyncio.ensure_future(flusher.flush())
    assert await asyncio.to_thread(gate.started.wait, 5)
    # Ten more requests end while the first export runs: they need one more export, together.
    for _ in range(10):
        flusher.mark()
    rest = [asyncio.ensure_future(flusher.flush()) for _ in range(10)]
    await asyncio.sleep(0.01)
    gate.release.set()
    await asyncio.wait_for(asyncio.gather(first, *rest), 5)
    assert gate.calls == 2
    # A request whose spans the running export already covers waits for that one, not a new one.
    gate.release.clear()
    gate.started.clear()
    flusher.mark()
    covering = asyncio.ensure_future(flusher.flush())
    assert await asyncio.to_thread(gate.started.wait, 5)
    late = asyncio.ensure_future(flusher.flush())  # nothing new ended: rides on the running export
    await asyncio.sleep(0.01)
    assert not late.done()
    gate.release.set()
    await asyncio.wait_for(asyncio.gather(covering, late), 5)
    assert gate.calls == 3
    flusher.close()


async def test_a_failing_export_does_not_fail_the_response() -> None:
    def broken() -> None:
        raise ConnectionError("collector down")

    flusher = Flusher(broken)
    flusher.mark()
    await asyncio.wait_for(flusher.flush(), 5)
    flusher.close()
