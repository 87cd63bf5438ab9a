"""The REST API: `/v1` streams from the gateway function, `/admin` is IAM-authorized.

REST API response streaming needs a Lambda proxy integration whose URI is the
`/2021-11-15/functions/<arn>/response-streaming-invocations` path, with
`responseTransferMode: STREAM`; CDK's `LambdaIntegration` writes both when given
`ResponseTransferMode.STREAM`. A streamed response may run up to 15 minutes, the integration
timeout set below, with no quota increase (CDK itself only checks that a timeout is at least
50 ms); the buffered `/admin` integration keeps the 29-second default. The gateway answers
`/health` itself: under Lambda Web Adapter in response-stream mode every answer is a stream,
so `/health` uses the streaming integration too.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from aigw.names import HEALTH_PATH

STAGE_NAME = "prod"
STREAM_TIMEOUT = cdk.Duration.minutes(15)

# Errors API Gateway itself returns (throttling, IAM denial, ...) in the OpenAI error envelope,
# so SDK clients parse them like the gateway's own.
_ERROR_TEMPLATE = (
    '{"error": {"message": $context.error.messageString, "type": "$context.error.responseType", '
    '"param": null, "code": null}}'
)
_ACCESS_LOG_FIELDS = dict(
    caller=False, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
    response_length=True, status=True, user=True,
)


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        gateway: lambda_.IFunction,
        admin: lambda_.IFunction,
        throttle_rate_limit: float,
        throttle_burst_limit: int,
        log_retention: logs.RetentionDays,
        web_acl_arn: str | None = None,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, encryption_key=encryption_key,
                                         removal_policy=cdk.RemovalPolicy.DESTROY)
        self.rest_api = apigateway.RestApi(
            self, "RestApi",
            rest_api_name=f"{cdk.Stack.of(self).stack_name}-api",
            description="aigw: one OpenAI- and Anthropic-compatible endpoint (/v1) and its admin API (/admin)",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=True,  # the account-level role API Gateway needs to write any log
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE_NAME,
                throttling_rate_limit=throttle_rate_limit,
                throttling_burst_limit=throttle_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(**_ACCESS_LOG_FIELDS),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # never log bodies: prompts and keys stay out of the logs
                tracing_enabled=True,
                metrics_enabled=False,
            ),
        )
        for response_type in (apigateway.ResponseType.DEFAULT_4_XX, apigateway.ResponseType.DEFAULT_5_XX):
            self.rest_api.add_gateway_response(
                f"{response_type.response_type}Envelope", type=response_type,
                templates={"application/json": _ERROR_TEMPLATE},
            )

        stream = apigateway.LambdaIntegration(
            gateway, proxy=True, response_transfer_mode=apigateway.ResponseTransferMode.STREAM,
            timeout=STREAM_TIMEOUT, scope_permission_to_method=False,
        )
        root = self.rest_api.root
        self.v1 = root.add_resource("v1")
        self.v1.add_proxy(default_integration=stream, any_method=True)
        self.health = root.add_resource(HEALTH_PATH.strip("/"))
        self.health.add_method("GET", stream)

        admin_integration = apigateway.LambdaIntegration(admin, proxy=True, scope_permission_to_method=False)
        self.admin = root.add_resource("admin")
        self.admin.add_proxy(
            default_integration=admin_integration,
            default_method_options=apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.IAM),
            any_method=True,
        )

        self.web_acl: wafv2.CfnWebACLAssociation | None = None
        if web_acl_arn:
            self.web_acl = wafv2.CfnWebACLAssociation(self, "WebAcl", resource_arn=self.stage.stage_arn,
                                                      web_acl_arn=web_acl_arn)

    @property
    def stage(self) -> apigateway.Stage:
        return self.rest_api.deployment_stage

    @property
    def url(self) -> str:
        """`https://<id>.execute-api.<region>.amazonaws.com/<stage>/`"""
        return self.rest_api.url

    @property
    def api_url(self) -> str:
        return f"{self.rest_api.url}v1"

    @property
    def admin_url(self) -> str:
        return f"{self.rest_api.url}admin"
