"""The /admin route table and a framework-neutral dispatcher: both adapters (Starlette for
`aigw dev`, Powertools for Lambda) map the same paths to the same handlers and JSON.

    POST   /admin/teams                  create a team (201; 200 when repeated)
    GET    /admin/teams                  list teams
    GET    /admin/teams/{id}             a team
    PATCH  /admin/teams/{id}             update name, metadata, budgets, rpm, tpm
    DELETE /admin/teams/{id}             delete (409 while it has active keys)
    POST   /admin/keys                   create a key: the secret is in the response, once
    GET    /admin/keys[?team=T]          list keys (id, prefix, metadata; never secrets or hashes)
    GET    /admin/keys/{id}              a key
    PATCH  /admin/keys/{id}              update models, budgets, rpm, tpm, expiry, metadata
    POST   /admin/keys/{id}/revoke       revoke (every secret of the key)
    POST   /admin/keys/{id}/rotate       new secret; the old one works for `grace_s` more
    PUT    /admin/budgets/{scope}/{id}   set the budgets of key|project|team|global
    GET    /admin/budgets/{scope}/{id}   budgets with spend, reservations and remaining
    GET    /admin/usage?by=team|key|model&period=2026-11
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from aigw.admin.models import (
    MAX_BODY_BYTES,
    MAX_BODY_DEPTH,
    AdminError,
    BudgetsPut,
    InvalidRequest,
    KeyCreate,
    KeyRotate,
    KeyUpdate,
    NotFound,
    TeamCreate,
    TeamUpdate,
)
from aigw.admin.service import AdminService
from aigw.errors import InvalidRequest as GatewayInvalidRequest
from aigw.jsonbody import parse_object
from aigw.schemas import plain_message

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_ID_CHARS = 128
_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_ID_CHARS - 1}}}")


@dataclass(slots=True)
class ApiRequest:
    params: dict[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes | str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names

    def json(self, model: type[BaseModel], *, optional: bool = False) -> Any:
        raw = self.body
        if raw in (None, b"", ""):
            if optional:
                return model()
            raise InvalidRequest("this route needs a JSON body", code="missing_body")
        data = parse_body(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            details = [{"field": ".".join(str(p) for p in e["loc"]), "message": plain_message(e["msg"])}
                       for e in exc.errors(include_url=False, include_input=False)]
            first = details[0]
            raise InvalidRequest(f"invalid {first['field'] or 'body'}: {first['message']}", code="validation_error",
                                 details=details) from None


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body's JSON object, within the admin API's size and depth bounds."""
    if len(raw) > MAX_BODY_BYTES:
        raise AdminError(f"the body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}", status=413,
                         code="body_too_large")
    try:
        return parse_object(raw, max_depth=MAX_BODY_DEPTH, what="the body")
    except GatewayInvalidRequest as exc:
        raise InvalidRequest(exc.message, code="invalid_json") from None


def check_request(request: ApiRequest) -> None:
    """Ids in the path and the `team` filter are ids the API could have created: anything
    else names nothing (404), and never reaches DynamoDB as an oversized or odd key."""
    for name, value in request.params.items():
        if name == "id" and not _ID.fullmatch(value):
            raise NotFound(f"no object has the id {value[:80]!r} (ids are letters, digits, '.', '_' and '-', "
                           f"at most {MAX_ID_CHARS} characters)", code="not_found")
    team = request.query.get("team")
    if team is not None and not _ID.fullmatch(team):
        raise InvalidRequest(f"team {team[:80]!r} is not a team id", code="invalid_team")


@dataclass(slots=True)
class ApiResponse:
    status: int
    body: Any


Handler = Callable[[AdminService, ApiRequest], ApiResponse]


def _create_team(s: AdminService, r: ApiRequest) -> ApiResponse:
    team, created = s.create_team(r.json(TeamCreate))
    return ApiResponse(201 if created else 200, team)


def _create_key(s: AdminService, r: ApiRequest) -> ApiResponse:
    key, created = s.create_key(r.json(KeyCreate), idempotency_key=r.headers.get(IDEMPOTENCY_HEADER))
    return ApiResponse(201 if created else 200, key)


def _delete_team(s: AdminService, r: ApiRequest) -> ApiResponse:
    s.delete_team(r.params["id"])
    return ApiResponse(200, {"id": r.params["id"], "deleted": True})


ROUTES: list[tuple[str, str, Handler]] = [
    ("POST", "/admin/teams", _create_team),
    ("GET", "/admin/teams", lambda s, r: ApiResponse(200, {"teams": s.list_teams()})),
    ("GET", "/admin/teams/{id}", lambda s, r: ApiResponse(200, s.get_team(r.params["id"]))),
    ("PATCH", "/admin/teams/{id}", lambda s, r: ApiResponse(200, s.update_team(r.params["id"], r.json(TeamUpdate)))),
    ("DELETE", "/admin/teams/{id}", _delete_team),
    ("POST", "/admin/keys", _create_key),
    ("GET", "/admin/keys", lambda s, r: ApiResponse(200, {"keys": s.list_keys(team=r.query.get("team"))})),
    ("GET", "/admin/keys/{id}", lambda s, r: ApiResponse(200, s.get_key(r.params["id"]))),
    ("PATCH", "/admin/keys/{id}", lambda s, r: ApiResponse(200, s.update_key(r.params["id"], r.json(KeyUpdate)))),
    ("POST", "/admin/keys/{id}/revoke", lambda s, r: ApiResponse(200, s.revoke_key(r.params["id"]))),
    ("POST", "/admin/keys/{id}/rotate",
     lambda s, r: ApiResponse(200, s.rotate_key(r.params["id"], r.json(KeyRotate, optional=True)))),
    ("PUT", "/admin/budgets/{scope}/{id}",
     lambda s, r: ApiResponse(200, s.put_budgets(r.params["scope"], r.params["id"], r.json(BudgetsPut)))),
    ("GET", "/admin/budgets/{scope}/{id}",
     lambda s, r: ApiResponse(200, s.get_budgets(r.params["scope"], r.params["id"]))),
    ("GET", "/admin/usage",
     lambda s, r: ApiResponse(200, s.usage(by=r.query.get("by", "team"), period=r.query.get("period")))),
]


def dispatch(service: AdminService, handler: Handler, request: ApiRequest, *, log: Any = None) -> ApiResponse:
    """Run one handler; every failure becomes the one error envelope (never a stack trace)."""
    try:
        check_request(request)
        return handler(service, request)
    except AdminError as exc:
        return ApiResponse(exc.status, exc.body())
    except Exception:
        if log is not None:
            log.exception("admin request failed")
        return ApiResponse(500, {"error": {"type": "internal_error", "code": "internal_error",
                                           "message": "internal error; see the admin log"}})


def json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def error(status: int, code: str, message: str, type: str = "invalid_request_error") -> ApiResponse:
    return ApiResponse(status, {"error": {"type": type, "code": code, "message": message}})
