"""A clock and sleep for routing tests: time moves only when the test (or a sleep) says so."""

from __future__ import annotations


class FakeTime:
    def __init__(self, *, advance_on_sleep: bool = True) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._advance = advance_on_sleep

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self._advance:
            self.now += seconds
