"""cdk-nag's AwsSolutions pack, and every finding we acknowledge with its reason, in one place.

cdk-nag 3 is a CDK policy-validation plugin: `enable(app)` makes `cdk synth` fail on any
finding not acknowledged here. Wildcard findings (IAM5) are acknowledged one resource at a
time, so a new wildcard anywhere fails the synth until someone writes down why it is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.stack import GatewayStack

PACK = "AwsSolutions"

VIRTUAL_KEYS = (
    "/v1 is authenticated by the gateway's own virtual keys (a SHA-256 lookup in DynamoDB, cached in the "
    "warm function; docs/DESIGN.md §3-4): an API Gateway authorizer would add a second Lambda hop per request "
    "to check the same thing. /health is a public liveness probe that reveals nothing."
)


def enable(app: cdk.App) -> None:
    """Run the pack at synth: any finding not acknowledged below fails `cdk synth`."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def checks() -> AwsSolutionsChecks:
    """The same pack, for tests: `checks().validate_scope(stack).violations`."""
    return AwsSolutionsChecks()


def acknowledge(stack: GatewayStack) -> None:
    functions, api = stack.functions, stack.api

    for secret in stack.secrets.secrets.values():
        _ack(secret, "SMG4", "Provider API keys are issued by third parties (OpenAI, Anthropic, ...) and "
             "cannot be rotated from inside AWS: rotate at the provider, then put-secret-value (README, deploy).")

    for function in functions.all:
        _ack(function, "L1", "python3.13 is deliberate: the dependency layer is built from CPython 3.13 wheels "
             "and the runtime is tested on 3.13. Moving to a newer runtime moves the layer with it.")
        _ack(function.role, "IAM5[Resource::*]", "Only X-Ray's PutTraceSegments/PutTelemetryRecords (active "
             "tracing): X-Ray has no resource-level permissions. tests/infra checks that nothing else is on '*'.")

    for arn in stack.bedrock_resources:
        if "*" in arn:
            finding = arn.replace(stack.partition, "<AWS::Partition>")
            _ack(functions.gateway.role, f"IAM5[Resource::{finding}]",
                 "A cross-region inference profile routes to the same foundation model in any region of its "
                 "geography; Bedrock authorizes the profile (granted in one region) and the model in the region "
                 "that serves the call. The model id is pinned; only the region is open.")

    _ack(api.rest_api, "APIG2", "Proxy integrations: the functions validate every body with the same pydantic "
         "models the gateway serves, and answer 400 in the OpenAI/Anthropic error envelope; an API Gateway "
         "model would duplicate the OpenAI schema and drift from it.")
    _ack(api.rest_api, "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
         "AmazonAPIGatewayPushToCloudWatchLogs]", "The AWS-managed policy of API Gateway's account-level "
         "logging role, which access and execution logging require.")
    if api.web_acl is None:
        _ack(api.stage, "APIG3", "WAF is opt-in (a web ACL costs about $5/month plus per-request fees): "
             "deploy with -c web_acl_arn=<regional web ACL ARN> to associate one. Requests are already "
             "throttled per stage and rate-limited per virtual key.")
    for resource in (api.v1, api.health):
        _ack(resource, "APIG4", VIRTUAL_KEYS)
        _ack(resource, "COG4", VIRTUAL_KEYS)
    _ack(api.admin, "COG4", "/admin uses IAM (SigV4) authorization: its callers are AWS principals "
         "(platform operators and their CI), not Cognito users.")


def _ack(scope: IConstruct | None, rule: str, reason: str) -> None:
    if scope is None:
        raise ValueError(f"nothing to acknowledge {rule} on")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{PACK}-{rule}", reason=reason))


def _cfn(construct: IConstruct) -> cdk.CfnElement:
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return child
