"""`cancel_scope` is anyio's CancelScope (the same class, the same behaviour), made directly."""

from __future__ import annotations

import asyncio

import anyio

from aigw.scopes import cancel_scope


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
