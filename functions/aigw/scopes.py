"""anyio cancel scopes made without anyio's per-call backend lookup.

`anyio.CancelScope()` finds the running async library (sniffio) and asks its backend for a
scope, which then runs `__init__` a second time: about 7 us, four times per stream (the
stream's own scope and three shields around settlement). The gateway runs only on asyncio,
whose scope class can be called directly (4 us, the same object). Any other backend, or an
anyio that no longer allows it, gets `anyio.CancelScope` as before.

A stream's settlement is shielded from its client leaving by `shielded` under the response's
`ClientGuard` (aigw/http/streaming.py), without a scope of its own on the common path.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from typing import Any

import anyio

_direct: type[anyio.CancelScope] | None = None


def cancel_scope(*, shield: bool = False, deadline: float = math.inf) -> anyio.CancelScope:
    global _direct
    if _direct is not None:
        return _direct(shield=shield, deadline=deadline)
    scope = anyio.CancelScope(shield=shield, deadline=deadline)
    if type(scope).__module__ == "anyio._backends._asyncio":  # asyncio's scope: callable directly
        _direct = type(scope)
    return scope


class ClientGuard:
    """A streamed response's cancellation when its client leaves (`client_left`), held off
    while something `shielded` runs: a stream's settlement must finish, and on every stream's
    normal end one runs, so it is shielded by a counter here, not by an anyio shield scope
    (two a stream: 10 us, and 6 `getpid` system calls). Only a settlement that starts once
    the body was already cancelled needs the real shield (`shielded` takes it then)."""

    __slots__ = ("scope", "settling")

    def __init__(self, scope: anyio.CancelScope) -> None:
        self.scope = scope
        self.settling = 0

    def client_left(self) -> None:
        if not self.settling:  # a settlement under way finishes; the answer was whole by then
            self.scope.cancel()


current_guard: ContextVar[ClientGuard | None] = ContextVar("aigw_client_guard", default=None)


class shielded:
    """`with shielded():` what must finish even if the client leaves or the body's scope is
    cancelled: under the response's `ClientGuard` (not cancelled yet), the guard holds the
    cancellation off; anywhere else (no guard, or a guard already cancelled), an anyio shield."""

    __slots__ = ("_guard", "_scope")

    _guard: ClientGuard | None
    _scope: anyio.CancelScope | None

    def __enter__(self) -> None:
        guard = current_guard.get()
        if guard is not None and not guard.scope.cancel_called:
            guard.settling += 1
            self._guard, self._scope = guard, None
            return
        self._guard, self._scope = None, cancel_scope(shield=True)
        self._scope.__enter__()

    def __exit__(self, *exc: Any) -> bool | None:
        if self._scope is not None:
            return self._scope.__exit__(*exc)
        assert self._guard is not None
        self._guard.settling -= 1
        return None
