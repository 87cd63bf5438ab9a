"""`reasoning_effort` as a thinking budget on Anthropic, Bedrock (Claude) and Gemini."""

from __future__ import annotations

from typing import Any

import pytest

from aigw.config.models import Deployment
from aigw.errors import InvalidRequest
from aigw.providers.anthropic import anthropic_request
from aigw.providers.base import ChatCall
from aigw.providers.bedrock_converse import converse_request
from aigw.providers.gemini import gemini_request

USER = [{"role": "user", "content": "think"}]


def test_anthropic_thinking_budget_fits_inside_max_tokens() -> None:
    out = anthropic_request({"messages": USER, "reasoning_effort": "medium"}, "m", 4096)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert out["max_tokens"] == 8192 + 4096  # no client limit: room to answer on top of the budget
    out = anthropic_request({"messages": USER, "reasoning_effort": "high", "max_completion_tokens": 6000}, "m", 4096)
    assert (out["thinking"]["budget_tokens"], out["max_tokens"]) == (3000, 6000)
    assert "thinking" not in anthropic_request({"messages": USER, "reasoning_effort": "none"}, "m", 10)
    forced = anthropic_request({"messages": USER, "reasoning_effort": "low", "response_format": {"type":
                                                                                               "json_object"}}, "m", 10)
    assert "thinking" not in forced  # Anthropic refuses thinking with a forced tool


@pytest.mark.parametrize("body", [{"reasoning_effort": "extreme"}, {"reasoning_effort": "low", "max_tokens": 1500}])
def test_unusable_reasoning_requests_are_400s(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        anthropic_request({"messages": USER, **body}, "m", 10)


def test_bedrock_claude_thinking_and_not_for_other_models() -> None:
    def request(model: str) -> dict[str, Any]:
        d = Deployment(provider="bedrock", model=model)
        return converse_request(ChatCall(body={"messages": USER, "reasoning_effort": "low"}, deployment=d,
                                         credential=None, request_id="r"))

    claude = request("us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert claude["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert claude["inferenceConfig"]["maxTokens"] == 2048 + 4096
    assert "additionalModelRequestFields" not in request("amazon.nova-pro-v1:0")


def test_gemini_thinking_budget() -> None:
    out = gemini_request({"messages": USER, "reasoning_effort": "high"}, None)
    assert out["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 24576}}
