"""Lambda entry for the control plane: /admin/... behind API Gateway with IAM auth.

Only wiring: the Powertools REST resolver maps every route of `aigw.admin.api.ROUTES` (the
same table `aigw dev` serves) onto the same dispatcher. API Gateway has already checked the
caller's SigV4 signature and IAM permission before the event arrives here.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from aigw.admin.api import ROUTES, ApiRequest, Handler, dispatch, error, json_default
from aigw.admin.service import AdminService
from aigw.names import COUNTERS, ENTITIES, ENV_CONFIG_PATH, SERVICE_NAME, TableSpec

logger = Logger(service=f"{SERVICE_NAME}-admin")
app = APIGatewayRestResolver()


class Tables:
    """The boto3 DynamoDB resource, made on first use (tests inject `resource`)."""

    resource: Any = None

    @classmethod
    def table(cls, spec: TableSpec) -> Any:
        if cls.resource is None:
            import boto3

            cls.resource = boto3.resource("dynamodb")
        return cls.resource.Table(os.environ.get(spec.env_var, spec.default_name))


def _guardrails() -> Any:
    """With the gateway's config beside it (AIGW_CONFIG), key views list their guardrails."""
    path = os.environ.get(ENV_CONFIG_PATH)
    if not path or not os.path.exists(path):
        return None
    from aigw.config import load_config_file
    from aigw.guardrails.policy import guardrails_of

    return guardrails_of(load_config_file(path))


service = AdminService(lambda: Tables.table(ENTITIES), lambda: Tables.table(COUNTERS), guardrails=_guardrails())


def _respond(status: int, body: Any) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body, default=json_default))


def _register(method: str, path: str, handler: Handler) -> None:
    rule = re.sub(r"\{(\w+)\}", r"<\1>", path)

    def route(**params: str) -> Response[str]:
        event = app.current_event
        api_request = ApiRequest(params=params, query=dict(event.query_string_parameters or {}),
                                 body=event.decoded_body,
                                 headers={k.lower(): v for k, v in (event.headers or {}).items()})
        result = dispatch(service, handler, api_request, log=logger)
        return _respond(result.status, result.body)

    app.route(rule, method=method)(route)


for _method, _path, _handler in ROUTES:
    _register(_method, _path, _handler)


@app.not_found
def not_found(_: Exception) -> Response[str]:
    event = app.current_event
    result = error(404, "unknown_route", f"no admin route for {event.http_method} {event.path}", "not_found")
    return _respond(result.status, result.body)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
