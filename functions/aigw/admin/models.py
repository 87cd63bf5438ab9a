"""Wire shapes of /admin: request bodies and the one error envelope.

Errors, whatever the route or adapter:
    {"error": {"type": "invalid_request_error" | "authentication_error" | "not_found" | "conflict"
                        | "internal_error",
               "code": "...", "message": "...", "details": [...]?}}
Money is returned as decimal strings ("12.5"), exact; bodies accept numbers or strings.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from aigw.budgets.spec import Budget, merge_budgets
from aigw.errors import GatewayError
from aigw.schemas import Int, Number

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class AdminError(GatewayError):
    """A control-plane error: the gateway's error (status, type, code) plus field `details`,
    rendered in the admin envelope rather than OpenAI's."""

    status = 400
    type = "invalid_request_error"
    code: str | None = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 details: list[Any] | None = None) -> None:
        super().__init__(message, code=code, status=status)
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class InvalidRequest(AdminError):
    pass


class Unauthorized(AdminError):
    status = 401
    type = "authentication_error"
    code = "invalid_admin_token"


class NotFound(AdminError):
    status = 404
    type = "not_found"
    code = "not_found"


class Conflict(AdminError):
    status = 409
    type = "conflict"
    code = "conflict"


# ---- bounds: what DynamoDB (400 KB items, 32 levels, 38-digit numbers within 1e-130..1e126)
# and the hot path (which reads the key record on every request) can hold comfortably.
MAX_BODY_BYTES = 256 * 1024
MAX_BODY_DEPTH = 32
MAX_METADATA_BYTES = 16 * 1024  # as compact JSON
MAX_METADATA_DEPTH = 8
MAX_METADATA_KEY_CHARS = 256
MAX_MODEL_PATTERNS = 256
MAX_PATTERN_CHARS = 256
MAX_BUDGETS = 8  # one USD and one token limit per period
MAX_LIMIT_TOKENS = 10**15
MAX_RPM = 10**9
MAX_TPM = 10**12
MAX_EPOCH_S = 253_402_300_799.0  # 9999-12-31T23:59:59Z
MAX_DURATION_S = 100 * 365 * 86_400.0
# DynamoDB numbers: up to 38 significant digits, magnitude within 1e-130 .. 1e126.
_DYNAMO_INT_LIMIT = 10**38
_DYNAMO_FLOAT_MIN, _DYNAMO_FLOAT_MAX = 1e-130, 1e125


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """Metadata is free-form JSON, stored on the item the hot path reads: bounded in size
    and depth, with keys and numbers DynamoDB can store."""
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}")
    level: list[Any] = [value]
    for depth in range(1, MAX_METADATA_DEPTH + 2):
        if not level:
            return value
        if depth > MAX_METADATA_DEPTH:
            raise ValueError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
        below: list[Any] = []
        for node in level:
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, item in items:
                if isinstance(key, str) and not 1 <= len(key) <= MAX_METADATA_KEY_CHARS:
                    raise ValueError(f"metadata keys must be 1 to {MAX_METADATA_KEY_CHARS} characters")
                if isinstance(item, dict | list):
                    below.append(item)
                elif isinstance(item, int | float) and not isinstance(item, bool):
                    _check_number(item)
        level = below
    return value


def _check_number(number: float) -> None:
    if isinstance(number, int):
        if abs(number) >= _DYNAMO_INT_LIMIT:
            raise ValueError("metadata integers must have at most 38 digits")
    elif not (number == 0 or _DYNAMO_FLOAT_MIN <= abs(number) <= _DYNAMO_FLOAT_MAX):
        raise ValueError(f"metadata numbers must be 0 or of magnitude {_DYNAMO_FLOAT_MIN:g} to {_DYNAMO_FLOAT_MAX:g}")


def _check_budgets(budgets: list[Budget]) -> list[Budget]:
    for budget in budgets:
        if budget.limit_tokens is not None and budget.limit_tokens > MAX_LIMIT_TOKENS:
            raise ValueError(f"limit_tokens must be at most {MAX_LIMIT_TOKENS:,}")
    merge_budgets(budgets)  # two limits of one unit for one period: a ValueError that says so
    return budgets


Metadata = Annotated[dict[str, Any], AfterValidator(_check_metadata)]
Budgets = Annotated[list[Budget], Field(max_length=MAX_BUDGETS), AfterValidator(_check_budgets)]
ModelPatterns = Annotated[list[Annotated[str, Field(min_length=1, max_length=MAX_PATTERN_CHARS)]],
                          Field(max_length=MAX_MODEL_PATTERNS)]
Rpm = Annotated[Int, Field(gt=0, le=MAX_RPM)]
Tpm = Annotated[Int, Field(gt=0, le=MAX_TPM)]
Epoch = Annotated[Number, Field(gt=0, le=MAX_EPOCH_S)]
Duration = Annotated[Number, Field(gt=0, le=MAX_DURATION_S)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeamCreate(_Body):
    id: str = Field(pattern=ID_PATTERN)
    name: str | None = Field(default=None, max_length=200)
    metadata: Metadata = Field(default_factory=dict)
    budgets: Budgets = Field(default_factory=list)
    rpm: Rpm | None = None
    tpm: Tpm | None = None


class TeamUpdate(_Body):
    name: str | None = Field(default=None, max_length=200)
    metadata: Metadata | None = None
    budgets: Budgets | None = None
    rpm: Rpm | None = None
    tpm: Tpm | None = None


class KeyCreate(_Body):
    team: str = Field(pattern=ID_PATTERN)
    id: str | None = Field(default=None, pattern=r"^key_[A-Za-z0-9_-]{4,60}$",
                           description="client-chosen id: makes the create safe to retry")
    project: str | None = Field(default=None, pattern=ID_PATTERN)
    name: str | None = Field(default=None, max_length=200)
    models: ModelPatterns = Field(default_factory=list, description="names or fnmatch patterns; empty = all")
    budgets: Budgets = Field(default_factory=list)
    rpm: Rpm | None = None
    tpm: Tpm | None = None
    end_user_rpm: Rpm | None = Field(default=None, description="RPM of each end user of the key")
    end_user_tpm: Tpm | None = Field(default=None, description="TPM of each end user of the key")
    expires_at: Epoch | None = Field(default=None, description="epoch seconds")
    expires_in_s: Duration | None = None
    metadata: Metadata = Field(default_factory=dict)


class KeyUpdate(_Body):
    """null clears a field (no name, project, rate limit, expiry; empty metadata), except
    `models`: the empty list allows every model, and must be said explicitly."""

    name: str | None = Field(default=None, max_length=200)
    project: str | None = Field(default=None, pattern=ID_PATTERN)
    models: ModelPatterns | None = None
    budgets: Budgets | None = None
    rpm: Rpm | None = None
    tpm: Tpm | None = None
    end_user_rpm: Rpm | None = None
    end_user_tpm: Tpm | None = None
    expires_at: Epoch | None = None
    metadata: Metadata | None = None

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "models" in data and data["models"] is None:
                raise ValueError("models cannot be null: send [] to allow every model, or a list of names")
            if "metadata" in data and data["metadata"] is None:
                data = {**data, "metadata": {}}
        return data


class KeyRotate(_Body):
    grace_s: Number = Field(default=86_400, ge=0, le=30 * 86_400,
                            description="how long the old secret keeps working")


class BudgetsPut(_Body):
    budgets: Budgets


def money(value: Decimal | int | float | None) -> str | None:
    if value is None:
        return None
    text = format(Decimal(str(value)).normalize(), "f")
    return text


def budget_view(budget: Budget) -> dict[str, Any]:
    return {"period": budget.period, "limit_usd": money(budget.limit_usd), "limit_tokens": budget.limit_tokens,
            "alert_at_percent": list(budget.alert_at_percent)}
