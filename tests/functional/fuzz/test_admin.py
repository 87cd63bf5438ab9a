"""At least 5,000 generated admin requests (every route of `aigw.admin.api.ROUTES`, bodies from
the admin models' own schemas spoiled with hostile values, hostile ids and query strings,
unknown paths and methods, a missing or wrong token): zero 5xx, every error in the admin
envelope. The ids mostly name objects that exist, so valid requests reach DynamoDB."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.admin.models import BudgetsPut, KeyCreate, KeyRotate, KeyUpdate, TeamCreate, TeamUpdate
from tests.functional.fuzz.checks import check
from tests.functional.fuzz.harness import ADMIN_TOKEN, FuzzGateway, Sent, record_counts, scaled
from tests.functional.fuzz.strategies import DAMAGES, Fuzzer, encode, hostile
from tests.functional.fuzz.test_front_doors import FUZZ_SETTINGS

pytestmark = pytest.mark.slow
PER_SUITE = scaled(5_000)
BATCH = 50
ADMIN_HOSTILE_PERCENTS = [20, 40, 60, 80]  # most bodies refused by validation, before any DynamoDB call
HOSTILE_IDS = ["", " ", "a" * 2_000, "x/y", "..", "%00", "\u00e9t\u00e9", "team id", "key_", "KEY#x", "-lead",
               "a" * 129, "\ud83d\ude00"]


def _hints(gw: FuzzGateway) -> dict[str, Any]:
    return {
        "team": ["fz-keys", "fz-keys", "fz-nobody"],  # new keys go to a team no route lists or deletes
        # Mostly ids that exist: a repeated create answers 200 or 409 and the tables stay small
        # (moto deep-copies a whole table for every item of a transaction).
        "id": lambda rng: rng.choice(["fz-team", "fz-other", f"key_fz{rng.randrange(20):04d}",
                                      f"fz-t{rng.randrange(20):03d}", f"key_{rng.getrandbits(32):08x}", None]),
        "grace_s": [0, 0, 0, 1, 60, 30 * 86_400, 30 * 86_400 + 1],
        "limit_usd": [1, 50, "50", "0.5", "12.345678901", 1e12, "1e400", "NaN", "-1", 0, "Infinity", "1" * 30],
        "limit_tokens": [0, 1_000, 10**15, 10**15 + 1, 10**30],
        "period": ["day", "week", "month", "total", "year"],
        "rpm": [1, 60, 10**9, 10**9 + 1, 0],
        "tpm": [1, 10_000, 10**12, 10**12 + 1],
        "expires_at": [2_000_000_000, 253_402_300_799, 253_402_300_800, 1e308],
        "expires_in_s": [1, 3_600, 3_153_600_000, 3_153_600_001],
        "models": [["mock-*"], [], ["gpt-4o", "claude-*"], ["x" * 257]],
    }


# Weights: bodies are where inputs go wrong, so routes with a body dominate; routes that cost
# several DynamoDB calls each (budgets, rotations) are fewer.
ROUTE_WEIGHTS: list[tuple[int, str, str, Any]] = [  # weight, method, path template, body model
    (20, "POST", "/admin/teams", TeamCreate),
    (14, "PATCH", "/admin/teams/{team}", TeamUpdate),
    (1, "GET", "/admin/teams/{team}", None),
    (1, "DELETE", "/admin/teams/{team}", None),
    (20, "POST", "/admin/keys", KeyCreate),
    (14, "PATCH", "/admin/keys/{key}", KeyUpdate),
    (1, "GET", "/admin/keys/{key}", None),
    (1, "GET", "/admin/keys?team={query}", None),
    (1, "POST", "/admin/keys/{key}/revoke", None),
    (4, "POST", "/admin/keys/{key}/rotate", KeyRotate),
    (10, "PUT", "/admin/budgets/{scope}/{any}", BudgetsPut),
    (1, "GET", "/admin/budgets/{scope}/{any}", None),
    (2, "GET", "/admin/usage?by={by}&period={period}", None),
    (5, "GET", "/admin/nowhere/{any}", None),
    (5, "PUT", "/admin/teams", None),
]
# Scans and full listings grow with every object the fuzz creates: a few, not hundreds.
RARE_ROUTES = [("GET", "/admin/teams"), ("GET", "/admin/keys")]


class AdminFuzz:
    def __init__(self, gw: FuzzGateway) -> None:
        self.gw = gw
        hints = _hints(gw)
        # A create names its object (an `id` from the hints) nearly always, so repeats find it.
        self.fuzzers = {model: Fuzzer(model, hints, include={"id": 95}) for _, _, _, model in ROUTE_WEIGHTS
                        if model is not None}
        self.routes = [(method, path, model) for weight, method, path, model in ROUTE_WEIGHTS for _ in range(weight)]

    def request(self, seed: int, hostile_percent: int, damage: str | None, auth: str) -> Sent:
        rng = random.Random(seed)
        if rng.random() < 0.002:
            method, template, model = (*rng.choice(RARE_ROUTES), None)
        else:
            method, template, model = rng.choice(self.routes)
        path = template.format(team=self._id(rng, self.gw.team_ids), key=self._id(rng, self.gw.key_ids),
                               any=self._id(rng, [*self.gw.team_ids, *self.gw.key_ids, "global"]),
                               scope=rng.choice(["key", "team", "project", "global", "wizard"]),
                               query=self._id(rng, ["fz-quiet"]),
                               by=rng.choice(["team", "key", "model", "zzz", ""]),
                               period=rng.choice(["2026-12", "2026-13", "9999-99", "", "x" * 300]))
        body = None
        if model is not None:
            body = encode(self.fuzzers[model].body(rng, hostile_percent), ascii_only=rng.random() < 0.5,
                          damage=damage)
        elif rng.random() < 0.1:
            body = encode(hostile(rng), ascii_only=True, damage=None)  # a body where none is read
        headers = {"content-type": "application/json"}
        if auth != "none":
            headers["authorization"] = f"Bearer {ADMIN_TOKEN if auth == 'token' else 'wrong-token'}"
        if rng.random() < 0.05:
            headers["idempotency-key"] = rng.choice(["", "k" * 500, "same-key", "é".encode().decode("latin-1")])
        return Sent(method, path, body, headers)

    @staticmethod
    def _id(rng: random.Random, known: list[str]) -> str:
        roll = rng.random()
        if roll < 0.85:
            return rng.choice(known)
        if roll < 0.9:  # well-formed, names nothing: one DynamoDB read, then a 404
            return f"fz-{rng.getrandbits(24):06x}"
        return quote(rng.choice(HOSTILE_IDS), safe="", errors="surrogatepass")


def test_no_admin_request_gets_a_5xx(fuzz_gw: FuzzGateway) -> None:
    fuzz = AdminFuzz(fuzz_gw)
    sent: list[Any] = []
    request = st.builds(fuzz.request, st.integers(0, 2**32 - 1), st.sampled_from(ADMIN_HOSTILE_PERCENTS),
                        st.sampled_from(DAMAGES), st.sampled_from(["token"] * 30 + ["none", "wrong"]))

    @settings(FUZZ_SETTINGS, max_examples=PER_SUITE // BATCH)
    @given(st.lists(request, min_size=BATCH, max_size=BATCH))
    def run(requests: list[Sent]) -> None:
        results = fuzz_gw.send(requests)
        for got in results:
            check(got, "admin")
        sent.extend(results)

    run()
    record_counts("/admin/*", sent)
    assert len(sent) >= PER_SUITE
    statuses = {r.status for r in sent}
    assert {200, 201, 400, 401, 404} <= statuses  # the fuzz created, updated and was refused
    assert not [r for r in fuzz_gw.records if r.get("status", 0) >= 500]


@pytest.fixture(autouse=True)
def _quiet_team(fuzz_gw: FuzzGateway) -> None:
    """A team with a single key: `GET /admin/keys?team=` lists it without growing."""
    from aigw.admin.models import TeamCreate as Create

    service = fuzz_gw.admin_service
    for team in ("fz-quiet", "fz-keys"):
        service.create_team(Create(id=team))
    service.create_key(KeyCreate(team="fz-quiet"), idempotency_key="fz-quiet-key")
