"""The DynamoDB response store against moto: item layout, conversations past the 400 KB item
limit, one Query per read, expiry on read, tenant isolation, and records never half-read."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw.names import RESPONSES
from aigw.responses.store import DynamoResponseStore, MemoryResponseStore, StoredResponse, page_of_items, response_pk


class CountingTable:
    """The boto3 Table, counting the reads made through it."""

    def __init__(self, table: Any) -> None:
        self._table = table
        self.queries = 0
        self.gets = 0

    def query(self, **kwargs: Any) -> Any:
        self.queries += 1
        return self._table.query(**kwargs)

    def get_item(self, **kwargs: Any) -> Any:
        self.gets += 1
        return self._table.get_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)


def stored(response_id: str, conversation_text: str = "hello") -> StoredResponse:
    conversation = [
        {"id": "msg_in", "type": "message", "role": "user", "status": "completed",
         "content": [{"type": "input_text", "text": conversation_text}]},
        {"id": "msg_out", "type": "message", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "ok", "annotations": [], "logprobs": []}]}]
    response = {"id": response_id, "object": "response", "status": "completed", "output": conversation[1:],
                "created_at": 1, "model": "m"}
    return StoredResponse(response, conversation, 0, 1)


@pytest.fixture
def table(local_aws: Any) -> CountingTable:
    return CountingTable(local_aws.aws.table(RESPONSES))


def rows(table: CountingTable, ns: str, response_id: str) -> list[dict[str, Any]]:
    page = table._table.query(KeyConditionExpression="pk = :pk", ConsistentRead=True,
                              ExpressionAttributeValues={":pk": response_pk(ns, response_id)})
    return list(page["Items"])


def namespace() -> str:
    return f"team:{uuid.uuid4().hex}"


async def test_round_trip_and_item_layout(table: CountingTable) -> None:
    now = [1_000_000.0]
    store = DynamoResponseStore(lambda: table, clock=lambda: now[0])
    ns, record = namespace(), stored("resp_1")
    await store.put(ns, record, ttl_s=3600)
    got = await store.get(ns, "resp_1")
    assert got == record and got.input_items == record.conversation[:1]
    assert got.response["output"] == record.conversation[1:]
    (item,) = rows(table, ns, "resp_1")
    assert item["pk"] == f"RESP#{ns}#resp_1" and item["sk"] == "P#00000" and int(item["parts"]) == 1
    assert int(item["expires_at"]) == 1_003_600 and int(item["v"]) == 1
    now[0] += 3600  # still in the table (TTL deletion is lazy; moto never deletes), but expired
    assert await store.get(ns, "resp_1") is None


async def test_conversations_past_the_item_limit_are_split_and_read_in_one_query(table: CountingTable) -> None:
    store = DynamoResponseStore(lambda: table)
    ns = namespace()
    big = os.urandom(450_000).hex()  # 900 KB of text that compresses only ~2x: two parts
    record = stored("resp_big", big)
    assert len(record.to_bytes()) > 400_000
    await store.put(ns, record, ttl_s=60)
    assert [p["sk"] for p in rows(table, ns, "resp_big")] == ["P#00000", "P#00001"]
    table.queries = 0
    got = await store.get(ns, "resp_big")
    assert got is not None and got.conversation[0]["content"][0]["text"] == big
    assert table.queries == 1 and table.gets == 0


async def test_small_parts_many_items_still_one_query(table: CountingTable) -> None:
    store = DynamoResponseStore(lambda: table, part_bytes=1_000)
    ns = namespace()
    record = stored("resp_many", os.urandom(20_000).hex())
    await store.put(ns, record, ttl_s=60)
    table.queries = 0
    assert await store.get(ns, "resp_many") == record
    assert table.queries == 1


async def test_another_namespace_sees_nothing_and_cannot_delete(table: CountingTable) -> None:
    store = DynamoResponseStore(lambda: table)
    mine, theirs = namespace(), namespace()
    await store.put(mine, stored("resp_t"), ttl_s=60)
    assert await store.get(theirs, "resp_t") is None
    assert await store.delete(theirs, "resp_t") is False
    assert await store.get(mine, "resp_t") is not None


async def test_delete_removes_every_part(table: CountingTable) -> None:
    store = DynamoResponseStore(lambda: table, part_bytes=500)
    ns = namespace()
    await store.put(ns, stored("resp_d", os.urandom(3_000).hex()), ttl_s=60)
    assert await store.delete(ns, "resp_d") is True
    assert await store.get(ns, "resp_d") is None
    assert rows(table, ns, "resp_d") == []
    assert await store.delete(ns, "resp_d") is False


async def test_a_half_written_or_half_deleted_record_is_not_read(table: CountingTable) -> None:
    store = DynamoResponseStore(lambda: table, part_bytes=500)
    ns = namespace()
    await store.put(ns, stored("resp_h", os.urandom(3_000).hex()), ttl_s=60)
    pk = response_pk(ns, "resp_h")
    table.delete_item(Key={"pk": pk, "sk": "P#00002"})  # a part lost: the head still says how many
    assert await store.get(ns, "resp_h") is None
    await store.put(ns, stored("resp_h2", os.urandom(3_000).hex()), ttl_s=60)
    table.delete_item(Key={"pk": response_pk(ns, "resp_h2"), "sk": "P#00000"})  # what a crashed put leaves
    assert await store.get(ns, "resp_h2") is None
    assert await store.delete(ns, "resp_h2") is False  # cleans the leftovers all the same
    assert rows(table, ns, "resp_h2") == []


async def test_memory_store_matches() -> None:
    now = [100.0]
    store = MemoryResponseStore(clock=lambda: now[0])
    await store.put("team:a", stored("resp_m"), ttl_s=10)
    assert await store.get("team:a", "resp_m") == stored("resp_m") and await store.get("team:b", "resp_m") is None
    now[0] += 10
    assert await store.get("team:a", "resp_m") is None and store.reads == 3


def test_pages_of_items_follow_openais_cursor() -> None:
    items = [{"id": f"i{n}"} for n in range(5)]
    first = page_of_items(items, after=None, limit=2, order="desc")
    assert [i["id"] for i in first["data"]] == ["i4", "i3"] and first["has_more"] is True
    assert (first["object"], first["first_id"], first["last_id"]) == ("list", "i4", "i3")
    rest = page_of_items(items, after="i3", limit=10, order="desc")
    assert [i["id"] for i in rest["data"]] == ["i2", "i1", "i0"] and rest["has_more"] is False
    assert [i["id"] for i in page_of_items(items, after="i1", limit=10, order="asc")["data"]] == ["i2", "i3", "i4"]
    empty = page_of_items(items, after="i4", limit=3, order="asc")
    assert empty["data"] == [] and empty["first_id"] is None and empty["has_more"] is False
    with pytest.raises(LookupError):
        page_of_items(items, after="nope", limit=1, order="asc")


_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)
_items = st.lists(st.fixed_dictionaries({"id": st.text(min_size=1, max_size=8), "type": st.just("message"),
                                         "content": st.lists(st.fixed_dictionaries({"text": _text}), max_size=3)}),
                  max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_items, st.integers(0, 6), st.integers(64, 4_000))
async def test_any_conversation_round_trips_through_parts(table: CountingTable, conversation: list[dict[str, Any]],
                                                         split: int, part_bytes: int) -> None:
    split = min(split, len(conversation))
    record = StoredResponse({"id": "resp_h", "status": "completed", "output": conversation[split:]}, conversation,
                            0, split)
    assert StoredResponse.from_bytes(record.to_bytes()) == record
    store = DynamoResponseStore(lambda: table, part_bytes=part_bytes)
    ns = namespace()
    await store.put(ns, record, ttl_s=60)
    table.queries = 0
    assert await store.get(ns, "resp_h") == record and table.queries == 1
