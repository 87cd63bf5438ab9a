"""Alert thresholds and end-user limits from the command line and the admin API: set, shown,
validated (bad input is a 400 in the admin envelope, or one CLI line), and usage by end user."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import openai

from tests.functional.admin.conftest import AdminGateway
from tests.functional.admin.test_cli import cli  # noqa: F401  (the fixture)


def test_alerts_on_budgets_set_teams_create_and_keys_create(cli: Any, admin_gw: AdminGateway) -> None:  # noqa: F811
    team = "alerts-" + uuid.uuid4().hex[:6]
    code, out, err = cli("teams", "create", team, "--budget", "50usd/month", "--alert", "80")
    assert code == 0, err
    assert admin_gw.admin("GET", f"/admin/teams/{team}").json()["budgets"][0]["alert_at_percent"] == [80]

    code, out, err = cli("budgets", "set", "team", team, "--budget", "500usd/month", "--alert", "50,80,100")
    assert code == 0 and "500usd/month" in out, err
    code, out, _ = cli("budgets", "show", "team", team, "--json")
    (budget,) = json.loads(out)["budgets"]
    assert budget["alert_at_percent"] == [50, 80, 100] and budget["alerted"] == []

    code, out, err = cli("keys", "create", "--team", team, "--budget", "5usd/day", "--budget", "1mtokens/day",
                         "--alert", "90", "--end-user-rpm", "20", "--end-user-tpm", "10000")
    assert code == 0, err
    key_id = re.search(r"created key (key_\w+)", err).group(1)  # type: ignore[union-attr]
    code, out, _ = cli("keys", "show", key_id)
    shown = json.loads(out)
    assert shown["end_user_rpm"] == 20 and shown["end_user_tpm"] == 10000
    assert shown["budgets"] == [{"period": "day", "limit_usd": "5", "limit_tokens": 1000000, "alert_at_percent": [90]}]


def test_bad_alerts_and_end_user_limits_are_clear_errors(cli: Any, admin_gw: AdminGateway) -> None:  # noqa: F811
    code, _, err = cli("keys", "create", "--team", "x", "--alert", "50")
    assert code == 1 and "--alert needs a --budget" in err
    code, _, err = cli("budgets", "set", "team", "x", "--budget", "5usd/month", "--alert", "150")
    assert code == 1 and "from 1 to 100, not 150" in err
    code, _, err = cli("keys", "create", "--team", "x", "--budget", "5usd/month", "--alert", "half")
    assert code == 1 and "cannot read the alert thresholds 'half'" in err

    team = "alerts-bad-" + uuid.uuid4().hex[:6]
    assert admin_gw.admin("POST", "/admin/teams", json={"id": team}).status_code == 201
    bad = admin_gw.admin("PUT", f"/admin/budgets/team/{team}",
                         json={"budgets": [{"limit_usd": 5, "alert_at_percent": [0, 50]}]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    assert "from 1 to 100" in bad.json()["error"]["message"]
    for field in ("end_user_rpm", "end_user_tpm"):
        bad = admin_gw.admin("POST", "/admin/keys", json={"team": team, field: 0})
        assert bad.status_code == 400 and field in bad.json()["error"]["message"]


def test_usage_by_user_from_the_api_and_the_cli(cli: Any, admin_gw: AdminGateway) -> None:  # noqa: F811
    team = "usage-users-" + uuid.uuid4().hex[:6]
    cli("teams", "create", team)
    _, out, _ = cli("keys", "create", "--team", team)
    key = out.strip()
    sdk = openai.OpenAI(base_url=admin_gw.url + "/v1", api_key=key, max_retries=0)
    for user in ("ann", "ann", "ben"):
        sdk.chat.completions.create(model="mock-fast", messages=[{"role": "user", "content": "hi"}], user=user)
    usage = admin_gw.admin("GET", "/admin/usage", params={"by": "user"}).json()
    rows = [r for r in usage["rows"] if r["team"] == team]
    assert sorted((r["user"], r["requests"]) for r in rows) == [("ann", 2), ("ben", 1)]
    code, out, _ = cli("usage", "--by", "user")
    assert code == 0 and re.search(rf"^ann\s+{team}\s+2\s", out, re.M) and "TEAM" in out
    bad = admin_gw.admin("GET", "/admin/usage", params={"by": "end_user"})
    assert bad.status_code == 400 and "team, key, model or user" in bad.json()["error"]["message"]
