"""`aigw teams|keys|budgets|usage` against a running gateway, as a user types them."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from aigw.cli import main
from tests.functional.admin.conftest import ADMIN_TOKEN, AdminGateway


@pytest.fixture
def cli(admin_gw: AdminGateway, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    monkeypatch.setenv("AIGW_URL", admin_gw.url)
    monkeypatch.setenv("AIGW_ADMIN_TOKEN", ADMIN_TOKEN)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_teams_keys_budgets_usage(cli: Any, admin_gw: AdminGateway) -> None:
    team = "cli-" + uuid.uuid4().hex[:6]
    code, out, _ = cli("teams", "create", team, "--budget", "50usd/month", "--rpm", "600")
    assert code == 0 and team in out and "50usd/month" in out
    code, out, _ = cli("teams", "list")
    assert code == 0 and re.search(rf"^{team}\s", out, re.M)

    code, out, err = cli("keys", "create", "--team", team, "--project", "web", "--models", "mock-*,gpt-4o*",
                         "--budget", "5usd/month", "--budget", "2000000tokens/day", "--rpm", "60", "--tpm", "100000",
                         "--expires", "30d")
    assert code == 0, err
    key = out.strip()
    assert re.fullmatch(r"sk-aigw-[A-Za-z0-9_-]{32,}", key)  # alone on its line
    key_id = re.search(r"created key (key_\w+)", err).group(1)  # type: ignore[union-attr]
    assert admin_gw.chat(key).status_code == 200

    code, out, _ = cli("keys", "list", "--team", team)
    assert code == 0 and key_id in out and key not in out and "2000000tokens/day,5usd/month" in out
    code, out, _ = cli("keys", "show", key_id)
    assert code == 0 and '"project": "web"' in out and key not in out

    code, out, _ = cli("budgets", "set", "team", team, "--budget", "20usd/week")
    assert code == 0 and "20usd/week" in out
    code, out, _ = cli("budgets", "show", "key", key_id)
    assert code == 0 and "REMAINING_USD" in out and "month" in out

    code, out, _ = cli("usage", "--by", "team")
    assert code == 0 and re.search(rf"^{team}\s+1\s", out, re.M) and "COST_USD" in out
    code, out, _ = cli("usage", "--by", "key")
    assert code == 0 and key_id in out

    code, out, err = cli("keys", "rotate", key_id, "--grace", "1h")
    new_key = out.strip()
    assert code == 0 and new_key != key and new_key.startswith("sk-aigw-") and "works until" in err
    code, out, _ = cli("keys", "revoke", key_id)
    assert code == 0 and "revoked" in out
    assert admin_gw.chat(new_key).status_code == 401


def test_clear_failures(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli("keys", "create", "--team", "no-such-team-" + uuid.uuid4().hex[:4])
    assert code == 1 and "does not exist" in err and "404" in err
    code, _, err = cli("keys", "create", "--team", "x", "--budget", "lots")
    assert code == 1 and "cannot read the budget 'lots'" in err
    code, _, err = cli("keys", "create", "--team", "x", "--expires", "soon")
    assert code == 1 and "duration" in err
    code, _, err = cli("budgets", "set", "team", "x")
    assert code == 1 and "--budget" in err
    monkeypatch.setenv("AIGW_ADMIN_TOKEN", "wrong")
    code, _, err = cli("teams", "list")
    assert code == 1 and "admin token" in err and "401" in err
    code, _, err = cli("teams", "list", "--url", "http://127.0.0.1:9")
    assert code == 1 and "cannot reach the gateway at http://127.0.0.1:9" in err
    monkeypatch.delenv("AIGW_ADMIN_TOKEN")
    code, _, err = cli("teams", "list")
    assert code == 1 and "AIGW_ADMIN_TOKEN" in err


ISO = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"


def test_keys_create_json_and_a_chosen_id(cli: Any, admin_gw: AdminGateway) -> None:
    import json

    team = "cli-" + uuid.uuid4().hex[:6]
    assert cli("teams", "create", team)[0] == 0
    key_id = "key_" + uuid.uuid4().hex[:10]
    code, out, err = cli("keys", "create", "--team", team, "--id", key_id, "--models", "mock-*", "--expires", "1d",
                         "--json")
    assert code == 0, err
    created = json.loads(out)
    assert created["id"] == key_id and created["key"].startswith("sk-aigw-") and created["models"] == ["mock-*"]
    assert re.fullmatch(ISO, created["created_at"]) and re.fullmatch(ISO, created["expires_at"])
    assert admin_gw.chat(created["key"]).status_code == 200
    code, out, _ = cli("keys", "create", "--team", team, "--id", key_id, "--models", "mock-*", "--expires", "1d",
                       "--json")
    assert code == 0 and json.loads(out)["key"] is None  # a repeat: the secret is never shown twice

    code, out, _ = cli("keys", "list", "--team", team)
    assert code == 0 and re.search(rf"{key_id}\s.*\s{ISO}$", out, re.M)  # EXPIRES in ISO 8601
    code, out, _ = cli("keys", "show", key_id)
    assert re.search(rf'"created_at": "{ISO}"', out)
    code, out, err = cli("keys", "rotate", key_id, "--grace", "1h")
    assert code == 0 and re.search(rf"works until {ISO}", err)
    code, out, _ = cli("teams", "list")
    assert re.search(rf"^{team}\s.*{ISO}$", out, re.M)


def test_budgets_show_names_the_scope_once(cli: Any) -> None:
    assert cli("budgets", "set", "global", "--budget", "5000usd/month")[0] == 0
    try:
        code, out, _ = cli("budgets", "show", "global")
    finally:  # the tables are shared by the whole session: leave no global budget behind
        assert cli("budgets", "set", "global", "--clear")[0] == 0
    header, columns, row = out.splitlines()[:3]
    assert code == 0 and header.startswith("budgets of global (rpm: -") and "global global" not in out
    assert columns.split()[:3] == ["PERIOD", "CURRENT", "LIMIT_USD"] and columns.split()[-1] == "RESETS"
    assert row.split()[0] == "month" and re.search(ISO + "$", row)
    team = "cli-" + uuid.uuid4().hex[:6]
    cli("teams", "create", team, "--budget", "5usd/day")
    code, out, _ = cli("budgets", "show", "team", team)
    assert out.startswith(f"budgets of team {team} (")
