"""The in-process vector index, entries, and stream assembly (equivalence with replay)."""

from __future__ import annotations

from typing import Any

import pytest

from aigw.cache.assemble import StreamAssembler
from aigw.cache.entry import CachedResponse, replayable
from aigw.cache.exact import MemoryExactStore
from aigw.cache.vectors import LocalVectorIndex
from aigw.pipeline.replay import completion_to_chunks

COMPLETIONS: list[dict[str, Any]] = [
    {"id": "c1", "object": "chat.completion", "created": 5, "model": "m", "system_fingerprint": "fp",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there."}, "logprobs": None,
                  "finish_reason": "stop"}]},
    {"id": "c2", "object": "chat.completion", "created": 5, "model": "m",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [
         {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
         {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
         "logprobs": None, "finish_reason": "tool_calls"}]},
    {"id": "c3", "object": "chat.completion", "created": 5, "model": "m",
     "choices": [{"index": i, "message": {"role": "assistant", "content": f"answer {i}"}, "logprobs": None,
                  "finish_reason": "length"} for i in range(3)]},
]


@pytest.mark.parametrize("completion", COMPLETIONS, ids=["text", "tool-calls", "n=3"])
def test_assembling_a_replayed_stream_gives_back_the_completion(completion: dict[str, Any]) -> None:
    assembler = StreamAssembler()
    for chunk in completion_to_chunks(completion):
        assembler.add(chunk)
    assert assembler.completion() == completion


def test_entries_round_trip_and_replayability() -> None:
    entry = CachedResponse(body=COMPLETIONS[0], usage={"prompt_tokens": 3, "completion_tokens": 2}, deployment="d")
    assert CachedResponse.from_text(entry.to_text()) == entry
    assert CachedResponse.from_bytes(entry.to_bytes()) == entry
    assert replayable(COMPLETIONS[1])
    assert not replayable({"choices": []})
    assert not replayable({"choices": [{"finish_reason": "content_filter"}]})


async def test_local_index_filters_ranks_expires_and_evicts() -> None:
    now = [0.0]
    index = LocalVectorIndex(max_entries=3, clock=lambda: now[0])
    await index.upsert("a", "m", "s", [1, 0], {"n": 1}, ttl_s=10)
    await index.upsert("a", "m", "s", [1, 1], {"n": 2}, ttl_s=100)
    await index.upsert("b", "m", "s", [1, 0], {"n": 3}, ttl_s=100)
    hits = await index.query("a", "m", "s", [1, 0], 5)
    assert [h.payload["n"] for h in hits] == [1, 2]
    assert hits[0].score == pytest.approx(1.0) and hits[1].score == pytest.approx(2 ** -0.5)
    assert await index.query("a", "other", "s", [1, 0], 5) == []
    now[0] = 11
    assert [h.payload["n"] for h in await index.query("a", "m", "s", [1, 0], 5)] == [2]
    await index.upsert("c", "m", "s", [1, 0], {"n": 4}, ttl_s=100)  # evicts the oldest (n=1)
    assert len(index) == 3


async def test_memory_store_expiry() -> None:
    now = [0.0]
    store = MemoryExactStore(clock=lambda: now[0])
    entry = CachedResponse(body=COMPLETIONS[0], usage={})
    await store.put("ns", "k", entry, ttl_s=5)
    assert await store.get("ns", "k") == entry
    assert await store.get("other", "k") is None
    now[0] = 5
    assert await store.get("ns", "k") is None
