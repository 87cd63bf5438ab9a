"""Budget alerts under concurrency: 200 requests racing across 50% and 80% of a budget (and 120
on a hot team's, spread over shards) send exactly one alert per threshold, through the same
serialized moto DynamoDB as the budget races and a real EventBridge bus (moto's) whose rule
is the pattern the stack routes to SNS."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from decimal import Decimal
from typing import Any

import boto3
import pytest

from aigw.budgets import periods
from aigw.budgets.counters import budget_pk
from aigw.budgets.spec import Budget
from aigw.names import ALERT_EVENT_PATTERN
from tests.functional.budgets.helpers import (
    budget_items,
    key_id_of,
    put_scope_limits,
    run_load,
    shard_snapshots,
    snapshots,
)
from tests.functional.fuzz.moto_process import local_aws_in_a_child  # noqa: F401 (local_aws, in a child)

pytestmark = pytest.mark.slow


TOTAL = 200
MAX_TOKENS = 4
# Output priced low: the prompt (known in advance) is most of the cost, so each request costs
# about 90% of its reservation, and a budget that admits them all is past 80% at the end.
PRICE = {"input_per_mtok": 600, "output_per_mtok": 60}


class Bus:
    """moto's EventBridge default bus, with a rule of ALERT_EVENT_PATTERN delivering to a queue."""

    def __init__(self, local: Any) -> None:
        session = boto3.session.Session(region_name="us-east-1")
        self.events = session.client("events", endpoint_url=local.moto.url)
        self.sqs = session.client("sqs", endpoint_url=local.moto.url)
        name = "alerts-" + uuid.uuid4().hex[:8]
        self.queue = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name=name, EventPattern=json.dumps(ALERT_EVENT_PATTERN))
        self.events.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": arn}])

    def received(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages") or []
            if not messages:
                return out
            for m in messages:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def bus(local_aws: Any) -> Bus:
    return Bus(local_aws)


@pytest.fixture
def gw(make_gateway: Any, local_aws: Any, bus: Bus, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(local_aws.aws, "events", bus.events)  # an injected client: alerts go to EventBridge
    return make_gateway({"models": [
        {"name": "cheap", "price": PRICE, "deployments": [{"provider": "mock", "model": "mock-fast"}]},
        {"name": "cheap-stream", "price": PRICE, "deployments": [{"provider": "mock", "model": "mock-stream"}]},
    ]})


def alert_lines(gw: Any) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in gw.log.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "budget_alert"]


async def drained(gw: Any) -> None:
    await gw.services.pipeline.stages[-1].alert_sender.drain()


def worst_case(gw: Any) -> Decimal:
    """One request's reservation, as the gateway computes it (read from its log line)."""
    key = gw.create_key(team="probe-" + uuid.uuid4().hex[:6], budgets=[Budget(limit_usd=Decimal(1000))])
    asyncio.run(run_load(gw.url, [(key, "cheap", False, False)], max_tokens=MAX_TOKENS))
    record = gw.last_record()
    gw.records.clear()
    return Decimal(record["reserved_usd"])


def plan(key: str) -> list[tuple[str, str, bool, bool]]:
    return [(key, "cheap-stream" if i % 3 == 0 else "cheap", i % 3 == 0, False) for i in range(TOTAL)]


def race(gw: Any, load: list[tuple[str, str, bool, bool]], scope: str, scope_id: str,
         limit: Decimal) -> list[dict[str, Any]]:
    """Run the load; check the counter stayed exact and holds both thresholds; the records
    of the requests that sent an alert."""
    outcomes = asyncio.run(run_load(gw.url, load, max_tokens=MAX_TOKENS, spread_s=1.0))
    assert all(o.status == 200 for o in outcomes), [o for o in outcomes if o.status != 200][:3]
    gw.last_record(TOTAL, timeout=30)
    items = budget_items(gw.local, scope, scope_id)
    (snap,) = snapshots(items)
    charged = [Decimal(r["charged_usd"]) for r in gw.records]
    assert snap.spent_usd == sum(charged) and snap.reserved_usd == 0  # settlements stay exact
    assert Decimal("0.8") * limit <= snap.spent_usd < limit  # the run crosses 50% and 80%, not 100%
    assert snap.alerted == {"usd:50", "usd:80"}
    return [r for r in gw.records if r.get("alerts")]


def test_200_concurrent_requests_crossing_50_and_80_percent_send_exactly_two_alerts(gw: Any, bus: Bus) -> None:
    limit = worst_case(gw) * (TOTAL + 1)  # every request admitted: the race is the settlements'
    key = gw.create_key(team="alerts-" + uuid.uuid4().hex[:6],
                        budgets=[Budget(period="month", limit_usd=limit, alert_at_percent=[50, 80, 100])])
    key_id = key_id_of(gw, key)
    winners = race(gw, plan(key), "key", key_id, limit)

    lines = alert_lines(gw)
    assert sorted(line["threshold"] for line in lines) == [50, 80], lines
    assert len(winners) == 2 and {w["request_id"] for w in winners} == {line["request_id"] for line in lines}
    for line in lines:
        assert (line["scope"], line["id"], line["unit"], line["period_type"]) == ("key", key_id, "usd", "month")
        assert Decimal(str(line["limit"])) == limit
        assert Decimal(str(line["spent"])) >= limit * line["threshold"] / 100  # reached when it was sent

    asyncio.run(drained(gw))
    events = bus.received()
    assert sorted(e["detail"]["threshold"] for e in events) == [50, 80]
    assert all(e["source"] == "aigw" and e["detail-type"] == "aigw.budget.threshold" for e in events)
    assert {e["detail"]["request_id"] for e in events} == {line["request_id"] for line in lines}

    # Once per period: more spend past a sent threshold sends nothing again.
    gw.records.clear()
    asyncio.run(run_load(gw.url, plan(key)[:10], max_tokens=MAX_TOKENS))
    gw.last_record(10)
    asyncio.run(drained(gw))
    assert len(alert_lines(gw)) == 2 and bus.received() == []
    print(f"\nalerts: {TOTAL} concurrent requests, budget ${limit}, {len(lines)} alerts "
          f"({sorted(line['threshold'] for line in lines)}), {len(events)} events")


def test_a_team_budget_shared_by_keys_alerts_once_per_threshold(gw: Any, bus: Bus) -> None:
    team = "alerts-team-" + uuid.uuid4().hex[:6]
    limit = worst_case(gw) * (TOTAL + 1)
    put_scope_limits(gw.local, "team", team, budgets=[Budget(period="day", limit_usd=limit, alert_at_percent=[50, 80])])
    keys = [gw.create_key(team=team) for _ in range(4)]
    load = [(keys[i % 4], model, stream, leave) for i, (_, model, stream, leave) in enumerate(plan(keys[0]))]
    winners = race(gw, load, "team", team, limit)
    assert len(winners) == 2
    assert sorted((line["scope"], line["threshold"], line["period_type"]) for line in alert_lines(gw)) == [
        ("team", 50, "day"), ("team", 80, "day")]
    asyncio.run(drained(gw))
    assert sorted(e["detail"]["threshold"] for e in bus.received()) == [50, 80]


HOT_SHARDS = 4
HOT_TOTAL = 120


def test_a_hot_team_budget_over_shards_alerts_once_per_threshold(make_gateway: Any, local_aws: Any, bus: Bus,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The same race on a hot team (its budget spread over 4 shards, budgets/hot_alerts.py): no
    one write sees the total, yet 50% and 80% are each sent once, by one request."""
    monkeypatch.setattr(local_aws.aws, "events", bus.events)
    team = "alerts-hot-" + uuid.uuid4().hex[:6]
    gw = make_gateway({"models": [
        {"name": "cheap", "price": PRICE, "deployments": [{"provider": "mock", "model": "mock-fast"}]},
        {"name": "cheap-stream", "price": PRICE, "deployments": [{"provider": "mock", "model": "mock-stream"}]},
    ], "budgets": {"hot_scopes": [f"team:{team}"], "shards": HOT_SHARDS}})
    limit = worst_case(gw) * (HOT_TOTAL + 1)
    put_scope_limits(gw.local, "team", team, budgets=[Budget(period="day", limit_usd=limit, alert_at_percent=[50, 80])])
    keys = [gw.create_key(team=team) for _ in range(3)]
    load = [(keys[i % 3], model, stream, leave) for i, (_, model, stream, leave) in enumerate(plan(keys[0]))]
    outcomes = asyncio.run(run_load(gw.url, load[:HOT_TOTAL], max_tokens=MAX_TOKENS, spread_s=0.5))
    assert all(o.status == 200 for o in outcomes), [o for o in outcomes if o.status != 200][:3]
    gw.last_record(HOT_TOTAL, timeout=30)
    pk, sk = budget_pk("team", team), periods.period_key("day", time.time())
    shards = shard_snapshots(gw.local, pk, sk, HOT_SHARDS)
    spent = sum((s.spent_usd for s in shards), Decimal(0))
    assert len(shards) == HOT_SHARDS and spent == sum(Decimal(r["charged_usd"]) for r in gw.records)
    assert Decimal("0.8") * limit <= spent < limit and sum(s.reserved_usd for s in shards) == 0
    assert set().union(*(s.alerted for s in shards)) == {"usd:50", "usd:80"}  # on shard 0 alone

    lines = alert_lines(gw)
    assert sorted((line["scope"], line["id"], line["threshold"]) for line in lines) == [
        ("team", team, 50), ("team", team, 80)]
    # One request per threshold; one check may find both reached (then one request sends both).
    winners = [r for r in gw.records if r.get("alerts")]
    assert sum(len(w["alerts"]) for w in winners) == 2
    assert {w["request_id"] for w in winners} == {line["request_id"] for line in lines}
    for line in lines:
        assert Decimal(str(line["spent"])) >= limit * line["threshold"] / 100  # the total, when it was sent
    asyncio.run(drained(gw))
    assert sorted(e["detail"]["threshold"] for e in bus.received()) == [50, 80]
