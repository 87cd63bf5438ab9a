"""ApplyGuardrail through a real boto3 client against a loopback fake of the REST-JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from aigw.guardrails.base import GuardrailUnavailable
from aigw.guardrails.bedrock import BedrockGuardrailDetector, assessed
from tests.fakes.bedrock_guardrail import Decision, FakeApplyGuardrail

EMAIL_ANON = [{"sensitiveInformationPolicy": {"piiEntities": [
    {"match": "a@b.io", "type": "EMAIL", "action": "ANONYMIZED", "detected": True}]}}]
TOPIC_BLOCK = [{"topicPolicy": {"topics": [{"name": "legal", "type": "DENY", "action": "BLOCKED", "detected": True}]}}]


def decide(text: str, source: str) -> Decision:
    if "sue" in text:
        return "GUARDRAIL_INTERVENED", TOPIC_BLOCK, "Sorry, I cannot help with that."
    if "a@b.io" in text:
        return "GUARDRAIL_INTERVENED", EMAIL_ANON, text.replace("a@b.io", "{EMAIL}")
    return "NONE", [], None


@pytest.fixture
def fake() -> Iterator[FakeApplyGuardrail]:
    with FakeApplyGuardrail(decide) as f:
        yield f


def detector(fake: FakeApplyGuardrail) -> BedrockGuardrailDetector:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=fake.url,
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=Config(retries={"max_attempts": 1}, read_timeout=5))
    return BedrockGuardrailDetector(lambda: client, guardrail_id="gr-abc123", guardrail_version="1")


async def test_none_passes_and_the_request_is_the_documented_one(fake: FakeApplyGuardrail) -> None:
    verdict = await detector(fake).check(["hello", "", "world"], "output")
    assert not verdict.triggered
    assert fake.paths == ["/guardrail/gr-abc123/version/1/apply"]
    blocks = [{"text": {"text": "hello"}}, {"text": {"text": "world"}}]
    assert fake.requests == [{"source": "OUTPUT", "content": blocks}]


async def test_blocked_policy_blocks_with_entity_names_not_matches(fake: FakeApplyGuardrail) -> None:
    verdict = await detector(fake).check(["can I sue my landlord"], "input")
    assert verdict.triggered and verdict.rewritten is None and dict(verdict.entities) == {"topic:legal": 1}
    assert fake.requests[0]["source"] == "INPUT"


async def test_anonymized_uses_the_masked_text(fake: FakeApplyGuardrail) -> None:
    verdict = await detector(fake).check(["first", "", "mail a@b.io"], "input")
    assert verdict.triggered and verdict.rewritten == ["first", "", "mail {EMAIL}"]
    assert dict(verdict.entities) == {"email": 1}


async def test_outputs_that_do_not_line_up_are_asked_again_one_by_one(fake: FakeApplyGuardrail) -> None:
    fake.merge_outputs = True
    verdict = await detector(fake).check(["mail a@b.io", "plain"], "input")
    assert verdict.rewritten == ["mail {EMAIL}", "plain"]
    assert len(fake.requests) == 3


async def test_service_errors_are_unavailable(fake: FakeApplyGuardrail) -> None:
    fake.error = (400, "ValidationException")
    with pytest.raises(GuardrailUnavailable, match="ValidationException"):
        await detector(fake).check(["hello"], "input")


def test_assessed_counts_and_block_flag() -> None:
    mixed: list[dict[str, Any]] = [
        {"contentPolicy": {"filters": [{"type": "PROMPT_ATTACK", "confidence": "HIGH", "action": "BLOCKED"},
                                       {"type": "HATE", "confidence": "NONE", "action": "NONE"}]},
         "wordPolicy": {"customWords": [{"match": "bluebird", "action": "BLOCKED"}]}},
    ]
    entities, blocked = assessed(mixed)
    assert blocked and dict(entities) == {"prompt_attack": 1, "custom_word": 1}
    assert assessed(EMAIL_ANON) == ({"email": 1}, False)
