"""The Responses API as its clients use it, against every provider family's fake: the openai
SDK (create, the stream helper, a function-calling loop over previous_response_id, retrieve,
input_items, delete), the OpenAI Agents SDK with its default model, and a stored conversation
that continues after a fallback to another provider."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.fakes.provider_fixtures import last_record

BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
WEATHER = {"type": "function", "name": "weather", "description": "the weather in a city", "strict": False,
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture
def gw(provider_gateway: Any, fake_openai: Any, fake_anthropic: Any, fake_bedrock: Any, fake_gemini: Any) -> Any:
    def one(name: str, deployment: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"name": name, "deployments": [deployment], **extra}

    openai_dep = {"provider": "openai", "model": "gpt-4o-mini", "api_base": fake_openai.base_url,
                  "credentials": "openai-test"}
    return provider_gateway({"models": [
        one("gpt-4o-mini", openai_dep),
        one("claude", {"provider": "anthropic", "model": "claude-sonnet-4-5", "api_base": fake_anthropic.url,
                       "credentials": "anthropic-test"}),
        one("haiku", {"provider": "bedrock", "model": BEDROCK_MODEL, "api_base": fake_bedrock.url,
                      "region": "us-west-2"}),
        one("gemini", {"provider": "gemini", "model": "gemini-2.5-flash", "api_base": fake_gemini.url,
                       "credentials": "gemini-test"}),
        one("flaky", {"provider": "openai", "model": "gpt-4o-mini-fail-503", "api_base": fake_openai.base_url,
                      "credentials": "openai-test"}, fallbacks=["claude"]),
    ], "routing": {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "max_retries": 0}})


MODELS = ["gpt-4o-mini", "claude", "haiku", "gemini"]


@pytest.mark.parametrize("model", MODELS)
def test_create_retrieve_and_continue_on_every_provider(gw: Any, model: str) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    first = client.responses.create(model=model, input="hello there", instructions="be brief")
    assert first.id.startswith("resp_") and first.object == "response" and first.status == "completed"
    assert first.output_text and first.usage is not None and first.usage.input_tokens > 0
    second = client.responses.create(model=model, input="and again", previous_response_id=first.id)
    assert second.status == "completed" and second.previous_response_id == first.id
    assert client.responses.retrieve(second.id).id == second.id
    items = client.responses.input_items.list(second.id)
    assert [getattr(i, "type", None) for i in items.data] == ["message"]
    assert last_record(gw)["api"] == "responses"


@pytest.mark.parametrize("model", MODELS)
def test_the_stream_helper_on_every_provider(gw: Any, model: str) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    deltas: list[str] = []
    with client.responses.stream(model=model, input="stream this") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert final.status == "completed" and "".join(deltas) == final.output_text and deltas
    assert final.usage is not None and final.usage.output_tokens > 0
    follow = client.responses.create(model=model, input="next", previous_response_id=final.id)
    assert follow.status == "completed"


@pytest.mark.parametrize("model", ["gpt-4o-mini", "claude", "gemini"])
def test_a_function_calling_loop_over_previous_response_id(gw: Any, model: str) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    first = client.responses.create(model=model, input="weather in Paris?", tools=[WEATHER],  # type: ignore[list-item]
                                    tool_choice="required")
    calls = [item for item in first.output if item.type == "function_call"]
    assert calls and calls[0].name == "weather" and calls[0].call_id
    json.loads(calls[0].arguments or "{}")
    answer = client.responses.create(model=model, previous_response_id=first.id, tools=[WEATHER],  # type: ignore[list-item]
                                     input=[{"type": "function_call_output", "call_id": calls[0].call_id,
                                             "output": '{"temperature": 21}'}])
    assert answer.status == "completed" and answer.output_text


def test_delete_then_not_found_and_another_tenant_cannot_read(gw: Any) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    created = client.responses.create(model="gpt-4o-mini", input="keep me")
    stranger = openai.OpenAI(base_url=gw.base_url, api_key=gw.create_key(team="other-team"), max_retries=0)
    with pytest.raises(openai.NotFoundError):
        stranger.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError):
        stranger.responses.create(model="gpt-4o-mini", input="x", previous_response_id=created.id)
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_a_stored_conversation_continues_after_a_fallback_to_another_provider(gw: Any, fake_anthropic: Any) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    first = client.responses.create(model="gpt-4o-mini", input="my name is Ada")
    second = client.responses.create(model="flaky", input="what is my name?", previous_response_id=first.id)
    assert second.status == "completed"
    record = last_record(gw)
    assert record["served_model"] == "claude" and record["provider"] == "anthropic"
    sent = json.dumps(fake_anthropic.fake.calls[-1].body)
    assert "my name is Ada" in sent and "what is my name?" in sent


def test_an_unknown_built_in_tool_is_a_400_naming_it(gw: Any) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="claude", input="search", tools=[{"type": "web_search"}])  # type: ignore[list-item]
    assert "web_search" in str(caught.value)


async def test_the_agents_sdk_runs_a_tool_using_agent_to_completion(gw: Any) -> None:
    agents = pytest.importorskip("agents")
    from agents import Agent, Runner, function_tool, set_default_openai_client, set_tracing_disabled

    set_tracing_disabled(True)
    set_default_openai_client(openai.AsyncOpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0))
    seen: list[str] = []

    @function_tool
    def weather(city: str) -> str:
        """The weather in a city."""
        seen.append(city)
        return f"sunny in {city}"

    agent = Agent(name="forecaster", instructions="use the tool", model="gpt-4o-mini", tools=[weather],
                  model_settings=agents.ModelSettings(tool_choice="required"), reset_tool_choice=True)
    result = await Runner.run(agent, "weather in Paris?", max_turns=4)
    assert seen == ["Paris"] and result.final_output


def test_the_readme_example_against_the_mock_models(make_gateway: Any) -> None:
    from aigw.local.defaults import DEFAULT_CONFIG

    gw = make_gateway(DEFAULT_CONFIG)
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    first = client.responses.create(model="mock-fast", input="hello")
    again = client.responses.create(model="mock-fast", input="and again", previous_response_id=first.id)
    assert first.output_text and again.status == "completed"
    with client.responses.stream(model="mock-stream", input="stream please", previous_response_id=again.id) as s:
        assert s.get_final_response().output_text
