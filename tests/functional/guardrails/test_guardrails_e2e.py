"""Guardrails as a user meets them, through the official SDKs against the real app: redaction
the provider never sees and the user never notices, blocks in each API's envelope, output
checks on streams with values split across chunks, and policies by model, team and key."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

EMAIL = "jane.roe@example.com"
CARD = "4111 1111 1111 1111"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture
def gw(make_gateway: Any, fake_openai: Any) -> Any:
    def model(name: str) -> dict[str, Any]:
        return {"name": name, "deployments": [{"provider": "openai", "model": name, "api_base": fake_openai.base_url,
                                               "credentials": "openai-test"}],
                "price": {"input_per_mtok": 1, "output_per_mtok": 2}}

    handle = make_gateway({
        "models": [model("gpt-4o-mini"), model("cards")],
        "guardrails": [
            {"name": "pii", "type": "pii", "entities": ["email"], "action": "redact", "restore": True},
            {"name": "out-cards", "type": "pii", "entities": ["credit_card"], "action": "block",
             "apply_to": ["output"]},
            {"name": "secrets", "type": "secrets", "action": "block"},
            {"name": "words", "type": "deny_patterns", "patterns": ["project-bluebird"], "action": "block"},
        ],
        "policies": {"default": ["secrets"], "models": {"gpt-4o-mini": ["pii"], "cards": ["out-cards"]},
                     "teams": {"research": ["words"]}},
    })
    handle.fake = fake_openai
    return handle


def sent_upstream(gw: Any) -> str:
    return json.dumps([c.body for c in gw.fake.calls])


def test_redaction_never_reaches_the_provider_and_is_restored_in_json_and_streams(gw: Any) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"write to {EMAIL}"}])
    answer = raw.parse().choices[0].message.content or ""
    assert EMAIL in answer and "[EMAIL_1]" not in answer
    assert raw.headers["x-aigw-guardrails"] == "pii"
    stream = client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                            messages=[{"role": "user", "content": f"write to {EMAIL} now"}])
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert EMAIL in streamed and "[EMAIL_1]" not in streamed
    upstream = sent_upstream(gw)
    assert EMAIL not in upstream and "[EMAIL_1]" in upstream
    records = [gw.last_record(1), gw.last_record(2)]
    assert all(r["guardrails"][0]["name"] == "pii" and r["guardrails"][0]["entities"] == {"email": 1}
               for r in records)
    assert EMAIL not in gw.log.getvalue()
    assert '"Guardrail":"pii","Action":"redact","GuardrailInterventions":1' in gw.log.getvalue()


def test_redaction_through_the_anthropic_front_door(gw: Any) -> None:
    client = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    message = client.messages.create(model="gpt-4o-mini", max_tokens=50,
                                     messages=[{"role": "user", "content": f"write to {EMAIL}"}])
    assert EMAIL in message.content[0].text  # type: ignore[union-attr]
    assert EMAIL not in sent_upstream(gw)


def test_a_secret_is_blocked_in_each_apis_envelope_and_costs_nothing(gw: Any) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"key {AWS_KEY}"}])
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "guardrail_blocked" and error["guardrail"] == "secrets"
    assert AWS_KEY not in json.dumps(error)
    ant = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as blocked:
        ant.messages.create(model="gpt-4o-mini", max_tokens=5, messages=[{"role": "user", "content": AWS_KEY}])
    assert blocked.value.status_code == 400 and AWS_KEY not in str(blocked.value.body)
    assert gw.fake.calls == [] and gw.last_record(2)["cost_usd"] == 0
    assert AWS_KEY not in gw.log.getvalue()


def test_a_card_split_across_stream_chunks_never_reaches_the_client(gw: Any) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0)
    stream = client.chat.completions.create(model="cards", stream=True,
                                            messages=[{"role": "user", "content": f"repeat {CARD} please"}])
    chunks = [c for c in stream if c.choices]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "4111" not in text and "you said repeat" in text
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    record = gw.last_record()
    assert record["stopped_by"] == "out-cards" and record["cost_usd"] > 0  # what was generated is billed
    ant = anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)
    with ant.messages.stream(model="cards", max_tokens=50,
                             messages=[{"role": "user", "content": f"repeat {CARD} please"}]) as events:
        final = events.get_final_message()
    assert final.stop_reason == "refusal" and "4111" not in json.dumps(final.model_dump())
    json_answer = client.chat.completions.create(model="cards", messages=[{"role": "user", "content": CARD}])
    assert json_answer.choices[0].finish_reason == "content_filter" and "4111" not in json_answer.model_dump_json()


def test_policies_apply_by_team_and_nothing_the_client_sends_turns_them_off(gw: Any) -> None:
    research = gw.create_key(team="research")
    other = gw.create_key(team="sales")
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "about project-bluebird"}]}
    blocked = openai.OpenAI(base_url=gw.base_url, api_key=research, max_retries=0)
    with pytest.raises(openai.BadRequestError):
        blocked.chat.completions.create(**body, extra_body={"guardrails": []},
                                        extra_headers={"x-aigw-guardrails": "off"})
    allowed = openai.OpenAI(base_url=gw.base_url, api_key=other, max_retries=0)
    assert allowed.chat.completions.create(**body).choices[0].message.content
