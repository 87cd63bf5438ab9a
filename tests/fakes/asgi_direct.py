"""Calling the gateway's ASGI app directly, with no client socket and no client library in the
process: for measurements (bench/inprocess.py) and checks (tests/functional/
test_no_cyclic_garbage.py) that must see only the gateway's own work. `OneKeyTables` stands
in for DynamoDB with one key, so the core path makes no AWS call at all."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


class OneKeyTables:
    """A DynamoDB resource stand-in whose Entities table holds one key record."""

    def __init__(self, key: str, team: str = "bench") -> None:
        from aigw.auth.keys import hash_key, key_prefix
        from aigw.auth.records import KeyRecord

        digest = hash_key(key)
        self.item = KeyRecord(key_hash=digest, key_id="key_" + digest[:12], key_prefix=key_prefix(key),
                              team_id=team, created_at=time.time()).to_item()

    def Table(self, name: str) -> OneKeyTables:  # boto3's name
        return self

    def get_item(self, **_: object) -> dict[str, Any]:
        return {"Item": self.item}


async def post(app: Any, path: str, body: bytes, key: str,
               on_send: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """POST `body` to `path` as one ASGI request from a client that stays connected; returns the
    messages the app sent (`on_send` sees each as it is sent)."""
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if on_send is not None:
            on_send(message)
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
             "headers": [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json")]}
    await app(scope, receive, send)
    return sent
