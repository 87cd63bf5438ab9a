"""The admin API as `aigw dev` serves it: teams, keys (shown once, rotated, revoked), budgets,
usage; validation and the one error envelope; retry-safe creates; the bearer admin token."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from tests.functional.admin.conftest import AdminGateway


def team_id() -> str:
    return "team-" + uuid.uuid4().hex[:8]


def make_team(gw: AdminGateway, **body: Any) -> str:
    tid = team_id()
    response = gw.admin("POST", "/admin/teams", json={"id": tid, **body})
    assert response.status_code == 201, response.text
    return tid


def make_key(gw: AdminGateway, team: str, **body: Any) -> dict[str, Any]:
    response = gw.admin("POST", "/admin/keys", json={"team": team, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]
    return dict(error)


def test_admin_token_is_required(admin_gw: AdminGateway) -> None:
    assert_error(admin_gw.admin("GET", "/admin/teams", token=None), 401, "invalid_admin_token")
    assert_error(admin_gw.admin("GET", "/admin/teams", token="wrong"), 401, "invalid_admin_token")
    assert admin_gw.admin("GET", "/admin/teams").status_code == 200


def test_teams_crud_and_retry_safe_create(admin_gw: AdminGateway) -> None:
    tid = team_id()
    body = {"id": tid, "name": "Research", "budgets": [{"period": "month", "limit_usd": 50}], "rpm": 60}
    first = admin_gw.admin("POST", "/admin/teams", json=body)
    assert first.status_code == 201
    assert first.json()["budgets"] == [{"period": "month", "limit_usd": "50", "limit_tokens": None,
                                          "alert_at_percent": []}]
    again = admin_gw.admin("POST", "/admin/teams", json=body)
    assert again.status_code == 200 and again.json()["id"] == tid  # a retried create is harmless
    assert_error(admin_gw.admin("POST", "/admin/teams", json={**body, "rpm": 5}), 409, "team_exists")
    assert tid in [t["id"] for t in admin_gw.admin("GET", "/admin/teams").json()["teams"]]
    patched = admin_gw.admin("PATCH", f"/admin/teams/{tid}", json={"tpm": 1000, "name": "R&D"}).json()
    assert patched["tpm"] == 1000 and patched["name"] == "R&D" and patched["rpm"] == 60
    assert admin_gw.admin("GET", f"/admin/teams/{tid}").json()["tpm"] == 1000
    assert admin_gw.admin("DELETE", f"/admin/teams/{tid}").status_code == 200
    assert_error(admin_gw.admin("GET", f"/admin/teams/{tid}"), 404, "team_not_found")


def test_validation_errors_use_the_envelope(admin_gw: AdminGateway) -> None:
    error = assert_error(admin_gw.admin("POST", "/admin/teams", json={"id": "bad id!"}), 400, "validation_error")
    assert error["details"][0]["field"] == "id"
    assert_error(admin_gw.admin("POST", "/admin/teams", content=b"{not json"), 400, "invalid_json")
    assert_error(admin_gw.admin("POST", "/admin/teams", json={"id": "x", "budgets": [{"period": "month"}]}),
                 400, "validation_error")
    assert_error(admin_gw.admin("POST", "/admin/teams", json={"id": "x", "surprise": 1}), 400, "validation_error")
    assert_error(admin_gw.admin("POST", "/admin/keys", json={"team": "no-such-team"}), 404, "team_not_found")
    assert_error(admin_gw.admin("GET", "/admin/usage?by=planet"), 400, "invalid_usage_dimension")
    assert_error(admin_gw.admin("GET", "/admin/usage?period=2026-13"), 400, "invalid_period")
    assert_error(admin_gw.admin("PUT", "/admin/budgets/galaxy/x", json={"budgets": []}), 404, "unknown_scope")


def test_key_is_shown_once_and_works(admin_gw: AdminGateway) -> None:
    tid = make_team(admin_gw)
    created = make_key(admin_gw, tid, name="ci", models=["mock-*"], metadata={"owner": "ana"})
    secret = created["key"]
    assert re.fullmatch(r"sk-aigw-[A-Za-z0-9_-]{32,}", secret)
    assert created["prefix"] == secret[:12] and created["status"] == "active"
    shown = admin_gw.admin("GET", f"/admin/keys/{created['id']}").json()
    listed = admin_gw.admin("GET", f"/admin/keys?team={tid}").json()["keys"]
    assert [k["id"] for k in listed] == [created["id"]]
    for view in (shown, *listed):
        assert "key" not in view and secret not in str(view) and "key_hash" not in view
        assert view["metadata"] == {"owner": "ana"}
    assert admin_gw.chat(secret).status_code == 200
    assert admin_gw.chat(secret, model="gpt-4o-mini").status_code == 403  # not in the key's models


def test_key_create_is_retry_safe(admin_gw: AdminGateway) -> None:
    tid = make_team(admin_gw)
    idem = uuid.uuid4().hex
    first = admin_gw.admin("POST", "/admin/keys", json={"team": tid}, headers={"idempotency-key": idem})
    assert first.status_code == 201 and first.json()["key"]
    again = admin_gw.admin("POST", "/admin/keys", json={"team": tid}, headers={"idempotency-key": idem})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] and again.json()["key"] is None
    assert len(admin_gw.admin("GET", f"/admin/keys?team={tid}").json()["keys"]) == 1
    other = admin_gw.admin("POST", "/admin/keys", json={"team": tid, "rpm": 3}, headers={"idempotency-key": idem})
    assert_error(other, 409, "key_exists")
    by_id = {"team": tid, "id": "key_client_chosen_" + uuid.uuid4().hex[:6]}
    assert admin_gw.admin("POST", "/admin/keys", json=by_id).status_code == 201
    assert admin_gw.admin("POST", "/admin/keys", json=by_id).status_code == 200


def test_update_revoke_and_expiry(admin_gw: AdminGateway) -> None:
    tid = make_team(admin_gw)
    key = make_key(admin_gw, tid)
    assert admin_gw.chat(key["key"], model="gpt-4o-mini").status_code == 200
    patched = admin_gw.admin("PATCH", f"/admin/keys/{key['id']}", json={"models": ["mock-fast"], "rpm": 100})
    assert patched.json()["models"] == ["mock-fast"] and patched.json()["rpm"] == 100
    assert admin_gw.chat(key["key"], model="gpt-4o-mini").status_code == 403  # same process: cache dropped
    assert_error(admin_gw.admin("DELETE", f"/admin/teams/{tid}"), 409, "team_has_keys")
    revoked = admin_gw.admin("POST", f"/admin/keys/{key['id']}/revoke").json()
    assert revoked["status"] == "revoked"
    response = admin_gw.chat(key["key"])
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
    expired = make_key(admin_gw, tid, expires_at=time.time() - 5)
    assert expired["status"] == "expired"
    response = admin_gw.chat(expired["key"])
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]
    short = make_key(admin_gw, tid, expires_in_s=3600)
    assert short["expires_at"] > time.time() + 3000
    assert_error(admin_gw.admin("GET", "/admin/keys/key_nope"), 404, "key_not_found")


def test_rotation_keeps_the_old_secret_for_the_grace_period(admin_gw: AdminGateway) -> None:
    tid = make_team(admin_gw)
    key = make_key(admin_gw, tid, budgets=[{"period": "day", "limit_usd": 1}])
    rotated = admin_gw.admin("POST", f"/admin/keys/{key['id']}/rotate", json={"grace_s": 3600}).json()
    assert rotated["id"] == key["id"] and rotated["key"] != key["key"] and rotated["prefix"] == rotated["key"][:12]
    assert rotated["budgets"] == key["budgets"]
    assert admin_gw.chat(key["key"]).status_code == 200  # old secret, in its grace period
    assert admin_gw.chat(rotated["key"]).status_code == 200
    assert len(admin_gw.admin("GET", f"/admin/keys?team={tid}").json()["keys"]) == 1
    # Rotating again with no grace: the secret before stops at once (here: the cache is dropped).
    third = admin_gw.admin("POST", f"/admin/keys/{key['id']}/rotate", json={"grace_s": 0}).json()
    assert admin_gw.chat(rotated["key"]).status_code == 401
    assert admin_gw.chat(third["key"]).status_code == 200
    assert admin_gw.chat(key["key"]).status_code == 200  # still in its own first grace period
    # Revoking the key revokes every secret it still has.
    admin_gw.admin("POST", f"/admin/keys/{key['id']}/revoke")
    assert admin_gw.chat(key["key"]).status_code == 401 and admin_gw.chat(third["key"]).status_code == 401


def test_budgets_set_show_and_enforced(admin_gw: AdminGateway) -> None:
    tid = make_team(admin_gw)
    key = make_key(admin_gw, tid)
    put = admin_gw.admin("PUT", f"/admin/budgets/team/{tid}",
                         json={"budgets": [{"period": "month", "limit_usd": "0.00001"},
                                           {"period": "day", "limit_tokens": 100000}]})
    assert put.status_code == 200, put.text
    shown = admin_gw.admin("GET", f"/admin/budgets/team/{tid}").json()
    assert [b["period"] for b in shown["budgets"]] == ["day", "month"]
    first = admin_gw.chat(key["key"], max_tokens=10)
    assert first.status_code == 200, first.text
    assert "x-aigw-budget-remaining-usd" in first.headers
    refused = admin_gw.chat(key["key"], max_tokens=10)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded" and f"team {tid!r}" in error["message"]
    assert int(refused.headers["retry-after"]) > 0
    month = admin_gw.admin("GET", f"/admin/budgets/team/{tid}").json()["budgets"][1]
    assert month["reserved_usd"] == "0" and month["requests"] == 1 and month["spent_usd"] != "0"
    # Key, project and global scopes.
    assert admin_gw.admin("PUT", f"/admin/budgets/key/{key['id']}",
                          json={"budgets": [{"period": "total", "limit_usd": 5}]}).status_code == 200
    assert admin_gw.admin("GET", f"/admin/keys/{key['id']}").json()["budgets"][0]["period"] == "total"
    assert admin_gw.admin("PUT", "/admin/budgets/project/p1",
                          json={"budgets": [{"period": "week", "limit_usd": 5}]}).status_code == 200
    glob = admin_gw.admin("GET", "/admin/budgets/global/global").json()
    assert glob["scope"] == "global"


def test_rate_limit_refusal(admin_gw: AdminGateway) -> None:
    tid = make_team(admin_gw, rpm=2)
    key = make_key(admin_gw, tid)
    statuses = [admin_gw.chat(key["key"], max_tokens=5) for _ in range(3)]
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    if statuses[2].status_code == 200:  # the minute rolled over between the calls: try once more
        statuses.append(admin_gw.chat(key["key"], max_tokens=5))
    refused = statuses[-1]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert f"team {tid!r}" in refused.json()["error"]["message"]
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert statuses[0].headers["x-ratelimit-remaining-requests"] in ("1", "0")


def test_usage_by_team_key_and_model(admin_gw: AdminGateway) -> None:
    tid = make_team(admin_gw)
    key = make_key(admin_gw, tid)
    for model in ("mock-fast", "mock-fast", "gpt-4o-mini"):
        assert admin_gw.chat(key["key"], model=model).status_code == 200
    by_team = admin_gw.admin("GET", "/admin/usage?by=team").json()
    row = next(r for r in by_team["rows"] if r["team"] == tid)
    assert row["requests"] == 3 and row["input_tokens"] > 0 and float(row["cost_usd"]) > 0
    by_key = admin_gw.admin("GET", "/admin/usage", params={"by": "key", "period": by_team["period"]}).json()
    assert next(r for r in by_key["rows"] if r["key"] == key["id"])["requests"] == 3
    by_model = admin_gw.admin("GET", "/admin/usage", params={"by": "model"}).json()
    assert {"mock-fast", "gpt-4o-mini"} <= {r["model"] for r in by_model["rows"]}
    mine = [r for r in admin_gw.records if r["key_id"] == key["id"]]
    assert sum(float(r["charged_usd"]) for r in mine) == float(row["cost_usd"])


def test_project_and_global_budgets_are_enforced(admin_gw: AdminGateway) -> None:
    tid = make_team(admin_gw)
    project = "proj-" + uuid.uuid4().hex[:6]
    key = make_key(admin_gw, tid, project=project)
    tiny = {"budgets": [{"period": "week", "limit_usd": "0.000001"}]}
    assert admin_gw.admin("PUT", f"/admin/budgets/project/{project}", json=tiny).status_code == 200
    refused = admin_gw.chat(key["key"], max_tokens=10)
    assert refused.status_code == 429 and f"project {project!r}" in refused.json()["error"]["message"]
    assert admin_gw.admin("PUT", f"/admin/budgets/project/{project}", json={"budgets": []}).status_code == 200
    assert admin_gw.chat(key["key"], max_tokens=10).status_code == 200
    try:
        assert admin_gw.admin("PUT", "/admin/budgets/global/global", json=tiny).status_code == 200
        refused = admin_gw.chat(key["key"], max_tokens=10)
        assert refused.status_code == 429 and "budget exceeded for global" in refused.json()["error"]["message"]
    finally:
        admin_gw.admin("PUT", "/admin/budgets/global/global", json={"budgets": []})
    assert admin_gw.chat(key["key"], max_tokens=10).status_code == 200


def test_old_secret_stops_when_its_grace_ends(admin_gw: AdminGateway) -> None:
    tid = make_team(admin_gw)
    key = make_key(admin_gw, tid)
    assert admin_gw.chat(key["key"]).status_code == 200  # cached by the gateway from here on
    rotated = admin_gw.admin("POST", f"/admin/keys/{key['id']}/rotate", json={"grace_s": 1}).json()
    assert admin_gw.chat(key["key"]).status_code == 200
    time.sleep(1.2)
    response = admin_gw.chat(key["key"])
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]
    assert admin_gw.chat(rotated["key"]).status_code == 200
