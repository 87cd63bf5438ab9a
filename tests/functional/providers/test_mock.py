"""The mock provider through the real app, driven by the official SDKs as an agent drives a
model: structured output parsed into pydantic models, a tool loop, base64 embeddings."""

from __future__ import annotations

import base64
import json
import math
import struct
from enum import StrEnum
from typing import Any, Literal

import anthropic
import openai
import pytest
from pydantic import BaseModel, Field

MOCK_CONFIG = {"models": [
    {"name": "mock-fast", "deployments": [{"provider": "mock", "model": "mock-fast"}]},
    {"name": "mock-stream", "deployments": [{"provider": "mock", "model": "mock-stream"}]},
    {"name": "mock-embed", "mode": "embedding", "deployments": [{"provider": "mock", "model": "mock-embed"}]},
]}

TOOLS: list[Any] = [
    {"type": "function", "function": {
        "name": "search_docs", "description": "Search the documentation",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}},
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather for a city",
        "parameters": {"type": "object", "additionalProperties": False, "required": ["city", "unit", "days"],
                       "properties": {"city": {"type": "string", "minLength": 2},
                                      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                                      "days": {"type": "integer", "minimum": 1, "maximum": 7}}}}},
]


class Priority(StrEnum):
    low = "low"
    high = "high"


class Step(BaseModel):
    title: str = Field(min_length=3, max_length=40)
    minutes: int = Field(ge=5, le=120)
    done: bool


class Plan(BaseModel):
    name: str
    priority: Priority
    kind: Literal["trip", "project"]
    steps: list[Step] = Field(min_length=2)
    budget_usd: float | None
    tags: list[str]


class Node(BaseModel):
    label: str
    children: list[Node]


@pytest.fixture
def gw(make_gateway: Any) -> Any:
    return make_gateway(MOCK_CONFIG)


def sdk(gw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)


def test_parse_into_a_pydantic_model(gw: Any) -> None:
    for model in ("mock-fast", "mock-stream"):
        completion = sdk(gw).beta.chat.completions.parse(
            model=model, response_format=Plan, messages=[{"role": "user", "content": "plan a trip to Lisbon"}])
        plan = completion.choices[0].message.parsed
        assert isinstance(plan, Plan) and len(plan.steps) >= 2 and plan.kind in ("trip", "project")
        assert all(5 <= s.minutes <= 120 and 3 <= len(s.title) <= 40 for s in plan.steps)
    again = sdk(gw).beta.chat.completions.parse(
        model="mock-fast", response_format=Plan, messages=[{"role": "user", "content": "something else"}])
    assert again.choices[0].message.parsed == plan  # deterministic: the schema decides, not the prompt


def test_parse_a_recursive_model_and_stream_it(gw: Any) -> None:
    with sdk(gw).beta.chat.completions.stream(
            model="mock-stream", response_format=Node, messages=[{"role": "user", "content": "a tree"}]) as stream:
        deltas = [e for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    tree = final.choices[0].message.parsed
    assert isinstance(tree, Node) and tree.children and len(deltas) > 5


def test_json_object_mode(gw: Any) -> None:
    reply = sdk(gw).chat.completions.create(model="mock-fast", response_format={"type": "json_object"},
                                            messages=[{"role": "user", "content": "answer in JSON"}])
    assert isinstance(json.loads(reply.choices[0].message.content or ""), dict)


def test_a_two_step_tool_loop(gw: Any) -> None:
    client = sdk(gw)
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Lisbon this week?"}]
    first = client.chat.completions.create(model="mock-fast", messages=messages, tools=TOOLS)
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # the tool the question is about
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"city", "unit", "days"} and arguments["unit"] in ("celsius", "fahrenheit")
    assert 1 <= arguments["days"] <= 7 and len(arguments["city"]) >= 2
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 degrees"}]
    second = client.chat.completions.create(model="mock-fast", messages=messages, tools=TOOLS)
    answer = second.choices[0].message
    assert second.choices[0].finish_reason == "stop" and not answer.tool_calls
    assert "get_weather returned: sunny, 24 degrees" in (answer.content or "")
    assert second.usage is not None and second.usage.prompt_tokens > first.usage.prompt_tokens  # type: ignore[union-attr]


def test_tool_calls_stream_as_argument_deltas(gw: Any) -> None:
    stream = sdk(gw).chat.completions.create(
        model="mock-stream", stream=True, tools=TOOLS, tool_choice={"type": "function", "function": {"name":
                                                                                                     "search_docs"}},
        messages=[{"role": "user", "content": "weather?"}], stream_options={"include_usage": True})
    pieces: list[str] = []
    ids, names, finish = set(), set(), None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                ids.add(delta.id) if delta.id else None
                names.add(delta.function.name) if delta.function and delta.function.name else None
                pieces.append(delta.function.arguments or "" if delta.function else "")
    assert finish == "tool_calls" and names == {"search_docs"} and len(ids) == 1
    assert len([p for p in pieces if p]) > 1  # streamed in pieces, not at once
    assert set(json.loads("".join(pieces))) == {"query"}


def test_tool_choice_none_and_an_output_limit(gw: Any) -> None:
    client = sdk(gw)
    text = client.chat.completions.create(model="mock-fast", tools=TOOLS, tool_choice="none",
                                          messages=[{"role": "user", "content": "weather?"}])
    assert text.choices[0].message.content and not text.choices[0].message.tool_calls
    cut = client.chat.completions.create(model="mock-fast", tools=TOOLS, tool_choice="required", max_tokens=5,
                                         messages=[{"role": "user", "content": "weather?"}])
    assert cut.choices[0].finish_reason == "length" and cut.usage is not None and cut.usage.completion_tokens <= 5


def test_the_anthropic_sdk_runs_the_same_tool_loop(gw: Any) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    tools: list[Any] = [{"name": t["function"]["name"], "description": t["function"]["description"],
                         "input_schema": t["function"]["parameters"]} for t in TOOLS]
    messages: list[Any] = [{"role": "user", "content": "search the docs for budgets"}]
    first = client.messages.create(model="mock-fast", max_tokens=200, tools=tools, messages=messages)
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.name == "search_docs" and isinstance(use.input, dict) and "query" in use.input
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "3 pages"}]}]
    second = client.messages.create(model="mock-fast", max_tokens=200, tools=tools, messages=messages)
    assert second.stop_reason == "end_turn" and "3 pages" in second.content[0].text  # type: ignore[union-attr]


def test_embeddings_base64_by_default_and_dimensions(gw: Any) -> None:
    client = sdk(gw)
    default = client.embeddings.create(model="mock-embed", input=["one", "two"])  # the SDK asks for base64
    assert gw.records and len(default.data) == 2 and len(default.data[0].embedding) == 256
    assert math.isclose(sum(v * v for v in default.data[0].embedding), 1.0, rel_tol=1e-5)
    floats = client.embeddings.create(model="mock-embed", input="one", encoding_format="float").data[0].embedding
    assert floats == pytest.approx(default.data[0].embedding, abs=1e-7)  # float32 of the same vector
    short = client.embeddings.create(model="mock-embed", input="one", dimensions=64).data[0].embedding
    assert len(short) == 64
    ratio = [a / b for a, b in zip(short, floats[:64], strict=True)]
    assert max(ratio) == pytest.approx(min(ratio), rel=1e-4)  # a prefix, re-normalized (as text-embedding-3)


def test_base64_embeddings_on_the_wire(gw: Any) -> None:
    import httpx

    response = httpx.post(gw.base_url + "/embeddings", headers={"authorization": f"Bearer {gw.key}"},
                          json={"model": "mock-embed", "input": "one", "encoding_format": "base64",
                                "dimensions": 8})
    encoded = response.json()["data"][0]["embedding"]
    assert response.status_code == 200 and isinstance(encoded, str)
    values = struct.unpack("<8f", base64.b64decode(encoded))
    assert math.isclose(sum(v * v for v in values), 1.0, rel_tol=1e-6)
    too_many = httpx.post(gw.base_url + "/embeddings", headers={"authorization": f"Bearer {gw.key}"},
                          json={"model": "mock-embed", "input": "one", "dimensions": 100_000})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "dimensions"


def test_the_anthropic_sdk_streams_the_tool_input(gw: Any) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    tools: list[Any] = [{"name": t["function"]["name"], "description": t["function"]["description"],
                         "input_schema": t["function"]["parameters"]} for t in TOOLS]
    with client.messages.stream(model="mock-stream", max_tokens=200, tools=tools,
                                messages=[{"role": "user", "content": "weather in Porto for 3 days"}]) as stream:
        partial = [e.partial_json for e in stream if e.type == "input_json"]
        final = stream.get_final_message()
    use = next(b for b in final.content if b.type == "tool_use")
    assert final.stop_reason == "tool_use" and use.name == "get_weather" and len(partial) > 1
    assert json.loads("".join(partial)) == use.input and set(use.input) == {"city", "unit", "days"}  # type: ignore[arg-type]


class Forecast(BaseModel):
    city: str
    days: list[str] = Field(min_length=1)
    sunny: bool


async def test_an_agents_sdk_agent_with_a_tool_and_structured_output(gw: Any) -> None:
    from agents import Agent, Runner, function_tool, set_default_openai_client, set_tracing_disabled

    set_tracing_disabled(True)
    set_default_openai_client(openai.AsyncOpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0))
    calls: list[tuple[str, int]] = []

    @function_tool
    def weather(city: str, days: int) -> str:
        """The weather forecast for a city."""
        calls.append((city, days))
        return f"sunny in {city} for {days} days"

    agent = Agent(name="forecaster", instructions="use the tool", model="mock-fast", tools=[weather],
                  output_type=Forecast)  # the SDK's defaults: the Responses API, tool_choice auto
    result = await Runner.run(agent, "What is the weather in Porto?", max_turns=4)
    assert len(calls) == 1 and isinstance(calls[0][0], str) and isinstance(calls[0][1], int)
    assert isinstance(result.final_output, Forecast) and result.final_output.days
