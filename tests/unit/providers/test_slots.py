"""Slots, raced: tasks take slots, hold them a while and give them back, some giving up on a
timeout or being cancelled while they wait, as hypothesis chooses. At no instant are more
slots held than there are; every task that did not give up got one; none waits while a slot
is free; and at the end every slot is free again. asyncio.Semaphore, run on the same plan,
lets the same tasks through."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.providers.slots import Slots


@dataclass(frozen=True)
class Plan:
    start: int  # loop turns before it asks
    hold: int  # turns it holds the slot
    patience: int | None  # turns it waits before giving up (None: as long as it takes)
    cancelled_at: int | None  # turn at which it is cancelled from outside, if any


plans = st.builds(Plan, st.integers(0, 6), st.integers(0, 6), st.none() | st.integers(0, 4),
                  st.none() | st.integers(0, 12))


async def _turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def _race(count: int, tasks: list[Plan], use_semaphore: bool) -> tuple[list[str], int]:
    slots = Slots(count)
    semaphore = asyncio.Semaphore(count)
    held = 0
    peak = 0
    outcomes = ["?"] * len(tasks)

    async def take(patience: int | None) -> None:
        if use_semaphore:
            acquire = semaphore.acquire()
        elif slots.take():  # as the pool does: a free slot at once, no timer
            return
        else:
            acquire = slots.wait()
        if patience is None:
            await acquire
        else:
            await asyncio.wait_for(acquire, timeout=patience * 0.001)

    async def one(i: int, plan: Plan) -> None:
        nonlocal held, peak
        await _turns(plan.start)
        try:
            await take(plan.patience)
        except TimeoutError:
            outcomes[i] = "gave up"
            return
        held += 1
        peak = max(peak, held)
        try:
            await _turns(plan.hold)
        finally:
            held -= 1
            semaphore.release() if use_semaphore else slots.release()
        outcomes[i] = "served"

    running = [asyncio.ensure_future(one(i, plan)) for i, plan in enumerate(tasks)]
    for turn in range(14):
        for i, plan in enumerate(tasks):
            if plan.cancelled_at == turn and not running[i].done():
                running[i].cancel()
                outcomes[i] = "cancelled"
        if not use_semaphore and slots.free > 0:
            assert not any(not w.done() for w in slots._waiters), "a waiter beside a free slot"
        await asyncio.sleep(0)
    _, stuck = await asyncio.wait(running, timeout=2)
    assert not stuck, "a task still waits for a slot that was given back"
    assert peak <= count
    free = semaphore._value if use_semaphore else slots.free
    assert free == count and held == 0  # every slot came back
    return outcomes, peak


@settings(max_examples=300, deadline=None)
@given(count=st.integers(1, 3), tasks=st.lists(plans, min_size=1, max_size=8))
def test_slots_keep_the_limit_and_lose_none(count: int, tasks: list[Plan]) -> None:
    outcomes, _ = asyncio.run(_race(count, tasks, use_semaphore=False))
    for plan, outcome in zip(tasks, outcomes, strict=True):
        if plan.patience is None and plan.cancelled_at is None:
            assert outcome == "served"  # nobody who waits for as long as it takes is left out
    asyncio.run(_race(count, tasks, use_semaphore=True))  # the plan itself is sound: the semaphore's run


def test_a_slot_handed_to_a_waiter_that_gives_up_goes_to_the_next() -> None:
    async def run() -> list[str]:
        slots = Slots(1)
        assert slots.take()
        order: list[str] = []
        first = asyncio.ensure_future(slots.wait())
        second = asyncio.ensure_future(slots.wait())
        await asyncio.sleep(0)
        slots.release()  # handed to `first`...
        first.cancel()  # ...which gives up before it runs
        await asyncio.gather(first, return_exceptions=True)
        await second
        order.append("second served")
        slots.release()
        assert slots.free == 1 and not slots._waiters
        return order

    assert asyncio.run(run()) == ["second served"]


def test_first_come_first_served_a_new_taker_does_not_jump_the_queue() -> None:
    async def run() -> None:
        slots = Slots(1)
        assert slots.take()
        waiting = asyncio.ensure_future(slots.wait())
        await asyncio.sleep(0)
        assert not slots.take()  # one waits already: a newcomer waits behind it
        slots.release()
        assert not slots.take()  # the slot went to the waiter, not to whoever asks next
        await waiting
        slots.release()
        assert slots.take()

    asyncio.run(run())
