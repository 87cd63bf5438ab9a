"""Provider credentials from Secrets Manager, through Powertools Parameters.

Never from environment variables on Lambda, never logged: `Credential.__repr__` hides the
values, every value joins the error redactor, and only the log (an error's `detail`) names
the secret; the client reads a plain message. A warm function reads each
secret once per `max_age_s`; the read runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any

from aigw.errors import GatewayError
from aigw.names import DEFAULT_SECRET_PREFIX, ENV_SECRET_PREFIX
from aigw.providers.base import Credential

DEFAULT_MAX_AGE_S = 300


# What the client reads: which secret, and how to fix it, are for the operators (the log's `error_detail`).
PLAIN = ("the gateway cannot use its provider credential for this deployment; its operators can find the cause "
         "in the gateway log under this request's id (x-request-id)")


class CredentialUnavailable(GatewayError):
    status = 502
    type = "upstream_error"
    code = "credential_unavailable"


def secret_name(credential: str, prefix: str | None = None) -> str:
    return (prefix if prefix is not None else os.environ.get(ENV_SECRET_PREFIX, DEFAULT_SECRET_PREFIX)) + credential


def parse_secret(value: str | bytes | dict[str, Any]) -> dict[str, str]:
    """A secret is JSON `{"api_key": "...", ...}` or a bare key string."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    text = value.decode() if isinstance(value, bytes) else value
    text = text.strip()
    if text.startswith("{"):
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            return {str(k): str(v) for k, v in parsed.items()}
    return {"api_key": text}


class CredentialStore:
    def __init__(self, secrets_client: Callable[[], Any], *, prefix: str | None = None,
                 max_age_s: float = DEFAULT_MAX_AGE_S) -> None:
        self._client = secrets_client  # returns the boto3 client (created on first use)
        self._provider: Any = None
        self._prefix = prefix
        self._max_age_s = max_age_s
        self._cache: dict[str, tuple[float, Credential]] = {}

    async def get(self, credential: str) -> Credential:
        hit = self._cache.get(credential)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        name = secret_name(credential, self._prefix)
        try:
            raw = await asyncio.to_thread(self._read, name)
            value = Credential(parse_secret(raw))
        except Exception as exc:  # the secret is missing, unreadable or malformed
            raise CredentialUnavailable(
                PLAIN, detail=f"credential {credential!r} is not available (secret {name}: {type(exc).__name__})"
            ) from None
        if not value.api_key:
            # The stack creates each secret with an empty api_key; it is set after deploy.
            raise CredentialUnavailable(PLAIN, detail=(
                f"credential {credential!r} is not set: aws secretsmanager put-secret-value --secret-id {name} "
                "--secret-string '{\"api_key\": \"...\"}'"))
        self._cache[credential] = (time.monotonic() + self._max_age_s, value)
        return value

    def _read(self, name: str) -> Any:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._provider = SecretsProvider(boto3_client=self._client())
        return self._provider.get(name, max_age=int(self._max_age_s))
