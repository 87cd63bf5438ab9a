from __future__ import annotations

import asyncio
import hashlib
import re
import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aigw.auth import KeyRecord, KeyStore, extract_key, generate_key, hash_key, key_item_pk, key_prefix
from aigw.auth import keys as key_module


def test_generated_keys_have_the_documented_shape() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert re.fullmatch(r"sk-aigw-[A-Za-z0-9_-]{43}", key)


def test_only_the_sha256_is_stored() -> None:
    key = generate_key()
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    record = KeyRecord(key_hash=hash_key(key), key_id="key_1", key_prefix=key_prefix(key), team_id="t")
    item = record.to_item()
    assert item["pk"] == key_item_pk(hash_key(key))
    assert key not in repr(item)
    assert key_prefix(key) == key[:12]


@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=200))
def test_the_compact_sha256_is_hashlibs(key: str) -> None:
    """aigw.auth.keys uses CPython's own SHA-256 (hashlib's OpenSSL one is 50 us with cold caches)."""
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()


def test_the_compact_sha256_is_the_one_in_use() -> None:
    assert key_module._sha256 is not hashlib.sha256  # CPython 3.11-3.13 all have it


def test_key_extraction() -> None:
    assert extract_key({"authorization": "Bearer sk-aigw-abc"}) == "sk-aigw-abc"
    assert extract_key({"authorization": "bearer   sk-aigw-abc "}) == "sk-aigw-abc"
    assert extract_key({"x-api-key": "sk-aigw-xyz"}) == "sk-aigw-xyz"
    assert extract_key({"authorization": "Basic Zm9vOmJhcg=="}) is None
    assert extract_key({}) is None


def test_model_patterns_and_validity() -> None:
    record = KeyRecord(key_hash="h", key_id="k", team_id="t", models=["gpt-4o*", "claude-3-5-haiku"])
    assert record.allows("gpt-4o-mini") and record.allows("claude-3-5-haiku")
    assert not record.allows("claude-3-opus")
    assert KeyRecord(key_hash="h", key_id="k", team_id="t").allows("anything")
    assert not KeyRecord(key_hash="h", key_id="k", team_id="t", revoked=True).usable()
    assert not KeyRecord(key_hash="h", key_id="k", team_id="t", valid_until=time.time() - 1).usable()
    assert KeyRecord(key_hash="h", key_id="k", team_id="t", valid_until=time.time() + 60).usable()


class FakeTable:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.reads = 0

    def get_item(self, Key: dict[str, str]) -> dict[str, Any]:
        self.reads += 1
        item = self.items.get(Key["pk"])
        return {"Item": item} if item else {}

    def put_item(self, Item: dict[str, Any]) -> None:
        self.items[Item["pk"]] = Item


async def test_key_store_caches_hits_and_misses_and_coalesces() -> None:
    table = FakeTable()
    now = [1000.0]
    store = KeyStore(lambda: table, ttl_s=30, clock=lambda: now[0])
    key = generate_key()
    store.put(KeyRecord(key_hash=hash_key(key), key_id="key_1", team_id="t"))
    results = await asyncio.gather(*(store.lookup(key) for _ in range(20)))
    assert all(r is not None and r.key_id == "key_1" for r in results)
    assert table.reads == 1  # concurrent misses became one read
    await store.lookup(key)
    assert table.reads == 1
    now[0] += 31
    await store.lookup(key)
    assert table.reads == 2  # the TTL bounds how long a revoked key can keep working
    assert await store.lookup("sk-aigw-unknown") is None
    assert await store.lookup("sk-aigw-unknown") is None
    assert table.reads == 3  # unknown keys are remembered too


async def test_a_record_under_the_wrong_hash_never_authenticates() -> None:
    table = FakeTable()
    store = KeyStore(lambda: table, ttl_s=0)
    key = generate_key()
    table.items[key_item_pk(hash_key(key))] = {"pk": key_item_pk(hash_key(key)), "sk": "KEY", "key_hash": "0" * 64,
                                               "key_id": "k", "team_id": "t"}
    assert await store.lookup(key) is None
