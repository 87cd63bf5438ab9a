"""The exact cache end to end: the official openai SDK -> gateway (moto DynamoDB Cache
table) -> the fake OpenAI upstream, which counts the calls that get through."""

from __future__ import annotations

import uuid
from typing import Any

import openai
import pytest

from aigw.cache.exact import DynamoExactStore
from aigw.cache.stage import CacheStage
from aigw.config import load_config

QUESTION = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "what is the capital of France"}]
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def config(base_url: str, **cache: Any) -> dict[str, Any]:
    deployment = {"provider": "openai", "model": "gpt-4o-mini", "api_base": base_url, "credentials": "openai-test"}
    return {"models": [{"name": "gpt-4o-mini", "deployments": [deployment]}],
            "cache": {"exact": True, **cache}}


@pytest.fixture
def gw(make_gateway: Any, fake_openai: Any) -> Any:
    return make_gateway(config(fake_openai.base_url))


def sdk(gw: Any, team: str | None = None, **key_fields: Any) -> openai.OpenAI:
    key = gw.create_key(team=team or f"team-{uuid.uuid4().hex[:8]}", **key_fields)
    return openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0)


def ask(client: openai.OpenAI, **kwargs: Any) -> Any:
    kwargs = {"model": "gpt-4o-mini", "messages": QUESTION, "temperature": 0, **kwargs}
    return client.chat.completions.with_raw_response.create(**kwargs)


def upstream_calls(fake_openai: Any) -> int:
    return len(fake_openai.fake.calls_for("gpt-4o-mini"))


def test_a_repeat_is_a_hit_that_costs_nothing_but_counts_usage(gw: Any, fake_openai: Any) -> None:
    client = sdk(gw)
    first, second = ask(client), ask(client)
    assert first.headers["x-aigw-cache"] == "miss" and second.headers["x-aigw-cache"] == "hit"
    assert upstream_calls(fake_openai) == 1
    miss, hit = first.parse(), second.parse()
    assert hit.choices[0].message.content == miss.choices[0].message.content
    assert hit.id != miss.id
    assert hit.usage is not None and miss.usage is not None
    assert hit.usage.prompt_tokens == miss.usage.prompt_tokens
    assert float(second.headers["x-aigw-cost-usd"]) == 0.0 < float(first.headers["x-aigw-cost-usd"])
    assert "x-aigw-provider" not in second.headers
    record = gw.last_record(2)
    assert record["cache"] == "hit" and record["cost_usd"] == 0
    assert record["input_tokens"] == miss.usage.prompt_tokens
    assert record["saved_cost_usd"] == pytest.approx(float(first.headers["x-aigw-cost-usd"]), rel=1e-6)


def test_irrelevant_fields_still_hit_and_answer_changing_ones_miss(gw: Any, fake_openai: Any) -> None:
    client = sdk(gw)
    ask(client)
    assert ask(client, user="someone-else", metadata=None).headers["x-aigw-cache"] == "hit"
    for change in ({"max_tokens": 50}, {"seed": 3}, {"top_p": 0.5}, {"response_format": {"type": "json_object"}}):
        assert ask(client, **change).headers["x-aigw-cache"] == "miss", change
    assert upstream_calls(fake_openai) == 5


def test_streaming_hit_is_replayed_as_a_well_formed_stream(gw: Any, fake_openai: Any) -> None:
    client = sdk(gw)
    miss = ask(client).parse()
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=QUESTION, temperature=0, stream=True, stream_options={"include_usage": True})
    assert raw.headers["x-aigw-cache"] == "hit"
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == miss.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == miss.usage.prompt_tokens
    assert upstream_calls(fake_openai) == 1


def test_a_streamed_miss_is_stored_and_serves_both_shapes(gw: Any, fake_openai: Any) -> None:
    client = sdk(gw)
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="gpt-4o-mini", messages=QUESTION, temperature=0, stream=True) if c.choices)
    gw.last_record(1)  # the stream's settlement (and the cache write) happens as it ends
    again = ask(client)
    assert again.headers["x-aigw-cache"] == "hit"
    assert again.parse().choices[0].message.content == streamed
    replay = client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, temperature=0, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in replay if c.choices) == streamed
    assert upstream_calls(fake_openai) == 1


def test_tool_call_answers_are_cached_and_replayed_as_tool_calls(gw: Any, fake_openai: Any) -> None:
    client = sdk(gw)
    kwargs = {"tools": [WEATHER_TOOL], "tool_choice": "required"}
    first = ask(client, **kwargs).parse()
    assert first.choices[0].finish_reason == "tool_calls"
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, temperature=0, stream=True,
                                            **kwargs)
    calls = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function is not None and calls[0].function.name == "get_weather"
    assert "".join(c.function.arguments or "" for c in calls if c.function) == '{"city": "Paris"}'
    assert upstream_calls(fake_openai) == 1


def test_n_greater_than_one_caches_all_choices_under_its_own_key(gw: Any, fake_openai: Any) -> None:
    client = sdk(gw)
    three = ask(client, n=3).parse()
    again = ask(client, n=3)
    assert again.headers["x-aigw-cache"] == "hit"
    assert [c.message.content for c in again.parse().choices] == [c.message.content for c in three.choices]
    assert ask(client, n=2).headers["x-aigw-cache"] == "miss"
    assert upstream_calls(fake_openai) == 2


def test_teams_never_see_each_others_entries(gw: Any, fake_openai: Any) -> None:
    team_a, team_b = sdk(gw), sdk(gw)
    ask(team_a)
    assert ask(team_b).headers["x-aigw-cache"] == "miss"
    assert ask(team_a).headers["x-aigw-cache"] == "hit"
    assert ask(team_b).headers["x-aigw-cache"] == "hit"
    assert upstream_calls(fake_openai) == 2


def test_key_namespacing_separates_keys_of_one_team(make_gateway: Any, fake_openai: Any) -> None:
    gw = make_gateway(config(fake_openai.base_url, namespace="key"))
    team = f"team-{uuid.uuid4().hex[:8]}"
    first, second = sdk(gw, team), sdk(gw, team)
    ask(first)
    assert ask(second).headers["x-aigw-cache"] == "miss"
    assert ask(first).headers["x-aigw-cache"] == "hit"


def test_per_request_controls(gw: Any, fake_openai: Any) -> None:
    client = sdk(gw)
    no_store = ask(client, extra_headers={"x-aigw-cache": "no-store"})
    assert no_store.headers["x-aigw-cache"] == "miss"
    assert ask(client, extra_headers={"x-aigw-cache": "no-cache"}).headers["x-aigw-cache"] == "skip"  # stores
    assert ask(client).headers["x-aigw-cache"] == "hit"
    assert ask(client, extra_headers={"x-aigw-cache": "no-cache"}).headers["x-aigw-cache"] == "skip"
    assert upstream_calls(fake_openai) == 3
    with pytest.raises(openai.BadRequestError, match="x-aigw-cache-ttl"):
        ask(client, extra_headers={"x-aigw-cache-ttl": "-1"})


def test_nondeterministic_requests_are_not_cached_by_default(gw: Any, fake_openai: Any) -> None:
    client = sdk(gw)
    for _ in range(2):
        assert ask(client, temperature=0.8).headers["x-aigw-cache"] == "skip"
    assert upstream_calls(fake_openai) == 2


def test_team_override_turns_the_cache_off(make_gateway: Any, fake_openai: Any) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"
    gw = make_gateway(config(fake_openai.base_url, teams={team: {"exact": False}}))
    client = sdk(gw, team)
    assert [ask(client).headers["x-aigw-cache"] for _ in range(2)] == ["skip", "skip"]


def test_a_failing_cache_store_degrades_to_a_miss(make_gateway: Any, fake_openai: Any, local_aws: Any) -> None:
    settings = config(fake_openai.base_url)
    missing = DynamoExactStore(lambda: local_aws.aws.dynamodb_resource().Table("no-such-table"))
    gw = make_gateway(settings, stages=[CacheStage(load_config(settings), exact=missing, semantic=None)])
    client = sdk(gw)
    for count in (1, 2):
        raw = ask(client)
        assert raw.headers["x-aigw-cache"] == "miss"
        assert raw.parse().choices[0].message.content
        record = gw.last_record(count)
        assert record["status"] == 200 and record["cache_error"].startswith("exact")
    assert upstream_calls(fake_openai) == 2
