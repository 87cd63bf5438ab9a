"""Server tools and betas reach an Anthropic deployment only as its config allows."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from aigw.config.models import Deployment
from aigw.errors import InvalidRequest
from aigw.providers.anthropic_native import AnthropicNativeTranslator
from aigw.providers.anthropic_policy import beta_header, check_body
from aigw.providers.base import ChatCall, NativeRequest

# What Claude Code sends today: it must pass with no configuration at all.
CLAUDE_CODE_BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"


def deployment(**anthropic: Any) -> Deployment:
    settings = {"anthropic": anthropic} if anthropic else {}
    return Deployment(provider="anthropic", model="claude-sonnet-4-5", **settings)


@pytest.mark.parametrize(("body", "tool"), [
    ({"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]}, "web_search"),
    ({"tools": [{"type": "web_fetch_20250910", "name": "web_fetch"}]}, "web_fetch"),
    ({"tools": [{"type": "code_execution_20250825", "name": "code_execution"}]}, "code_execution"),
    ({"mcp_servers": [{"type": "url", "url": "https://example.invalid/mcp", "name": "x"}]}, "mcp"),
])
def test_server_tools_are_refused_unless_listed(body: dict[str, Any], tool: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_body(body, deployment())
    assert refused.value.status == 400 and "anthropic.server_tools" in refused.value.message
    assert tool in refused.value.message
    check_body(body, deployment(server_tools=[tool]))  # allowed: passes


def test_client_run_tools_and_custom_tools_pass() -> None:
    check_body({"tools": [{"name": "f", "input_schema": {"type": "object"}},
                          {"type": "custom", "name": "g", "input_schema": {}},
                          {"type": "bash_20250124", "name": "bash"},
                          {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}]}, deployment())


def test_an_unknown_tool_type_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="not known"):
        check_body({"tools": [{"type": "teleport_20990101", "name": "t"}]}, deployment(server_tools=["web_search"]))


def test_betas_pass_by_default_and_follow_allow_and_deny() -> None:
    assert beta_header(CLAUDE_CODE_BETAS, deployment()) == CLAUDE_CODE_BETAS
    with pytest.raises(InvalidRequest, match=r"anthropic\.server_tools"):
        beta_header("mcp-client-2025-04-04," + CLAUDE_CODE_BETAS, deployment())
    assert beta_header("mcp-client-2025-04-04", deployment(server_tools=["mcp"])) == "mcp-client-2025-04-04"
    with pytest.raises(InvalidRequest, match=r"anthropic\.beta") as denied:
        beta_header(CLAUDE_CODE_BETAS + ",context-1m-2025-08-07", deployment(beta={"deny": ["context-1m-*"]}))
    assert denied.value.param == "anthropic-beta"
    only = deployment(beta={"allow": ["claude-code-*"]})
    assert beta_header("claude-code-20250219", only) == "claude-code-20250219"
    with pytest.raises(InvalidRequest):
        beta_header("interleaved-thinking-2025-05-14", only)


def test_the_native_request_applies_the_policy_and_keeps_everything_else() -> None:
    body = {"model": "public", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}], "cache_control": {"type": "ephemeral"}}
    native = NativeRequest("messages", body, {"anthropic-beta": CLAUDE_CODE_BETAS, "anthropic-version": "2023-06-01"})
    call = ChatCall({}, deployment(server_tools=["web_search"]), None, "req_1", native=native)
    spec = AnthropicNativeTranslator().request(call, stream=True)
    assert spec.json is not None and spec.json["cache_control"] == {"type": "ephemeral"}
    assert spec.json["model"] == "claude-sonnet-4-5" and spec.json["stream"] is True
    assert spec.headers["anthropic-beta"] == CLAUDE_CODE_BETAS
    assert body["model"] == "public"  # the client's body is never mutated: retries send the same call
    with pytest.raises(InvalidRequest):
        AnthropicNativeTranslator().request(ChatCall({}, deployment(), None, "r", native=native), stream=False)


def test_anthropic_settings_belong_to_anthropic_deployments() -> None:
    with pytest.raises(ValidationError, match="anthropic"):
        Deployment(provider="openai", model="gpt-4o", anthropic={"server_tools": ["web_search"]})
    with pytest.raises(ValidationError):
        deployment(server_tools=["teleport"])
