"""The Lambda entry of the admin API (Powertools REST resolver) answers the same routes with
the same JSON as `aigw dev`, from API Gateway proxy events, against moto."""

from __future__ import annotations

import importlib.util
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

MAIN = Path(__file__).resolve().parents[3] / "functions" / "admin" / "main.py"


@dataclass
class Context:
    function_name: str = "aigw-admin"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:aigw-admin"
    aws_request_id: str = "req-1"


@pytest.fixture
def admin_main(local_aws: Any) -> ModuleType:
    spec = importlib.util.spec_from_file_location("aigw_admin_lambda_main", MAIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.Tables.resource = local_aws.aws.dynamodb_resource()  # the same moto tables
    return module


def invoke(main: ModuleType, method: str, path: str, body: Any = None, query: dict[str, str] | None = None,
           headers: dict[str, str] | None = None) -> tuple[int, Any]:
    event = {
        "resource": "/admin/{proxy+}", "path": path, "httpMethod": method,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "multiValueHeaders": {}, "queryStringParameters": query, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.removeprefix("/admin/")}, "stageVariables": None,
        "requestContext": {"requestId": uuid.uuid4().hex, "stage": "prod", "httpMethod": method, "path": path,
                           "identity": {"userArn": "arn:aws:iam::123456789012:user/admin"}},
        "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False,
    }
    result = main.handler(event, Context())
    return result["statusCode"], json.loads(result["body"])


def test_lambda_admin_routes(admin_main: ModuleType) -> None:
    tid = "lambda-" + uuid.uuid4().hex[:6]
    status, team = invoke(admin_main, "POST", "/admin/teams", {"id": tid, "budgets": [
        {"period": "month", "limit_usd": 10}]})
    assert status == 201 and team["id"] == tid
    assert invoke(admin_main, "POST", "/admin/teams", {"id": tid, "budgets": [
        {"period": "month", "limit_usd": 10}]})[0] == 200
    status, got = invoke(admin_main, "GET", f"/admin/teams/{tid}")
    assert status == 200 and got["budgets"][0]["limit_usd"] == "10"
    status, key = invoke(admin_main, "POST", "/admin/keys", {"team": tid, "models": ["gpt-4o*"]},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
    assert status == 201 and key["key"].startswith("sk-aigw-")
    status, listed = invoke(admin_main, "GET", "/admin/keys", query={"team": tid})
    assert status == 200 and [k["id"] for k in listed["keys"]] == [key["id"]]
    status, rotated = invoke(admin_main, "POST", f"/admin/keys/{key['id']}/rotate", {"grace_s": 60})
    assert status == 200 and rotated["key"] != key["key"]
    status, budgets = invoke(admin_main, "PUT", f"/admin/budgets/key/{key['id']}",
                             {"budgets": [{"period": "day", "limit_tokens": 1000}]})
    assert status == 200 and budgets["budgets"][0]["limit_tokens"] == 1000
    status, usage = invoke(admin_main, "GET", "/admin/usage", query={"by": "team"})
    assert status == 200 and "rows" in usage


def test_lambda_admin_errors(admin_main: ModuleType) -> None:
    status, body = invoke(admin_main, "POST", "/admin/teams", {"id": "no spaces allowed"})
    assert status == 400 and body["error"]["code"] == "validation_error"
    status, body = invoke(admin_main, "GET", "/admin/keys/key_missing")
    assert status == 404 and body["error"]["code"] == "key_not_found"
    status, body = invoke(admin_main, "GET", "/admin/nowhere")
    assert status == 404 and body["error"]["code"] == "unknown_route"
