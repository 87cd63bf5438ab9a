"""Admin bodies are bounded (aigw/admin/models.py, aigw/admin/api.py): finite numbers in sane
ranges, strings and lists of bounded length, metadata DynamoDB can store and the hot path can
read quickly; every refusal is a 400 (413 for the size) in the admin envelope."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from aigw.admin.api import ApiRequest, check_request, parse_body
from aigw.admin.models import (
    MAX_BODY_BYTES,
    MAX_METADATA_BYTES,
    AdminError,
    KeyCreate,
    KeyUpdate,
    NotFound,
    TeamCreate,
)


def refused(model: type[BaseModel], body: dict[str, Any] | bytes) -> AdminError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(AdminError) as caught:
        ApiRequest(params={}, body=raw).json(model)
    error = caught.value
    assert set(error.body()["error"]) <= {"type", "code", "message", "details"}
    return error


@pytest.mark.parametrize("raw", [
    b'{"id": "t", "rpm": 1e400}', b'{"id": "t", "budgets": [{"limit_usd": 1e400}]}', b'{"id": "t", "rpm": NaN}',
    b'{"id": "t", "name": "\\ud800"}', b'{"id": ' * 40 + b"1" + b"}" * 40, b"[1]", b"{",
])
def test_bodies_the_parser_refuses_are_invalid_json(raw: bytes) -> None:
    error = refused(TeamCreate, raw)
    assert (error.status, error.code) == (400, "invalid_json")


@pytest.mark.parametrize(("body", "field"), [
    ({"id": "t", "rpm": 1e308}, "rpm"),
    ({"id": "t", "rpm": 10**40}, "rpm"),
    ({"id": "t", "tpm": "1000"}, "tpm"),
    ({"id": "t", "budgets": [{"limit_tokens": 10**39}]}, "budgets"),
    ({"id": "t", "budgets": [{"limit_usd": 1e308}]}, "budgets.0.limit_usd"),
    ({"id": "t", "budgets": [{"limit_usd": 5}, {"limit_usd": 6}]}, "budgets"),  # two USD limits a month
    ({"id": "t", "budgets": [{"limit_usd": 1, "period": p} for p in ("day", "week", "month", "total")] * 3},
     "budgets"),
    ({"id": "t", "metadata": {"x": 1e300}}, "metadata"),
    ({"id": "t", "metadata": {"x": 10**40}}, "metadata"),
    ({"id": "t", "metadata": {"x": 1e-200}}, "metadata"),
    ({"id": "t", "metadata": {"": "empty key"}}, "metadata"),
    ({"id": "t", "metadata": {"x": [[[[[[[[[["deep"]]]]]]]]]]}}, "metadata"),
    ({"id": "t", "metadata": {"x": "y" * (MAX_METADATA_BYTES + 1)}}, "metadata"),
    ({"id": "t", "name": "n" * 201}, "name"),
])
def test_out_of_range_team_fields_name_the_field(body: dict[str, Any], field: str) -> None:
    error = refused(TeamCreate, body)
    assert (error.status, error.code) == (400, "validation_error")
    assert error.details and error.details[0]["field"] == field
    assert "Value error" not in error.message


@pytest.mark.parametrize(("body", "field"), [
    ({"team": "t", "expires_at": 1e308}, "expires_at"),
    ({"team": "t", "expires_in_s": 1e308}, "expires_in_s"),
    ({"team": "t", "models": ["m"] * 257}, "models"),
    ({"team": "t", "models": ["x" * 257]}, "models.0"),
    ({"team": "t", "models": [""]}, "models.0"),
    ({"team": "t", "end_user_rpm": 10**10}, "end_user_rpm"),
])
def test_out_of_range_key_fields_name_the_field(body: dict[str, Any], field: str) -> None:
    error = refused(KeyCreate, body)
    assert error.details and error.details[0]["field"] == field


def test_nulls_in_a_key_update() -> None:
    assert ApiRequest(params={}, body=b'{"metadata": null}').json(KeyUpdate).metadata == {}
    assert "send []" in refused(KeyUpdate, {"models": None}).message


def test_storable_metadata_passes() -> None:
    body = {"id": "t", "metadata": {"owner": "a", "cost_center": 1234, "ratio": 0.5, "tags": ["x", {"y": None}],
                                    "zero": 0.0, "big": 10**37, "flag": True}}
    assert ApiRequest(params={}, body=json.dumps(body)).json(TeamCreate).metadata == body["metadata"]


def test_a_body_over_the_limit_is_a_413() -> None:
    with pytest.raises(AdminError) as caught:
        parse_body(b" " * (MAX_BODY_BYTES + 1))
    assert (caught.value.status, caught.value.code) == (413, "body_too_large")


@pytest.mark.parametrize("ident", ["a" * 129, "x y", "KEY#1", "..", "\u00e9", "-x"])
def test_ids_no_route_could_have_created_name_nothing(ident: str) -> None:
    with pytest.raises(NotFound):
        check_request(ApiRequest(params={"id": ident}))
    check_request(ApiRequest(params={"id": "team-1.a_b"}))
