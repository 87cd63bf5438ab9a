"""The DynamoDB exact store against moto: item shape, expiry checked on read (DynamoDB's TTL
deletion is lazy, moto's never happens), oversized answers skipped."""

from __future__ import annotations

import uuid
from typing import Any

from aigw.cache.entry import CachedResponse
from aigw.cache.exact import DynamoExactStore, cache_pk
from aigw.names import CACHE

ENTRY = CachedResponse(body={"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                          "finish_reason": "stop"}]}, usage={"prompt_tokens": 1}, deployment="d")


async def test_item_shape_and_expiry_on_read(local_aws: Any) -> None:
    now = [1_000_000.0]
    store = DynamoExactStore(lambda: local_aws.aws.table(CACHE), clock=lambda: now[0])
    namespace, key = f"team:{uuid.uuid4().hex}", "ab" * 32
    assert await store.put(namespace, key, ENTRY, ttl_s=60)
    item = local_aws.aws.table(CACHE).get_item(Key={"pk": cache_pk(namespace, key), "sk": "-"})["Item"]
    assert item["pk"] == f"CACHE#{namespace}#{key}" and int(item["expires_at"]) == 1_000_060
    assert await store.get(namespace, key) == ENTRY
    assert await store.get(f"team:{uuid.uuid4().hex}", key) is None
    now[0] += 60  # the item is still in the table (TTL deletion is lazy), but it is expired
    assert await store.get(namespace, key) is None


async def test_answers_too_large_for_an_item_are_not_stored(local_aws: Any) -> None:
    import os

    store = DynamoExactStore(lambda: local_aws.aws.table(CACHE))
    huge = CachedResponse(body={"blob": os.urandom(500_000).hex()}, usage={})
    assert await store.put(f"team:{uuid.uuid4().hex}", "cd" * 32, huge, ttl_s=60) is False
