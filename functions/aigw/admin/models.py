"""Wire shapes of /admin: request bodies and the one error envelope.

Errors, whatever the route or adapter:
    {"error": {"type": "invalid_request_error" | "authentication_error" | "not_found" | "conflict"
                        | "internal_error",
               "code": "...", "message": "...", "details": [...]?}}
Money is returned as decimal strings ("12.5"), exact; bodies accept numbers or strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aigw.budgets.spec import Budget
from aigw.errors import GatewayError

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


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeamCreate(_Body):
    id: str = Field(pattern=ID_PATTERN)
    name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] = Field(default_factory=dict)
    budgets: list[Budget] = Field(default_factory=list)
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class TeamUpdate(_Body):
    name: str | None = Field(default=None, max_length=200)
    metadata: dict[str, Any] | None = None
    budgets: list[Budget] | None = None
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class KeyCreate(_Body):
    team: str = Field(pattern=ID_PATTERN)
    id: str | None = Field(default=None, pattern=r"^key_[A-Za-z0-9_-]{4,60}$",
                           description="client-chosen id: makes the create safe to retry")
    project: str | None = Field(default=None, pattern=ID_PATTERN)
    name: str | None = Field(default=None, max_length=200)
    models: list[str] = Field(default_factory=list, description="names or fnmatch patterns; empty = all")
    budgets: list[Budget] = Field(default_factory=list)
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    end_user_rpm: int | None = Field(default=None, gt=0, description="RPM of each end user of the key")
    end_user_tpm: int | None = Field(default=None, gt=0, description="TPM of each end user of the key")
    expires_at: float | None = Field(default=None, gt=0, description="epoch seconds")
    expires_in_s: float | None = Field(default=None, gt=0)
    metadata: dict[str, Any] = Field(default_factory=dict)


class KeyUpdate(_Body):
    name: str | None = Field(default=None, max_length=200)
    project: str | None = Field(default=None, pattern=ID_PATTERN)
    models: list[str] | None = None
    budgets: list[Budget] | None = None
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    end_user_rpm: int | None = Field(default=None, gt=0)
    end_user_tpm: int | None = Field(default=None, gt=0)
    expires_at: float | None = Field(default=None, gt=0)
    metadata: dict[str, Any] | None = None


class KeyRotate(_Body):
    grace_s: float = Field(default=86_400, ge=0, le=30 * 86_400,
                           description="how long the old secret keeps working")


class BudgetsPut(_Body):
    budgets: list[Budget]


def money(value: Decimal | int | float | None) -> str | None:
    if value is None:
        return None
    text = format(Decimal(str(value)).normalize(), "f")
    return text


def budget_view(budget: Budget) -> dict[str, Any]:
    return {"period": budget.period, "limit_usd": money(budget.limit_usd), "limit_tokens": budget.limit_tokens,
            "alert_at_percent": list(budget.alert_at_percent)}
