"""Key lookup with an in-memory TTL cache, so a warm function reads DynamoDB once per key
per TTL. A revoked key therefore keeps working for at most `ttl_s` (documented).

Unknown keys are cached too (for a shorter time) so a flood of bad keys cannot turn into
a flood of DynamoDB reads.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aigw.auth.keys import hash_key
from aigw.auth.records import KEY_SK, KeyRecord, key_item_pk

NEGATIVE_TTL_S = 5.0
MAX_ENTRIES = 10_000


class KeyStore:
    def __init__(self, table: Callable[[], Any], *, ttl_s: float = 30.0, clock: Any = time.monotonic) -> None:
        self._table = table  # returns the boto3 DynamoDB Table (created on first use)
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, KeyRecord | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[KeyRecord | None]] = {}

    async def lookup(self, key: str) -> KeyRecord | None:
        """The record for a presented key, or None if unknown. Usability is the caller's check."""
        digest = hash_key(key)
        now = self._clock()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        pending = self._inflight.get(digest)
        if pending is not None:  # coalesce concurrent misses for the same key into one read
            return await asyncio.shield(pending)
        future: asyncio.Future[KeyRecord | None] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            record = await asyncio.to_thread(self._read, digest)
            future.set_result(record)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody logs "never retrieved"
            raise
        finally:
            del self._inflight[digest]
        self._remember(digest, record)
        return record

    def _read(self, digest: str) -> KeyRecord | None:
        item = self._table().get_item(Key={"pk": key_item_pk(digest), "sk": KEY_SK}).get("Item")
        if item is None:
            return None
        record = KeyRecord.from_item(item)
        # The item was found by this hash; compare anyway, in constant time, so a corrupted or
        # mis-keyed item can never authenticate a different key.
        return record if hmac.compare_digest(record.key_hash, digest) else None

    def _remember(self, digest: str, record: KeyRecord | None) -> None:
        ttl = self._ttl_s if record is not None else min(self._ttl_s, NEGATIVE_TTL_S)
        if ttl <= 0:
            return
        self._cache[digest] = (self._clock() + ttl, record)
        self._cache.move_to_end(digest)
        while len(self._cache) > MAX_ENTRIES:
            self._cache.popitem(last=False)

    def invalidate(self, key_hash: str | None = None) -> None:
        if key_hash is None:
            self._cache.clear()
        else:
            self._cache.pop(key_hash, None)

    def put(self, record: KeyRecord) -> None:
        """Store a record (blocking; admin paths and the local runner)."""
        self._table().put_item(Item=record.to_item())
        self.invalidate(record.key_hash)
