"""Stored responses: what `previous_response_id`, GET, DELETE and input_items read.

Each stored response holds its whole conversation flattened (every earlier turn's input
and output, then its own input and output), so continuing from it - whatever the chain's
length - is ONE read: a strongly consistent Query on one partition. The record is JSON,
zlib-compressed, split into parts below DynamoDB's 400 KB item limit:

    pk RESP#<namespace>#<resp_id>   sk P#00000 .. P#<n-1>   data (binary), expires_at (TTL)
    part 0 also: parts (n), created_at, v (format)

Part 0 is written last and deleted first, so a record whose part 0 is readable is whole.
The namespace (team, project or key) is in the key: another tenant's id is simply absent.
Reads are strongly consistent, so a response can be continued the moment it is stored;
expiry is checked on read (DynamoDB's TTL deletion is lazy). A Query returns at most 1 MB:
past that (compressed, i.e. several MB of conversation) the one read spans pages.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anyio

from aigw.names import PK, RESPONSES_PART_SK, RESPONSES_PK_PREFIX, SK, TTL_ATTRIBUTE

PART_BYTES = 350_000  # data per item: under 400 KB with the key and the other attributes
FORMAT = 1


@dataclass(frozen=True, slots=True)
class StoredResponse:
    response: dict[str, Any]  # the response object, output included
    conversation: list[dict[str, Any]]  # every item so far: earlier turns, this input, this output
    input_start: int  # conversation[input_start:input_end] is this response's own input
    input_end: int

    @property
    def id(self) -> str:
        return str(self.response["id"])

    @property
    def input_items(self) -> list[dict[str, Any]]:
        return self.conversation[self.input_start:self.input_end]

    def to_bytes(self) -> bytes:
        response = {k: v for k, v in self.response.items() if k != "output"}  # output = the conversation's tail
        record = {"response": response, "conversation": self.conversation, "input": [self.input_start, self.input_end]}
        return zlib.compress(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode(), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> StoredResponse:
        record = json.loads(zlib.decompress(data))
        start, end = record["input"]
        conversation = record["conversation"]
        return cls({**record["response"], "output": conversation[end:]}, conversation, start, end)


class ResponseStore(Protocol):
    async def get(self, namespace: str, response_id: str) -> StoredResponse | None: ...

    async def put(self, namespace: str, stored: StoredResponse, ttl_s: int) -> None: ...

    async def delete(self, namespace: str, response_id: str) -> bool:
        """True if it existed."""
        ...


def response_pk(namespace: str, response_id: str) -> str:
    return f"{RESPONSES_PK_PREFIX}{namespace}#{response_id}"


class DynamoResponseStore:
    def __init__(self, table: Callable[[], Any], *, clock: Callable[[], float] = time.time,
                 part_bytes: int = PART_BYTES) -> None:
        self._table = table  # returns the boto3 Table (created on first use)
        self._clock = clock
        self._part_bytes = part_bytes

    def warm(self) -> None:
        self._table()

    async def get(self, namespace: str, response_id: str) -> StoredResponse | None:
        return await anyio.to_thread.run_sync(self._get, namespace, response_id, abandon_on_cancel=True)

    async def put(self, namespace: str, stored: StoredResponse, ttl_s: int) -> None:
        await anyio.to_thread.run_sync(self._put, namespace, stored, ttl_s)

    async def delete(self, namespace: str, response_id: str) -> bool:
        return await anyio.to_thread.run_sync(self._delete, namespace, response_id)

    # ---- in a worker thread (boto3 and zlib block) ----------------------------------------------
    def _query(self, pk: str, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        args: dict[str, Any] = {"KeyConditionExpression": "#pk = :pk", "ExpressionAttributeNames": {"#pk": PK},
                                "ExpressionAttributeValues": {":pk": pk}, "ConsistentRead": True, **kwargs}
        while True:
            page = self._table().query(**args)
            items.extend(page.get("Items") or [])
            if not page.get("LastEvaluatedKey"):
                return items
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _get(self, namespace: str, response_id: str) -> StoredResponse | None:
        items = self._query(response_pk(namespace, response_id))
        if not items or items[0][SK] != RESPONSES_PART_SK % 0:
            return None
        head = items[0]
        if int(head.get(TTL_ATTRIBUTE, 0)) <= self._clock() or int(head.get("parts", 0)) != len(items):
            return None  # expired (deletion is lazy), or half-written / half-deleted
        data = b"".join(_binary(item["data"]) for item in items)
        return StoredResponse.from_bytes(data)

    def _put(self, namespace: str, stored: StoredResponse, ttl_s: int) -> None:
        data = stored.to_bytes()
        pk = response_pk(namespace, stored.id)
        now = int(self._clock())
        chunks = [data[i:i + self._part_bytes] for i in range(0, len(data), self._part_bytes)] or [b""]
        table = self._table()
        if len(chunks) > 1:
            with table.batch_writer() as batch:
                for n, chunk in enumerate(chunks[1:], start=1):
                    batch.put_item(Item={PK: pk, SK: RESPONSES_PART_SK % n, TTL_ATTRIBUTE: now + ttl_s,
                                         "data": chunk})
        table.put_item(Item={PK: pk, SK: RESPONSES_PART_SK % 0, TTL_ATTRIBUTE: now + ttl_s, "data": chunks[0],
                             "parts": len(chunks), "created_at": now, "v": FORMAT})

    def _delete(self, namespace: str, response_id: str) -> bool:
        pk = response_pk(namespace, response_id)
        keys = self._query(pk, ProjectionExpression="#pk, #sk, #ttl",
                           ExpressionAttributeNames={"#pk": PK, "#sk": SK, "#ttl": TTL_ATTRIBUTE})
        if not keys:
            return False
        head = keys[0]
        existed = head[SK] == RESPONSES_PART_SK % 0 and int(head.get(TTL_ATTRIBUTE, 0)) > self._clock()
        table = self._table()
        if head[SK] == RESPONSES_PART_SK % 0:
            table.delete_item(Key={PK: pk, SK: head[SK]})  # first: the record stops being readable
            keys = keys[1:]
        if keys:
            with table.batch_writer() as batch:
                for key in keys:
                    batch.delete_item(Key={PK: pk, SK: key[SK]})
        return existed


class MemoryResponseStore:
    """In-process `ResponseStore` for unit tests and benchmarks (same bytes as DynamoDB's)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._items: dict[str, tuple[float, bytes]] = {}
        self._clock = clock
        self.reads = 0

    async def get(self, namespace: str, response_id: str) -> StoredResponse | None:
        self.reads += 1
        hit = self._items.get(response_pk(namespace, response_id))
        if hit is None or hit[0] <= self._clock():
            return None
        return StoredResponse.from_bytes(hit[1])

    async def put(self, namespace: str, stored: StoredResponse, ttl_s: int) -> None:
        self._items[response_pk(namespace, stored.id)] = (self._clock() + ttl_s, stored.to_bytes())

    async def delete(self, namespace: str, response_id: str) -> bool:
        hit = self._items.pop(response_pk(namespace, response_id), None)
        return hit is not None and hit[0] > self._clock()


def _binary(value: Any) -> bytes:
    return bytes(value.value if hasattr(value, "value") else value)


# ---- listing input items, as OpenAI's cursor pages --------------------------------------------------
Order = Literal["asc", "desc"]


def page_of_items(items: list[dict[str, Any]], *, after: str | None, limit: int, order: Order) -> dict[str, Any]:
    """A `list` page: `after` is the id of the last item of the previous page."""
    ordered = items if order == "asc" else list(reversed(items))
    start = 0
    if after is not None:
        ids = [item.get("id") for item in ordered]
        if after not in ids:
            raise LookupError(after)
        start = ids.index(after) + 1
    data = ordered[start:start + limit]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": start + limit < len(ordered)}
