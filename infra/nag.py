"""cdk-nag's AwsSolutions pack and checkov's CloudFormation checks: every finding we acknowledge,
with its reason, in one place.

cdk-nag 3 is a CDK policy-validation plugin: `enable(app)` makes `cdk synth` fail on any
finding not acknowledged here. Wildcard findings (IAM5) are acknowledged one resource at a
time, so a new wildcard anywhere fails the synth until someone writes down why it is needed.

checkov reads skips from each resource's `Metadata.checkov.skip` (id + comment), which
`acknowledge` writes for exactly the findings below; `checkov -f cdk.out/aigw.template.json`
then reports them as skipped with these reasons (README, "Security review"). Findings fixed in
the stack instead: reserved concurrency (CKV_AWS_115) by default; with `-c kms=true`,
customer-managed encryption of tables, secrets, logs, the alarm topic and the functions'
environment (CKV_AWS_119, 149, 158, 26, 173).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.constructs.api import Api
    from infra.constructs.audit import AuditExport
    from infra.constructs.data import Data
    from infra.constructs.functions import Functions
    from infra.constructs.secrets import ProviderSecrets
    from infra.settings import Settings


class GatewayStack(Protocol):
    """What the suppressions read of the stack (infra.stack.GatewayStack, which calls them)."""

    @property
    def api(self) -> Api: ...
    @property
    def functions(self) -> Functions: ...
    @property
    def secrets(self) -> ProviderSecrets: ...
    @property
    def data(self) -> Data: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def audit(self) -> AuditExport | None: ...
    @property
    def bedrock_resources(self) -> list[str]: ...
    @property
    def partition(self) -> str: ...
    def get_logical_id(self, element: cdk.CfnElement) -> str: ...
    def resolve(self, obj: Any) -> Any: ...

PACK = "AwsSolutions"

VIRTUAL_KEYS = (
    "/v1 is authenticated by the gateway's own virtual keys (a SHA-256 lookup in DynamoDB, cached in the "
    "warm function; docs/DESIGN.md §3-4): an API Gateway authorizer would add a second Lambda hop per request "
    "to check the same thing. /health is a public liveness probe that reveals nothing."
)


KMS_OPT_IN = (
    "Encrypted at rest with an AWS-owned key (no cost, no key to manage). A customer-managed key is opt-in "
    "(-c kms=true; infra/constructs/keys.py): $1/month plus requests, worth it when key-level control is required."
)
CHECKOV: dict[str, str] = {
    "CKV_AWS_59": VIRTUAL_KEYS,
    "CKV_AWS_117": "No VPC: the functions call public provider APIs and AWS service endpoints with IAM; a VPC would "
                   "need a NAT gateway (about $32/month per AZ at idle) for no isolation gain.",
    "CKV_AWS_116": "Both functions are invoked synchronously by API Gateway (RequestResponse); a dead-letter queue "
                   "only ever receives failed asynchronous invocations.",
    "CKV_AWS_120": "API Gateway caching cannot apply: streamed integrations are never cached, answers are per "
                   "virtual key and POST; the gateway keeps its own tenant-scoped exact and semantic cache.",
    "CKV_AWS_173": "The environment holds only table names, the config path and the secret name prefix, never a "
                   "credential (those are in Secrets Manager). " + KMS_OPT_IN,
    "CKV_AWS_119": KMS_OPT_IN, "CKV_AWS_149": KMS_OPT_IN, "CKV_AWS_158": KMS_OPT_IN, "CKV_AWS_26": KMS_OPT_IN,
    "CKV_AWS_18": "The audit bucket is written only by its Firehose stream and read through Athena; object-level "
                  "access auditing belongs in CloudTrail S3 data events, not a second logging bucket.",
    "CKV_AWS_145": KMS_OPT_IN, "CKV_AWS_241": KMS_OPT_IN,
    "CKV_AWS_115": "Reserved concurrency turned off on purpose (-c <function>_reserved_concurrency=none), e.g. in an "
                   "account whose Lambda quota is too small to reserve any (README, Blast radius).",
}


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
    if stack.audit is not None:
        audit = stack.audit
        _ack(audit.bucket, "S1", "The audit bucket is written only by its Firehose stream and read through Athena; "
             "server access logs would be a second bucket logging reads of the first. CloudTrail S3 data events "
             "are the place for object-level access auditing where required.")
        bucket_id = stack.resolve(stack.get_logical_id(_cfn(audit.bucket)))
        for prefix in ("requests", "errors"):
            _ack(audit.firehose_role, f"IAM5[Resource::<{bucket_id}.Arn>/{prefix}/*]", "Firehose writes new "
                 f"objects under the audit bucket's {prefix}/ prefix, one per buffer: their keys are not known in "
                 "advance. Only this bucket and prefix.")
    acknowledge_checkov(stack)


def acknowledge_checkov(stack: GatewayStack) -> None:
    """Write checkov's skips onto exactly the resources each finding is about."""
    functions, api, kms = stack.functions, stack.api, stack.settings.kms
    for resource in (api.v1.node.find_child("{proxy+}").node.find_child("ANY"), api.health.node.find_child("GET")):
        _skip(resource, "CKV_AWS_59")
    _skip(api.stage, "CKV_AWS_120")
    if stack.audit is not None:
        _skip(stack.audit.bucket, "CKV_AWS_18")
    for function in functions.all:
        _skip(function, "CKV_AWS_117")
        _skip(function, "CKV_AWS_116")
        if function.node.default_child.reserved_concurrent_executions is None:  # type: ignore[union-attr]
            _skip(function, "CKV_AWS_115")
    if kms:
        return
    for function in functions.all:
        _skip(function, "CKV_AWS_173")
    for table in stack.data.tables.values():
        _skip(table, "CKV_AWS_119")
    for secret in stack.secrets.secrets.values():
        _skip(secret, "CKV_AWS_149")
    for log_group in (api.access_logs, *(functions.node.find_child(f"{f.node.id}Logs") for f in functions.all)):
        _skip(log_group, "CKV_AWS_158")
    _skip(stack.observability.topic, "CKV_AWS_26")
    if stack.audit is not None:
        _skip(stack.audit.errors, "CKV_AWS_158")
        _skip(stack.audit.bucket, "CKV_AWS_145")
        _skip(stack.audit.stream, "CKV_AWS_241")


def _skip(construct: IConstruct, check: str) -> None:
    resource = _cfn(construct)
    assert isinstance(resource, cdk.CfnResource)
    existing = resource.get_metadata("checkov") or {"skip": []}
    existing["skip"].append({"id": check, "comment": CHECKOV[check]})
    resource.add_metadata("checkov", existing)


def _ack(scope: IConstruct | None, rule: str, reason: str) -> None:
    if scope is None:
        raise ValueError(f"nothing to acknowledge {rule} on")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{PACK}-{rule}", reason=reason))


def _cfn(construct: IConstruct) -> cdk.CfnElement:
    if isinstance(construct, cdk.CfnElement):
        return construct
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnElement)
    return child
