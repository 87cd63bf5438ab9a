"""The gateway's error hierarchy, and how each renders on the wire.

    GatewayError                 status, OpenAI `type`, `code`, optional `param`
    ├── InvalidRequest           400  invalid_request_error
    ├── PayloadTooLarge          413  invalid_request_error / request_too_large
    ├── AuthenticationFailed     401  authentication_error / invalid_api_key
    ├── PermissionDenied         403  permission_error / model_not_allowed
    ├── NotFound                 404  not_found_error / model_not_found
    ├── TooManyRequests          429  rate_limit_error / rate_limit_exceeded | budget_exceeded
    └── UpstreamError            the upstream's 4xx as is; 5xx -> 502, timeout -> 504

Every error a client can see is one of these; anything else is caught at the edge and
rendered as a 500 `internal_error` without details (the details go to the log).

`message` is what the client reads; `detail` is for the log line only (a secret's name, a
remediation command, what the upstream actually said). Both pass through the credential
redactor (providers/redact.py), so no credential an upstream echoes reaches either.
"""

from __future__ import annotations

from typing import Any

from aigw.providers.redact import redact


class GatewayError(Exception):
    status: int = 500
    type: str = "internal_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        detail: str | None = None,
    ) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.detail = redact(detail) if detail else None
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        if code is not None:
            self.code = redact(code)
        self.param = redact(param) if param else param
        self.headers: dict[str, str] = dict(headers or {})

    def openai_body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def anthropic_body(self) -> dict[str, Any]:
        return {"type": "error", "error": {"type": _ANTHROPIC_TYPES.get(self.status, "api_error"),
                                           "message": self.message}}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    code = "model_not_allowed"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class TooManyRequests(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class UpstreamError(GatewayError):
    """An upstream call that failed; `retryable` tells routing whether to try again."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        upstream_status: int | None = None,
        retryable: bool = False,
        retry_after_s: float | None = None,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            type=redact(type) if type else _type_for(status),
            code=code or ("upstream_error" if status >= 500 else None),
            param=param,
            detail=detail,
        )
        self.upstream_status = upstream_status
        self.retryable = retryable
        self.retry_after_s = retry_after_s


def _type_for(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "invalid_request_error",
        413: "invalid_request_error",
        422: "invalid_request_error",
        429: "rate_limit_error",
    }.get(status, "upstream_error" if status >= 500 else "invalid_request_error")


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
    529: "overloaded_error",
}


TRUNCATED = "truncated"


def stream_truncated(expected: str) -> UpstreamError:
    """A stream that ended before its protocol's end (`expected`): never a success.

    Retryable: before the first event routing fails over; after it the pipeline ends the
    client's stream with an error event and counts it against the deployment's breaker."""
    return UpstreamError(f"upstream stream ended before {expected}: the answer is incomplete", status=502,
                         code=TRUNCATED, retryable=True)
