"""A hit costs nothing against budgets and rate limits: the cache stage answers before
admission, so nothing is reserved or counted there, while the log line still counts it."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import openai
import pytest

from aigw.budgets.spec import Budget
from tests.functional.budgets.helpers import budget_items, put_scope_limits
from tests.functional.cache.test_exact_cache import QUESTION, config


def test_a_hit_is_served_past_an_exhausted_rate_limit_and_charges_no_budget(
        make_gateway: Any, fake_openai: Any, local_aws: Any) -> None:
    team = f"team-{uuid.uuid4().hex[:8]}"
    put_scope_limits(local_aws, "team", team, rpm=1, budgets=[Budget(period="month", limit_usd=Decimal("10"))])
    gw = make_gateway(config(fake_openai.base_url))
    client = openai.OpenAI(base_url=gw.base_url, api_key=gw.create_key(team=team), max_retries=0)

    def ask(text: str = QUESTION[-1]["content"]) -> Any:
        return client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[QUESTION[0], {"role": "user", "content": text}], temperature=0)

    first = ask()
    spent = budget_items(local_aws, "team", team)
    assert first.headers["x-aigw-cache"] == "miss" and spent
    hit = ask()  # the team's one request a minute is used up, yet the answer is cached
    assert hit.headers["x-aigw-cache"] == "hit"
    assert budget_items(local_aws, "team", team) == spent  # nothing reserved, nothing charged
    assert gw.last_record(2)["input_tokens"] > 0  # still counted in usage
    with pytest.raises(openai.RateLimitError):
        ask("something not cached yet")
