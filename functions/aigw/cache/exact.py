"""The exact layer's store: `ExactStore`, and its DynamoDB implementation on the Cache table.

Item: pk `CACHE#<namespace>#<sha256>`, sk `-`, `expires_at` (epoch seconds, the table's TTL
attribute), `body` (binary: zlib JSON of the answer). DynamoDB deletes expired items lazily
(typically within days), so a read checks `expires_at` itself. Items close to DynamoDB's
400 KB limit are not stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import anyio

from aigw.cache.entry import CachedResponse
from aigw.names import CACHE_PK_PREFIX, CACHE_SK, PK, SK, TTL_ATTRIBUTE

MAX_ITEM_BYTES = 350_000  # below DynamoDB's 400 KB item limit, with room for the key attributes


class ExactStore(Protocol):
    async def get(self, namespace: str, key: str) -> CachedResponse | None: ...

    async def put(self, namespace: str, key: str, entry: CachedResponse, ttl_s: int) -> bool:
        """Store; False when the entry was not stored (too large)."""
        ...


def cache_pk(namespace: str, key: str) -> str:
    return f"{CACHE_PK_PREFIX}{namespace}#{key}"


class DynamoExactStore:
    def __init__(self, table: Callable[[], Any], *, clock: Callable[[], float] = time.time) -> None:
        self._table = table  # returns the boto3 Table (created on first use)
        self._clock = clock

    def warm(self) -> None:
        self._table()

    async def get(self, namespace: str, key: str) -> CachedResponse | None:
        return await anyio.to_thread.run_sync(self._get, namespace, key, abandon_on_cancel=True)

    def _get(self, namespace: str, key: str) -> CachedResponse | None:
        item = self._table().get_item(Key={PK: cache_pk(namespace, key), SK: CACHE_SK}).get("Item")
        if item is None or int(item.get(TTL_ATTRIBUTE, 0)) <= self._clock():
            return None
        raw = item["body"]
        return CachedResponse.from_bytes(bytes(raw.value if hasattr(raw, "value") else raw))

    async def put(self, namespace: str, key: str, entry: CachedResponse, ttl_s: int) -> bool:
        data = entry.to_bytes()
        if len(data) > MAX_ITEM_BYTES:
            return False
        item = {PK: cache_pk(namespace, key), SK: CACHE_SK, TTL_ATTRIBUTE: int(self._clock()) + ttl_s, "body": data}
        await anyio.to_thread.run_sync(lambda: self._table().put_item(Item=item), abandon_on_cancel=True)
        return True


class MemoryExactStore:
    """In-process `ExactStore` for unit tests and benchmarks."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._items: dict[str, tuple[float, bytes]] = {}
        self._clock = clock

    async def get(self, namespace: str, key: str) -> CachedResponse | None:
        hit = self._items.get(cache_pk(namespace, key))
        if hit is None or hit[0] <= self._clock():
            return None
        return CachedResponse.from_bytes(hit[1])

    async def put(self, namespace: str, key: str, entry: CachedResponse, ttl_s: int) -> bool:
        self._items[cache_pk(namespace, key)] = (self._clock() + ttl_s, entry.to_bytes())
        return True
