"""Attribute values from requests: conventions' names, types OpenTelemetry accepts whatever
the client sent, and no text of the conversation."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aigw.auth.records import KeyRecord
from aigw.config import load_config
from aigw.config.models import Deployment
from aigw.pipeline.codec import OpenAICodec
from aigw.pipeline.context import RequestContext
from aigw.pipeline.stages import Stop
from aigw.providers.base import ChatResult
from aigw.telemetry.attributes import (
    attribute_value,
    guardrail_attributes,
    log_field_attributes,
    provider_name,
    request_parameters,
    response_attributes,
    server_address,
    server_attributes,
)
from aigw.telemetry.content import input_messages
from aigw.telemetry.tap import ResponseSeen

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
SCALARS = (str, bool, int, float)


def valid(value: Any) -> bool:
    if isinstance(value, SCALARS):
        return True
    return isinstance(value, list) and len({type(v) for v in value}) <= 1 and all(isinstance(v, SCALARS) for v in value)


def test_provider_names_and_upstream_hosts() -> None:
    assert [provider_name(p) for p in ("openai", "azure", "bedrock", "gemini", "anthropic", "openai-compatible")] == \
        ["openai", "azure.ai.openai", "aws.bedrock", "gcp.gemini", "anthropic", "openai-compatible"]
    assert server_address(Deployment(provider="openai", model="x")) == ("api.openai.com", None)
    assert server_address(Deployment(provider="openai-compatible", model="x", api_base="http://10.0.0.5:8000/v1")) == \
        ("10.0.0.5", 8000)
    assert server_address(Deployment(provider="azure", model="x", api_base="https://r.openai.azure.com",
                                      api_version="2024-10-21")) == ("r.openai.azure.com", None)
    assert server_address(Deployment(provider="bedrock", model="x", region="eu-west-3")) == \
        ("bedrock-runtime.eu-west-3.amazonaws.com", None)
    assert server_address(Deployment(provider="mock", model="x")) is None


@given(st.dictionaries(st.sampled_from(["max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "n",
                                        "stop", "frequency_penalty", "presence_penalty"]), JSON))
def test_request_parameters_are_always_valid_attribute_values(body: dict[str, Any]) -> None:
    for name, value in request_parameters(body).items():
        assert name.startswith("gen_ai.request.") and valid(value), (name, value)


@given(JSON)
def test_any_log_value_becomes_a_valid_bounded_attribute(value: Any) -> None:
    converted = attribute_value(value)
    assert converted is None or valid(converted)
    if isinstance(converted, str):
        assert len(converted) <= 1024


CONFIG = load_config({"models": [{"name": "m", "deployments": [{"provider": "mock", "model": "m"}],
                                  "price": {"input_per_mtok": 1, "output_per_mtok": 1}}]})


def context(**fields: Any) -> RequestContext:
    body = {"model": "m", "messages": [{"role": "user", "content": "my secret plan"}], "temperature": 1}
    return RequestContext(request_id="r", operation="chat", key=KeyRecord(key_hash="h", key_id="key_9", team_id="t",
                                                                            project="p"),
                          model=CONFIG.models[0], body=body, codec=OpenAICodec(), **fields)


def test_no_conversation_text_in_the_default_attributes() -> None:
    ctx = context(end_user="u-1")
    ctx.log_for("cache")["cache_skip"] = "nondeterministic"
    ctx.result = ChatResult({"id": "x", "model": "m", "choices": [{"message": {"content": "the plan is secret"},
                                                                    "finish_reason": "stop"}]}, None)
    ctx.log_for("guardrails")["guardrails"] = [{"name": "pii", "action": "redact", "source": "input",
                                                "entities": {"email": 1}}, {"action": "malformed"}]
    attributes = {**log_field_attributes(ctx), **guardrail_attributes(ctx), **server_attributes(ctx),
                  **response_attributes(ctx, None)}
    assert "secret" not in json.dumps(attributes)
    assert attributes["aigw.guardrails.actions"] == ["input:pii:redact"]  # from the guardrails' own entries
    assert json.loads(str(attributes["aigw.guardrails.guardrails"]))[0]["entities"] == {"email": 1}
    assert attributes["aigw.cache.cache_skip"] == "nondeterministic"
    assert (attributes["aigw.project"], attributes["aigw.end_user"]) == ("p", "u-1")
    assert attributes["gen_ai.request.temperature"] == 1.0


def test_a_stopped_stream_reports_the_stop_as_its_finish() -> None:
    ctx = context(stream=True)
    ctx.stopped = Stop(reason="content_filter", by="pii")
    seen = ResponseSeen(id="c", model="m")
    assert response_attributes(ctx, seen)["gen_ai.response.finish_reasons"] == ["content_filter"]
    assert server_attributes(ctx)["aigw.stopped_by"] == "pii"
    seen.finish_reasons = {1: "length", 0: "stop"}
    assert response_attributes(ctx, seen)["gen_ai.response.finish_reasons"] == ["stop", "length"]


def test_captured_content_shares_one_budget_and_never_carries_bytes() -> None:
    body = {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "abcdef"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"q": 1}'}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "result text"}]}
    captured = json.loads(input_messages(body, 8) or "")
    assert captured[0]["parts"] == [{"type": "text", "content": "abcdef"}, {"type": "blob", "modality": "image"}]
    assert captured[1]["parts"] == [{"type": "tool_call", "id": "t1", "name": "f", "arguments": '{"'}]
    assert captured[2]["parts"] == [{"type": "tool_call_response", "id": "t1", "response": ""}]
    assert "AAAA" not in json.dumps(captured)
