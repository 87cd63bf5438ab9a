"""The pool's limit on connections in use: asyncio.Semaphore's guarantees, in fewer steps.

Every upstream request takes a slot and gives it back. `asyncio.Semaphore` costs seven Python
calls a request on the free path (`locked()` twice, each with a generator over the waiters,
`acquire`, `release`, `_wake_up_next`); here taking a free slot is one call and an integer,
and waiting is only for when none is free. Slots go to waiters first come, first served, and
a slot handed to a waiter that gives up (a pool timeout, a cancellation) passes on to the
next one, so a free slot never sits beside a waiter. tests/unit/providers/test_slots.py races
the two against each other.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Slots:
    __slots__ = ("_waiters", "free")

    def __init__(self, count: int) -> None:
        self.free = count
        self._waiters: deque[asyncio.Future[None]] = deque()

    def take(self) -> bool:
        """A slot now, if one is free and no one waits for one (no queue jumping)."""
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return True
        return False

    async def wait(self) -> None:
        """A slot, once one is given back (after `take` failed); cancellable, as by a timeout."""
        if self.take():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # it was handed a slot as it gave up: the next one gets it
            elif waiter in self._waiters:  # (a `release` may have dropped it, cancelled, already)
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot goes straight to it
                return
        self.free += 1
