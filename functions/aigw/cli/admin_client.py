"""The CLI's HTTP client for /admin: bearer `AIGW_ADMIN_TOKEN` against a local gateway
(`aigw dev`), SigV4 (botocore's signer, service `execute-api`) against a deployed one."""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from aigw.cli import CliError
from aigw.names import ENV_ADMIN_TOKEN, ENV_URL

DEFAULT_URL = "http://127.0.0.1:8080"
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


def is_local(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOCAL_HOSTS


class AdminClient:
    def __init__(self, url: str | None = None, *, token: str | None = None,
                 transport: httpx.BaseTransport | None = None, timeout: float = 30.0) -> None:
        self.url = (url or os.environ.get(ENV_URL) or DEFAULT_URL).rstrip("/")
        if not re.match(r"^https?://", self.url):
            raise CliError(f"the gateway URL must start with http:// or https://: {self.url!r}")
        self.token = token if token is not None else os.environ.get(ENV_ADMIN_TOKEN)
        self._client = httpx.Client(transport=transport, timeout=timeout, trust_env=False)

    def request(self, method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Any:
        url = self.url + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        data = json.dumps(body).encode() if body is not None else b""
        all_headers = {"content-type": "application/json", "accept": "application/json", **(headers or {})}
        all_headers.update(self._auth(method, url, data, all_headers))
        try:
            response = self._client.request(method, url, content=data or None, headers=all_headers)
        except httpx.ConnectError:
            hint = " Is `aigw dev` running?" if is_local(self.url) else ""
            raise CliError(f"cannot reach the gateway at {self.url}.{hint} (set --url or {ENV_URL})") from None
        except httpx.HTTPError as exc:
            raise CliError(f"request to {self.url} failed: {type(exc).__name__}: {exc}") from None
        return self._result(response)

    def _auth(self, method: str, url: str, data: bytes, headers: dict[str, str]) -> dict[str, str]:
        if is_local(self.url):
            if not self.token:
                raise CliError(f"set {ENV_ADMIN_TOKEN} to the admin token `aigw dev` printed at start")
            return {"authorization": f"Bearer {self.token}"}
        return sigv4_headers(method, url, data, headers)

    @staticmethod
    def _result(response: httpx.Response) -> Any:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_success:
            return payload
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            error = payload["error"]
            details = "".join(f"\n  {d.get('field')}: {d.get('message')}" for d in error.get("details") or [])
            raise CliError(f"{error.get('message')} ({response.status_code} {error.get('code')}){details}")
        if response.status_code == 403:
            raise CliError("access denied (403): your AWS identity may not call the admin API "
                           "(it needs execute-api:Invoke on /admin/*)")
        message = payload.get("message") if isinstance(payload, dict) else response.text[:200]
        raise CliError(f"the gateway answered {response.status_code}: {message}")


def sigv4_headers(method: str, url: str, data: bytes, headers: dict[str, str]) -> dict[str, str]:
    """Sign for API Gateway with the caller's AWS credentials (env, profile, SSO, instance role)."""
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = botocore.session.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise CliError("no AWS credentials found to sign the request (configure a profile or set AWS_* "
                       f"variables), or point --url at a local gateway and set {ENV_ADMIN_TOKEN}")
    host = urlsplit(url).hostname or ""
    match = re.search(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", host)
    region = match.group(1) if match else session.get_config_variable("region") or os.environ.get("AWS_REGION")
    if not region:
        raise CliError("cannot tell the AWS region of the gateway; set AWS_REGION")
    request = AWSRequest(method=method, url=url, data=data, headers=dict(headers))
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() in
            ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")}
