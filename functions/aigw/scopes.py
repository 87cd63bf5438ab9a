"""anyio cancel scopes made without anyio's per-call backend lookup.

`anyio.CancelScope()` finds the running async library (sniffio) and asks its backend for a
scope, which then runs `__init__` a second time: about 7 us, four times per stream (the
stream's own scope and three shields around settlement). The gateway runs only on asyncio,
whose scope class can be called directly (4 us, the same object). Any other backend, or an
anyio that no longer allows it, gets `anyio.CancelScope` as before.
"""

from __future__ import annotations

import anyio

_direct: type[anyio.CancelScope] | None = None


def cancel_scope(*, shield: bool = False) -> anyio.CancelScope:
    global _direct
    if _direct is not None:
        return _direct(shield=shield)
    scope = anyio.CancelScope(shield=shield)
    if type(scope).__module__ == "anyio._backends._asyncio":  # asyncio's scope: callable directly
        _direct = type(scope)
    return scope
