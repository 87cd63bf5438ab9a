"""What server tools bill beyond tokens is priced: Anthropic's public prices, overridable."""

from __future__ import annotations

import pytest

from aigw.pricing.cost import Price, Usage, cost_usd
from aigw.providers.anthropic import openai_completion

PRICE = Price(input_per_mtok=3, output_per_mtok=15)


def test_web_searches_cost_ten_dollars_per_thousand() -> None:
    result = openai_completion({"type": "message", "stop_reason": "end_turn", "content": [
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
        {"type": "text", "text": "found"}],
        "usage": {"input_tokens": 1000, "output_tokens": 100, "server_tool_use": {"web_search_requests": 3}}})
    assert result.usage is not None and result.usage.server_tool_uses == {"web_search": 3}
    tokens = (1000 * 3 + 100 * 15) / 1_000_000
    assert cost_usd(result.usage, PRICE) == pytest.approx(tokens + 0.03)
    assert result.body["choices"][0]["message"]["content"] == "found"


def test_code_execution_is_charged_per_container_and_prices_can_be_overridden() -> None:
    result = openai_completion({"type": "message", "stop_reason": "end_turn", "container": {"id": "container_1"},
                                "content": [{"type": "text", "text": "4"}], "usage": {"input_tokens": 0,
                                                                                      "output_tokens": 0}})
    assert result.usage is not None and result.usage.server_tool_uses == {"code_execution": 1}
    assert cost_usd(result.usage, PRICE) == pytest.approx(0.05 / 12)
    custom = Price(input_per_mtok=3, output_per_mtok=15, server_tool_per_use={"code_execution": 0.5})
    assert cost_usd(result.usage, custom) == pytest.approx(0.5)
    assert cost_usd(Usage(server_tool_uses={"web_search": -5}), PRICE) == 0  # a negative count refunds nothing
