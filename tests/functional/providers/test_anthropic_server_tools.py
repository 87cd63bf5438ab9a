"""Through /v1/messages with the Anthropic SDK: server tools and betas reach the platform's
Anthropic account only as the deployment's config allows, and what they bill is charged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.conftest import put_secret
from tests.fakes.adversarial.anthropic_family import AnthropicFamily
from tests.fakes.adversarial.family import plan
from tests.fakes.adversarial.faults import Fault
from tests.fakes.adversarial.server import AdversarialServer, Received, Reply
from tests.fakes.provider_fixtures import last_record

CLAUDE_CODE_BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 4}


@pytest.fixture(scope="module")
def upstream() -> Iterator[AdversarialServer]:
    family = AnthropicFamily()

    def handle(request: Received) -> Reply:
        stream = isinstance(request.body, dict) and bool(request.body.get("stream"))
        return plan(family, request, Fault(), "", stream=stream, stall_s=1)[0]

    server = AdversarialServer(handle).start()
    yield server
    server.stop()


@pytest.fixture
def gw(provider_gateway: Any, local_aws: Any, upstream: AdversarialServer) -> Any:
    put_secret(local_aws, "adv-tools", json.dumps({"api_key": "sk-ant-api03-servertools-0123456789abcdef"}))
    base = {"provider": "anthropic", "model": "claude-sonnet-4-5", "api_base": upstream.url,
            "credentials": "adv-tools", "price": {"input_per_mtok": 3, "output_per_mtok": 15}}
    return provider_gateway({"models": [
        {"name": "plain", "deployments": [{**base, "id": "plain"}]},
        {"name": "searching", "deployments": [{**base, "id": "searching", "anthropic": {
            "server_tools": ["web_search"], "beta": {"deny": ["context-1m-*"]}}}]},
    ]}, stages=[])


def client(gw: Any, betas: str | None = None) -> anthropic.Anthropic:
    headers = {"anthropic-beta": betas} if betas else None
    return anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0, default_headers=headers)


MESSAGES: Any = [{"role": "user", "content": "what happened today?"}]


def test_a_server_tool_the_model_does_not_allow_is_a_400_naming_the_setting(gw: Any,
                                                                             upstream: AdversarialServer) -> None:
    calls = len(upstream.received)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client(gw).messages.create(model="plain", max_tokens=32, messages=MESSAGES, tools=[WEB_SEARCH])
    assert "anthropic.server_tools" in refused.value.message and "web_search" in refused.value.message
    with pytest.raises(anthropic.BadRequestError, match="mcp"):
        client(gw).messages.create(model="plain", max_tokens=32, messages=MESSAGES, extra_body={
            "mcp_servers": [{"type": "url", "url": "https://example.invalid/sse", "name": "x"}]})
    with pytest.raises(anthropic.BadRequestError, match="server_tools"):
        client(gw, "mcp-client-2025-04-04").messages.create(model="plain", max_tokens=32, messages=MESSAGES)
    assert len(upstream.received) == calls  # nothing reached the platform's account


@pytest.mark.parametrize("stream", [False, True])
def test_an_allowed_web_search_is_charged_per_search(gw: Any, upstream: AdversarialServer, stream: bool) -> None:
    before = len(gw.records)
    kwargs: Any = {"model": "searching", "max_tokens": 32, "messages": MESSAGES, "tools": [WEB_SEARCH]}
    if stream:
        with client(gw).messages.stream(**kwargs) as events:
            final = events.get_final_message()
    else:
        final = client(gw).messages.create(**kwargs)
    assert final.stop_reason == "end_turn" and final.usage.server_tool_use is not None
    assert final.usage.server_tool_use.web_search_requests == 4  # the upstream's usage, verbatim
    record = last_record(gw, before + 1)
    tokens = (record["input_tokens"] * 3 + record["output_tokens"] * 15) / 1_000_000
    assert record["cost_usd"] == pytest.approx(tokens + 4 * 0.01)
    assert upstream.received[-1].body["tools"] == [WEB_SEARCH]


def test_betas_pass_unchanged_by_default_and_denied_ones_are_refused(gw: Any, upstream: AdversarialServer) -> None:
    client(gw, CLAUDE_CODE_BETAS).messages.create(model="plain", max_tokens=32, messages=MESSAGES)
    assert upstream.received[-1].headers["anthropic-beta"] == CLAUDE_CODE_BETAS
    with pytest.raises(anthropic.BadRequestError, match=r"anthropic\.beta"):
        client(gw, CLAUDE_CODE_BETAS + ",context-1m-2025-08-07").messages.create(
            model="searching", max_tokens=32, messages=MESSAGES)
