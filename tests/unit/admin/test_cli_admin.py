"""The admin CLI's pure parts: durations, budgets, tables, and how it authenticates."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from aigw.cli import CliError
from aigw.cli.admin import parse_budgets, parse_duration, table
from aigw.cli.admin_client import AdminClient, is_local


def test_durations() -> None:
    assert parse_duration("30d") == 30 * 86400
    assert parse_duration("1.5h") == 5400
    assert parse_duration("2w") == 14 * 86400
    with pytest.raises(CliError, match="30d"):
        parse_duration("soon")


def test_budget_flags_merge() -> None:
    assert parse_budgets(["50usd/month", "2000000tokens/day", "1mtokens/month"]) == [
        {"period": "day", "limit_tokens": 2_000_000},
        {"period": "month", "limit_usd": "50", "limit_tokens": 1_000_000},
    ]
    with pytest.raises(CliError, match="cannot read the budget"):
        parse_budgets(["fifty"])


def test_table_aligns_columns() -> None:
    out = io.StringIO()
    table([{"team": "a", "cost_usd": "1.5"}, {"team": "research", "cost_usd": None}],
          [("team", "TEAM"), ("cost_usd", "COST_USD")], out=out)
    assert out.getvalue().splitlines() == ["TEAM      COST_USD", "a         1.5", "research  -"]


def test_local_gateway_gets_the_admin_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"teams": []})

    client = AdminClient("http://127.0.0.1:8080", token="tok", transport=httpx.MockTransport(handler))
    assert client.request("GET", "/admin/teams") == {"teams": []}
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert is_local("http://localhost:1") and not is_local("https://x.execute-api.eu-west-1.amazonaws.com/prod")


def test_deployed_gateway_gets_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "t"})

    url = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    client = AdminClient(url, token=None, transport=httpx.MockTransport(handler))
    client.request("POST", "/admin/teams", body={"id": "t"})
    auth = seen[0].headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in auth and "x-amz-date" in seen[0].headers
    assert json.loads(seen[0].content) == {"id": "t"}


def test_error_envelope_becomes_one_line() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"type": "invalid_request_error", "code": "validation_error",
                                                   "message": "invalid id: bad", "details": [
                                                       {"field": "id", "message": "bad"}]}})

    client = AdminClient("http://127.0.0.1:1", token="t", transport=httpx.MockTransport(handler))
    with pytest.raises(CliError, match=r"invalid id: bad \(400 validation_error\)"):
        client.request("POST", "/admin/teams", body={})
    with pytest.raises(CliError, match="must start with http"):
        AdminClient("ftp://x")
