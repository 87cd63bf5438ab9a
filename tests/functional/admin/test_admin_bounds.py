"""What the admin fuzzer found as 500s, pinned: oversized and non-finite bodies, ids and
routes that name nothing, and racing rotations of one key."""

from __future__ import annotations

import concurrent.futures
import json
import uuid

from tests.functional.admin.conftest import AdminGateway


def team(gw: AdminGateway) -> str:
    tid = "team-" + uuid.uuid4().hex[:8]
    assert gw.admin("POST", "/admin/teams", json={"id": tid}).status_code == 201
    return tid


def test_oversized_and_non_finite_bodies_are_refused_in_the_envelope(admin_gw: AdminGateway) -> None:
    big = admin_gw.admin("POST", "/admin/teams", json={"id": "t-big", "metadata": {"x": "y" * 500_000}})
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"
    for raw in (b'{"id": "t-inf", "rpm": 1e400}', b'{"id": "t-nan", "metadata": {"x": NaN}}',
                b"[" * 3_000 + b"]" * 3_000):
        r = admin_gw.admin("POST", "/admin/teams", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text
    for body in ({"id": "t-1e308", "rpm": 1e308}, {"id": "t-meta", "metadata": {"n": 1e300}},
                 {"id": "t-tok", "budgets": [{"limit_tokens": 10**39}]}):
        r = admin_gw.admin("POST", "/admin/teams", json=body)
        assert r.status_code == 400 and r.json()["error"]["code"] == "validation_error", r.text


def test_ids_and_routes_that_name_nothing_are_404s_in_the_envelope(admin_gw: AdminGateway) -> None:
    for method, path in (("GET", "/admin/teams/" + "a" * 3_000), ("GET", "/admin/keys/x%20y"),
                         ("GET", "/admin/nowhere"), ("PUT", "/admin/teams"), ("GET", "/admin/teams/a/b")):
        r = admin_gw.admin(method, path)
        assert r.status_code == 404, (method, path, r.text)
        assert set(r.json()["error"]) >= {"type", "code", "message"}
    listed = admin_gw.admin("GET", "/admin/keys", params={"team": "x" * 3_000})
    assert listed.status_code == 400 and listed.json()["error"]["code"] == "invalid_team"


def test_racing_rotations_of_one_key_are_a_success_and_conflicts(admin_gw: AdminGateway) -> None:
    key = admin_gw.admin("POST", "/admin/keys", json={"team": team(admin_gw)}).json()["id"]
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: admin_gw.admin("POST", f"/admin/keys/{key}/rotate",
                                                          json={"grace_s": 60}).status_code, range(6)))
    assert 200 in statuses and set(statuses) <= {200, 409}, statuses
    again = admin_gw.admin("POST", f"/admin/keys/{key}/rotate", json={"grace_s": 0})
    assert again.status_code == 200 and json.loads(again.text)["key"]
