"""`cancel_scope` is anyio's CancelScope (the same class, the same behaviour), made directly; `shielded`
under a `ClientGuard` holds a client's leaving off, and is an anyio shield everywhere else."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

from aigw.scopes import ClientGuard, cancel_scope, current_guard, shielded


async def test_the_same_class_as_anyio_s_and_it_cancels_and_shields_the_same() -> None:
    assert type(cancel_scope()) is type(anyio.CancelScope())
    assert type(cancel_scope(shield=True)) is type(anyio.CancelScope())  # the direct path, once cached
    assert cancel_scope(shield=True).shield and not cancel_scope().shield

    reached: list[str] = []
    with cancel_scope() as outer:
        asyncio.get_running_loop().call_soon(outer.cancel)  # as the stream's disconnect watcher does
        with cancel_scope(shield=True):
            await asyncio.sleep(0.05)  # the outer cancellation waits for the shield
            reached.append("shielded")
        await asyncio.sleep(1)
        reached.append("not here")
    assert outer.cancelled_caught
    assert reached == ["shielded"]


@contextmanager
def guarded() -> Iterator[tuple[anyio.CancelScope, ClientGuard]]:
    """A response's body scope and its guard, as EventStreamResponse sets them up."""
    body = cancel_scope()
    guard = ClientGuard(body)
    token = current_guard.set(guard)
    try:
        yield body, guard
    finally:
        current_guard.reset(token)


async def test_under_a_guard_a_client_leaving_waits_for_what_is_shielded() -> None:
    reached: list[str] = []
    with guarded() as (body, guard), body:
        with shielded():
            asyncio.get_running_loop().call_soon(guard.client_left)  # mid-settlement
            await asyncio.sleep(0.05)
            reached.append("settled")
        await asyncio.sleep(0.01)
        reached.append("after")
    assert reached == ["settled", "after"] and not body.cancel_called  # the answer was whole: nothing to cut


async def test_a_settlement_after_the_client_left_takes_a_real_shield() -> None:
    reached: list[str] = []
    with guarded() as (body, guard), body:
        guard.client_left()  # the body is cancelled before the settlement starts
        with shielded():
            await asyncio.sleep(0.05)  # shielded all the same
            reached.append("settled")
        await asyncio.sleep(1)
        reached.append("not here")
    assert body.cancelled_caught and reached == ["settled"]


async def test_with_no_guard_shielded_is_an_anyio_shield() -> None:
    reached: list[str] = []
    with cancel_scope() as outer:
        asyncio.get_running_loop().call_soon(outer.cancel)
        with shielded():
            await asyncio.sleep(0.05)
            reached.append("shielded")
        await asyncio.sleep(1)
        reached.append("not here")
    assert outer.cancelled_caught and reached == ["shielded"]
