"""The admin spend view reads a scope's counters through the Counter abstraction, all in one
BatchGetItem, and takes limits from the service's public operations only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from aigw.admin.spend import Spend

NOW = dt.datetime(2026, 11, 25, 16, 5, 30, tzinfo=dt.UTC).timestamp()


class Client:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.batches: list[dict[str, Any]] = []
        self.queries: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.batches.append(RequestItems)
        (table, request), = RequestItems.items()
        wanted = {(k["pk"], k["sk"]) for k in request["Keys"]}
        return {"Responses": {table: [i for i in self.items if (i["pk"], i["sk"]) in wanted]}}

    def query(self, **kwargs: Any) -> dict[str, Any]:
        self.queries.append(kwargs)
        pk, prefix = kwargs["ExpressionAttributeValues"][":pk"], kwargs["ExpressionAttributeValues"][":dim"]
        return {"Items": [i for i in self.items if i["pk"] == pk and i["sk"].startswith(prefix)]}


class Table:
    name = "counters"

    def __init__(self, client: Client) -> None:
        self.meta = type("Meta", (), {"client": client})()


class Service:
    """Only the public operations Spend may use."""

    def get_key(self, key_id: str) -> dict[str, Any]:
        return {"budgets": [{"period": "day", "limit_usd": "2.5", "limit_tokens": None},
                            {"period": "month", "limit_usd": None, "limit_tokens": 1000}], "rpm": 60, "tpm": None}

    def get_team(self, team_id: str) -> dict[str, Any]:
        return {"budgets": [], "rpm": None, "tpm": None}


def test_budgets_are_read_in_one_batch() -> None:
    client = Client([
        {"pk": "BUDGET#key#key_1", "sk": "2026-11-25", "held_pusd": Decimal(10**12), "spent_pusd": Decimal(10**12)},
        {"pk": "BUDGET#key#key_1", "sk": "2026-11", "held_tokens": Decimal(400), "spent_tokens": Decimal(300),
         "reserved_tokens": Decimal(100)},
        {"pk": "RATE#key#key_1", "sk": "m#2026-11-25T16:05", "requests": Decimal(7), "held_tokens": Decimal(70)},
    ])
    spend = Spend(Service(), lambda: None, lambda: Table(client), clock=lambda: NOW)  # type: ignore[arg-type]
    view = spend.get_budgets("key", "key_1")
    assert len(client.batches) == 1 and len(client.batches[0]["counters"]["Keys"]) == 3
    day, month = view["budgets"]
    assert day["spent_usd"] == "1" and day["remaining_usd"] == "1.5"
    assert month["spent_tokens"] == 300 and month["reserved_tokens"] == 100 and month["remaining_tokens"] == 600
    assert view["rate_window"] == {"window": "2026-11-25T16:05", "requests": 7, "tokens": 70,
                                   "resets_at": NOW - 30 + 60}


def test_usage_sums_shards_through_the_counters_module() -> None:
    client = Client([{"pk": "USAGE#2026-11", "sk": f"team#t1#{s}", "requests": Decimal(2), "input_tokens": Decimal(5),
                      "output_tokens": Decimal(1), "cost_pusd": Decimal(10**9)} for s in range(3)])
    spend = Spend(Service(), lambda: None, lambda: Table(client), clock=lambda: NOW)  # type: ignore[arg-type]
    usage = spend.usage(by="team")
    assert usage["rows"] == [{"team": "t1", "requests": 6, "input_tokens": 15, "output_tokens": 3,
                              "cost_usd": "0.003"}]
    assert usage["total"] == {"requests": 6, "cost_usd": "0.003"}


def test_a_sharded_budget_is_summed_over_every_shard_with_no_config() -> None:
    # A hot scope's month budget on 4 shards (shard 0 is the plain item and knows the span); the
    # admin service has no gateway config, so it learns the shards from shard 0.
    shard0 = {"pk": "BUDGET#key#key_1", "sk": "2026-11", "span": Decimal(4), "lay": "4/-/1000/-",
              "held_tokens": Decimal(250), "spent_tokens": Decimal(100), "reserved_tokens": Decimal(50)}
    others = [{"pk": f"BUDGET#key#key_1#{i}", "sk": "2026-11", "lay": "4/-/1000/-", "held_tokens": Decimal(h),
               "spent_tokens": Decimal(s), "reserved_tokens": Decimal(r)}
              for i, h, s, r in ((1, -50, 50, 0), (2, 100, 80, 20), (3, 0, 0, 0))]  # loans move held, not spend
    client = Client([shard0, *others])
    spend = Spend(Service(), lambda: None, lambda: Table(client), clock=lambda: NOW)  # type: ignore[arg-type]
    _, month = spend.get_budgets("key", "key_1")["budgets"]
    assert len(client.batches) == 2  # the items it knew of, then the shards shard 0 named
    assert month["spent_tokens"] == 230 and month["reserved_tokens"] == 70 and month["remaining_tokens"] == 700
