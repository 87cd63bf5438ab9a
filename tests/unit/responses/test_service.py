"""The glue around the pipeline: one state read per continued request (50 turns deep), stored
before the client sees the end, tenant isolation, GET / DELETE / input_items, the native body."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aigw.auth.records import KeyRecord
from aigw.errors import GatewayError, InvalidRequest, UpstreamError
from aigw.names import RESPONSES
from aigw.pricing.cost import Usage
from aigw.responses import DynamoResponseStore, MemoryResponseStore, ResponseNotFound, ResponsesService
from aigw.responses.codec import ResponsesCodec
from aigw.responses.service import Prepared
from tests.unit.responses.helpers import call, chunk, sdk, text
from tests.unit.responses.test_store import CountingTable


def key(team: str = "team-a", key_id: str = "key_1", project: str | None = None) -> KeyRecord:
    return KeyRecord(key_hash=key_id * 4, key_id=key_id, team_id=team, project=project)


def completion(message: dict[str, Any], finish: str = "stop") -> dict[str, Any]:
    return {"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "up",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}]}


async def frames_of(codec: ResponsesCodec, chunks: list[dict[str, Any]],
                    error: GatewayError | None = None) -> AsyncIterator[bytes]:
    """What the pipeline yields for a stream: the codec's frames, then its end (or error)."""
    for c in chunks:
        framed = codec.chunk(c)
        if framed:
            yield framed
    yield codec.error(error) if error is not None else codec.end(chunks[-1], lambda: Usage(10, 2))


async def answer(service: ResponsesService, prepared: Prepared, message: dict[str, Any], *, stream: bool) -> str:
    """Answer `prepared` as the pipeline would, storing as the front door does; the new id."""
    codec = service.codec(prepared)
    if not stream:
        body = codec.body(completion(message, "tool_calls" if message.get("tool_calls") else "stop"), Usage(5, 5))
        assert await service.save(prepared, body)
        return str(body["id"])
    chunks = [chunk({"role": "assistant", "content": ""})]
    if message.get("reasoning_content"):
        chunks.append(chunk({"reasoning_content": message["reasoning_content"]}))
    if message.get("content"):
        chunks.append(text(message["content"]))
    for n, tool_call in enumerate(message.get("tool_calls") or []):
        chunks.append(call(n, id=tool_call["id"], name=tool_call["function"]["name"],
                           arguments=tool_call["function"]["arguments"]))
    chunks.append(chunk({}, "tool_calls" if message.get("tool_calls") else "stop"))
    async for _ in service.persist_stream(prepared, codec, frames_of(codec, chunks)):
        pass
    assert codec.final is not None
    return str(codec.final["id"])


@pytest.fixture
def table(local_aws: Any) -> CountingTable:
    return CountingTable(local_aws.aws.table(RESPONSES))


async def test_a_fifty_turn_tool_loop_costs_one_state_read_per_request(table: CountingTable) -> None:
    service = ResponsesService(DynamoResponseStore(lambda: table))
    me = key(team=uuid.uuid4().hex)
    previous: str | None = None
    expected: list[dict[str, Any]] = []  # the conversation as chat messages, turn by turn
    for turn in range(50):
        if turn % 2 == 0 and previous is not None:  # the model called a tool last turn: send its result
            data: dict[str, Any] = {"model": "m", "input": [
                {"type": "function_call_output", "call_id": f"call_{turn - 1}", "output": f"result {turn - 1}"}]}
            expected.append({"role": "tool", "tool_call_id": f"call_{turn - 1}", "content": f"result {turn - 1}"})
        else:
            data = {"model": "m", "input": f"question {turn}"}
            expected.append({"role": "user", "content": f"question {turn}"})
        data.update(instructions=f"rules {turn}", stream=turn % 3 == 0)
        if previous is not None:
            data["previous_response_id"] = previous
        reads = table.queries
        prepared = await service.prepare(data, me)
        assert table.queries - reads == (0 if previous is None else 1)
        # the whole chain, in order, under this turn's instructions only (they never carry over)
        assert prepared.body["messages"] == [{"role": "system", "content": f"rules {turn}"}, *expected]
        if turn % 2 == 1:
            calls = [{"id": f"call_{turn}", "type": "function",
                      "function": {"name": "lookup", "arguments": json.dumps({"n": turn})}}]
            message: dict[str, Any] = {"content": None, "tool_calls": calls}
            expected.append({"role": "assistant", "content": None, "tool_calls": calls})
        else:
            message = {"content": f"answer {turn}"}
            expected.append({"role": "assistant", "content": f"answer {turn}"})
        reads = table.queries
        previous = await answer(service, prepared, message, stream=bool(data["stream"]))
        assert table.queries == reads  # storing reads nothing
    final = await service.prepare({"model": "m", "input": "summarize", "previous_response_id": previous}, me)
    assert final.body["messages"] == [*expected, {"role": "user", "content": "summarize"}]
    assert len(final.prior) == 100  # 50 inputs, 50 outputs


async def test_a_streamed_response_is_stored_before_its_terminal_event_is_sent(table: CountingTable) -> None:
    store = DynamoResponseStore(lambda: table)
    service = ResponsesService(store)
    me = key(team=uuid.uuid4().hex)
    prepared = await service.prepare({"model": "m", "input": "hi", "stream": True}, me)
    codec = service.codec(prepared)
    sent = b""
    async for frame in service.persist_stream(prepared, codec, frames_of(codec, [text("hel"), text("lo"),
                                                                                  chunk({}, "stop")])):
        if b"response.completed" in frame:  # the client is about to see the end: it can continue at once
            stored = await store.get(prepared.namespace, prepared.response_id)
            assert stored is not None and stored.response["output_text"] == "hello"
        sent += frame
    with sdk(sent).responses.stream(model="m", input="hi") as events:
        final = events.get_final_response()
    assert final.id == prepared.response_id
    follow = await service.prepare({"model": "m", "input": "again", "previous_response_id": final.id}, me)
    assert follow.body["messages"] == [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                                       {"role": "user", "content": "again"}]


async def test_failed_and_unstored_responses_cannot_be_continued() -> None:
    service = ResponsesService(MemoryResponseStore())
    me = key()
    prepared = await service.prepare({"model": "m", "input": "hi", "stream": True}, me)
    codec = service.codec(prepared)
    async for _ in service.persist_stream(prepared, codec, frames_of(codec, [text("x")],
                                                                     UpstreamError("cut", status=502))):
        pass
    assert codec.final is not None and codec.final["status"] == "failed"
    unstored = await service.prepare({"model": "m", "input": "hi", "store": False}, me)
    assert not await service.save(unstored, service.codec(unstored).body(completion({"content": "x"})))
    for response_id in (prepared.response_id, unstored.response_id, "resp_never"):
        with pytest.raises(InvalidRequest) as caught:
            await service.prepare({"model": "m", "input": "next", "previous_response_id": response_id}, me)
        assert caught.value.code == "previous_response_not_found" and caught.value.param == "previous_response_id"
        with pytest.raises(ResponseNotFound):
            await service.get(me, response_id)


async def test_a_store_failure_still_delivers_the_answer() -> None:
    class Broken(MemoryResponseStore):
        async def put(self, namespace: str, stored: Any, ttl_s: int) -> None:
            raise ConnectionError("dynamodb unreachable")

    errors: list[BaseException] = []
    service = ResponsesService(Broken(), on_store_error=errors.append)
    prepared = await service.prepare({"model": "m", "input": "hi", "stream": True}, key())
    codec = service.codec(prepared)
    sent = b"".join([f async for f in service.persist_stream(prepared, codec, frames_of(codec, [text("ok")]))])
    assert b"response.completed" in sent and [type(e) for e in errors] == [ConnectionError]


@pytest.mark.parametrize(("namespacing", "other", "visible"), [
    ("team", key(team="team-a", key_id="key_2"), True),
    ("team", key(team="team-b", key_id="key_1"), False),
    ("key", key(team="team-a", key_id="key_2"), False),
    ("project", key(team="team-a", key_id="key_2", project="p2"), False),
    ("project", key(team="team-a", key_id="key_3", project="p1"), True),
])
async def test_stored_responses_are_tenant_scoped(namespacing: Any, other: KeyRecord, visible: bool) -> None:
    service = ResponsesService(MemoryResponseStore(), namespace=namespacing)
    owner = key(team="team-a", key_id="key_1", project="p1")
    prepared = await service.prepare({"model": "m", "input": "secret"}, owner)
    response_id = await answer(service, prepared, {"content": "kept"}, stream=False)
    assert (await service.get(owner, response_id))["id"] == response_id
    if visible:
        assert (await service.get(other, response_id))["output_text"] == "kept"
        return
    with pytest.raises(InvalidRequest, match="not found"):
        await service.prepare({"model": "m", "input": "x", "previous_response_id": response_id}, other)
    for attempt in (service.get(other, response_id), service.delete(other, response_id),
                    service.input_items(other, response_id, {})):
        with pytest.raises(ResponseNotFound) as caught:
            await attempt
        assert caught.value.status == 404 and caught.value.openai_body()["error"]["code"] is None
    assert (await service.get(owner, response_id))["id"] == response_id  # the other tenant deleted nothing


async def test_get_delete_and_input_items() -> None:
    service = ResponsesService(MemoryResponseStore())
    me = key()
    first = await service.prepare({"model": "m", "input": "one"}, me)
    first_id = await answer(service, first, {"content": "two"}, stream=False)
    second = await service.prepare({"model": "m", "previous_response_id": first_id, "input": [
        {"role": "user", "content": "three"}, {"role": "user", "content": "four"},
        {"role": "user", "content": "five"}]}, me)
    second_id = await answer(service, second, {"content": "six"}, stream=False)
    got = await service.get(me, second_id)
    assert got["previous_response_id"] == first_id and got["output_text"] == "six" and got["store"] is True
    page = await service.input_items(me, second_id, {"limit": "2"})  # this response's own input, newest first
    assert [i["content"][0]["text"] for i in page["data"]] == ["five", "four"] and page["has_more"] is True
    rest = await service.input_items(me, second_id, {"after": page["last_id"]})
    assert [i["content"][0]["text"] for i in rest["data"]] == ["three"] and rest["has_more"] is False
    asc = await service.input_items(me, second_id, {"order": "asc"})
    assert [i["content"][0]["text"] for i in asc["data"]] == ["three", "four", "five"]
    for query, param in (({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"), ({"limit": "101"}, "limit"),
                         ({"order": "up"}, "order"), ({"after": "msg_nope"}, "after")):
        with pytest.raises(InvalidRequest) as caught:
            await service.input_items(me, second_id, query)
        assert caught.value.param == param
    assert await service.delete(me, second_id) == {"id": second_id, "object": "response.deleted", "deleted": True}
    with pytest.raises(ResponseNotFound):
        await service.get(me, second_id)
    with pytest.raises(ResponseNotFound):
        await service.delete(me, second_id)
    assert (await service.get(me, first_id))["output_text"] == "two"


async def test_native_body_inlines_the_stored_conversation() -> None:
    service = ResponsesService(MemoryResponseStore())
    me = key()
    first = await service.prepare({"model": "m", "input": "one"}, me)
    first_id = await answer(service, first, {"content": "two", "reasoning_content": "hmm",
                                             "reasoning_signature": "claude-sig"}, stream=False)
    data = {"model": "m", "previous_response_id": first_id, "tools": [{"type": "web_search"}], "input": [
        {"type": "reasoning", "id": "rs_openai", "summary": [], "encrypted_content": "openai-blob"},
        {"role": "user", "content": "three"}]}
    prepared = await service.prepare(data, me, native_tools={"web_search"})
    native = service.native_body(prepared)
    assert "previous_response_id" not in native and native["store"] is False
    assert native["tools"] == [{"type": "web_search"}] and native["model"] == "m"
    assert native["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "one"}]},
        {"type": "message", "role": "assistant", "content": "two"},  # stored reasoning (another provider's) dropped
        {"type": "reasoning", "id": "rs_openai", "summary": [], "encrypted_content": "openai-blob"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "three"}]}]
    assert prepared.body["messages"][-1] == {"role": "user", "content": "three"} and "tools" not in prepared.body


async def test_a_fifty_turn_chat_sending_item_references_costs_one_read_per_request(table: CountingTable) -> None:
    """The AI SDK's way with `store` on: no previous_response_id, the whole history each time,
    earlier output as item_references to the gateway's item ids."""
    service = ResponsesService(DynamoResponseStore(lambda: table))
    me = key(team=uuid.uuid4().hex)
    history: list[dict[str, Any]] = []
    expected: list[dict[str, Any]] = []
    for turn in range(50):
        history.append({"role": "user", "content": [{"type": "input_text", "text": f"q{turn}"}]})
        expected.append({"role": "user", "content": f"q{turn}"})
        reads = table.queries
        prepared = await service.prepare({"model": "m", "input": list(history), "stream": turn % 2 == 0}, me)
        assert table.queries - reads == (0 if turn == 0 else 1)
        assert prepared.body["messages"] == expected
        response_id = await answer(service, prepared, {"content": f"a{turn}", "reasoning_content": "hm"},
                                   stream=turn % 2 == 0)
        output = (await service.get(me, response_id))["output"]
        assert [item["type"] for item in output] == ["reasoning", "message"]
        history += [{"type": "item_reference", "id": item["id"]} for item in output]
        expected.append({"role": "assistant", "content": f"a{turn}"})


async def test_item_references_across_branches_unknown_ids_and_other_tenants() -> None:
    store = MemoryResponseStore()
    service = ResponsesService(store)
    me, other = key(team="a"), key(team="b")
    first = await service.prepare({"model": "m", "input": "left"}, me)
    left = (await service.get(me, await answer(service, first, {"content": "L"}, stream=False)))["output"][0]
    second = await service.prepare({"model": "m", "input": "right"}, me)
    right = (await service.get(me, await answer(service, second, {"content": "R"}, stream=False)))["output"][0]
    store.reads = 0
    both = await service.prepare({"model": "m", "input": [{"type": "item_reference", "id": left["id"]},
                                                          {"type": "item_reference", "id": right["id"]}]}, me)
    assert both.body["messages"] == [{"role": "assistant", "content": "L"}, {"role": "assistant", "content": "R"}]
    assert store.reads == 2  # two unrelated responses: one read each, newest first
    assert both.input[0] == left and both.input[0] is not left
    for who, item_id in ((me, "msg_" + "0" * 52), (me, "msg_client_chosen"), (other, left["id"])):
        with pytest.raises(InvalidRequest) as caught:
            await service.prepare({"model": "m", "input": [{"type": "item_reference", "id": item_id}]}, who)
        assert caught.value.code == "item_not_found" and item_id in caught.value.message


def test_response_ids_sort_by_age_and_item_ids_name_their_response() -> None:
    from aigw.responses.items import ItemIds, new_response_id, response_of_item

    older, newer = new_response_id(1_700_000_000.0), new_response_id(1_700_000_000.5)
    assert older < newer and len(older) == len("resp_") + 48
    ids = ItemIds(newer)
    first, second = ids.new("msg"), ids.new("fc")
    assert first != second and response_of_item(first) == newer == response_of_item(second)
    assert response_of_item("msg_abc") is None and response_of_item("call_" + "f" * 40) is None


async def test_deliver_stores_json_before_returning_and_wraps_streams(local_aws: Any) -> None:
    from aigw.config.models import ResponsesConfig
    from aigw.pipeline.outcome import JsonOutcome, StreamOutcome

    service = ResponsesService.from_config(ResponsesConfig(store_ttl_s=120, namespace="key"),
                                           lambda: local_aws.aws.table(RESPONSES))
    assert service.ttl_s == 120 and service.namespacing == "key"
    me = key(key_id=uuid.uuid4().hex)
    prepared = await service.prepare({"model": "m", "input": "hi"}, me)
    codec = service.codec(prepared)
    outcome = JsonOutcome(codec.body(completion({"content": "json"}), Usage(1, 1)), {"x-request-id": "r"})
    assert await service.deliver(prepared, codec, outcome) is outcome
    assert (await service.get(me, prepared.response_id))["output_text"] == "json"

    streamed = await service.prepare({"model": "m", "input": "hi", "stream": True}, me)
    codec = service.codec(streamed)
    wrapped = await service.deliver(streamed, codec, StreamOutcome(frames_of(codec, [text("sse")]), {"h": "v"}))
    assert isinstance(wrapped, StreamOutcome) and wrapped.headers == {"h": "v"}
    with pytest.raises(ResponseNotFound):
        await service.get(me, streamed.response_id)  # nothing stored before the stream runs
    sent = b"".join([frame async for frame in wrapped.body])
    assert b"response.completed" in sent and (await service.get(me, streamed.response_id))["output_text"] == "sse"
