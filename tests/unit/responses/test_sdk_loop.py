"""The openai SDK's own multi-turn function-calling loop, against a minimal front door made of
`ResponsesService` + `ResponsesCodec` around a scripted model that answers canonical chat
bodies: what the lead's route does, minus HTTP plumbing, pipeline and providers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest

from aigw.auth.records import KeyRecord
from aigw.errors import GatewayError
from aigw.pipeline.replay import completion_to_chunks
from aigw.pricing.cost import Usage
from aigw.responses import MemoryResponseStore, ResponsesService

KEY = KeyRecord(key_hash="h" * 64, key_id="key_1", team_id="team")
TOOLS: list[Any] = [{"type": "function", "name": "get_weather", "description": "weather of a city", "strict": True,
                     "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                    "required": ["city"], "additionalProperties": False}}]


def model(body: dict[str, Any]) -> dict[str, Any]:
    """Calls get_weather for a user question, answers from a tool result."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        message: dict[str, Any] = {"role": "assistant", "content": f"It is {json.loads(last['content'])['sky']}."}
        finish = "stop"
    else:
        arguments = json.dumps({"city": "Paris"})
        message = {"role": "assistant", "content": None, "tool_calls": [
            {"id": f"call_{len(body['messages'])}", "type": "function",
             "function": {"name": "get_weather", "arguments": arguments}}]}
        finish = "tool_calls"
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "up",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}]}


class FrontDoor:
    """/v1/responses on the service, as the lead wires it around the pipeline."""

    def __init__(self) -> None:
        self.service = ResponsesService(MemoryResponseStore())
        self.bodies: list[dict[str, Any]] = []  # what the pipeline received

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.removeprefix("/v1/responses").strip("/")
        try:
            if request.method == "POST" and not path:
                return await self.create(json.loads(request.content))
            if request.method == "GET" and path.endswith("/input_items"):
                page = await self.service.input_items(KEY, path.split("/")[0], dict(request.url.params))
                return httpx2.Response(200, json=page)
            if request.method == "GET":
                return httpx2.Response(200, json=await self.service.get(KEY, path))
            if request.method == "DELETE":
                return httpx2.Response(200, json=await self.service.delete(KEY, path))
        except GatewayError as exc:
            return httpx2.Response(exc.status, json=exc.openai_body())
        return httpx2.Response(405)

    async def create(self, data: dict[str, Any]) -> httpx2.Response:
        prepared = await self.service.prepare(data, KEY)
        self.bodies.append(prepared.body)
        codec = self.service.codec(prepared)
        result = model(prepared.body)
        if not prepared.stream:
            body = codec.body(result, Usage(10, 5))
            await self.service.save(prepared, body)
            return httpx2.Response(200, json=body)

        async def frames() -> AsyncIterator[bytes]:  # the pipeline's stream of this answer
            chunks = completion_to_chunks(result)
            for chunk in chunks:
                yield codec.chunk(chunk)
            yield codec.end(chunks[-1], lambda: Usage(10, 5))

        sent = b"".join([f async for f in self.service.persist_stream(prepared, codec, frames())])
        return httpx2.Response(200, content=sent, headers={"content-type": "text/event-stream"})


@pytest.fixture
def door() -> FrontDoor:
    return FrontDoor()


def client(door: FrontDoor) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url="http://gateway.test/v1", max_retries=0,
                              http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(door)))


async def test_function_calling_loop_with_previous_response_id(door: FrontDoor) -> None:
    sdk = client(door)
    first = await sdk.responses.create(model="m", input="Weather in Paris?", tools=TOOLS,
                                       instructions="You are terse.")
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    second = await sdk.responses.create(model="m", previous_response_id=first.id, tools=TOOLS, input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps({"sky": "sunny"})}])
    assert second.output_text == "It is sunny." and second.previous_response_id == first.id
    assert door.bodies[0]["messages"][0] == {"role": "system", "content": "You are terse."}
    sent = door.bodies[-1]["messages"]  # the first turn's instructions do not carry over, as on OpenAI
    assert sent == [{"role": "user", "content": "Weather in Paris?"},
                        {"role": "assistant", "content": None, "tool_calls": [
                            {"id": call.call_id, "type": "function",
                             "function": {"name": "get_weather", "arguments": call.arguments}}]},
                        {"role": "tool", "tool_call_id": call.call_id, "content": "{\"sky\": \"sunny\"}"}]
    assert door.bodies[-1]["tools"][0]["function"]["strict"] is True

    retrieved = await sdk.responses.retrieve(second.id)
    assert retrieved.output_text == "It is sunny." and retrieved.id == second.id
    items = [item async for item in sdk.responses.input_items.list(second.id, limit=1, order="asc")]
    assert [item.type for item in items] == ["function_call_output"]  # the SDK pages through `after`
    await sdk.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(second.id)
    with pytest.raises(openai.BadRequestError, match="not found"):
        await sdk.responses.create(model="m", previous_response_id=second.id, input="and tomorrow?")


async def test_the_same_loop_streaming_through_the_stream_helper(door: FrontDoor) -> None:
    sdk = client(door)
    async with sdk.responses.stream(model="m", input="Weather in Paris?", tools=TOOLS) as stream:
        first = await stream.get_final_response()
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.parsed_arguments == {"city": "Paris"}  # the helper parsed strict arguments
    async with sdk.responses.stream(model="m", previous_response_id=first.id, tools=TOOLS, input=[
            {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps({"sky": "grey"})}]
                                    ) as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        second = await stream.get_final_response()
    assert "".join(deltas) == second.output_text == "It is grey."
    assert (await sdk.responses.retrieve(second.id)).output_text == "It is grey."
