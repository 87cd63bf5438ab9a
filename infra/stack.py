"""The gateway stack: composes the constructs and makes every grant between them, here only.

What each function may do (least privilege; the action lists are `infra/access.py`):
- gateway: read Entities (GetItem, BatchGetItem); update Counters through its transactions and
  read them (UpdateItem, BatchGetItem); read and write Cache items (GetItem, PutItem); store,
  read and delete stored responses (Query, PutItem, DeleteItem, BatchWriteItem); read its
  own provider secrets (GetSecretValue); put budget alerts on the default event bus (PutEvents);
  apply the configured Bedrock guardrails; invoke the configured Bedrock models (and the default
  embedder when the semantic cache uses it); use its vector collection when there is one.
- admin: manage Entities (GetItem, PutItem, UpdateItem, DeleteItem, Scan; Query on gsi1) and
  read Counters (BatchGetItem, Query); nothing else.
Both also write their own log group and X-Ray traces; with `kms`, they may use the stack's key
for exactly the data above.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from aigw.names import (
    ENV_CONFIG_PATH,
    ENV_SECRET_PREFIX,
    ENV_VECTOR_COLLECTION_ENDPOINT,
    METRICS_NAMESPACE,
    TIKTOKEN_CACHE_ENV,
)
from infra import access, bedrock, nag
from infra.bytecode import Bytecode
from infra.constructs.api import STAGE_NAME, Api
from infra.constructs.audit import AuditExport
from infra.constructs.data import Data
from infra.constructs.functions import Functions
from infra.constructs.keys import EncryptionKey
from infra.constructs.layers import CONFIG_PATH, TIKTOKEN_CACHE_DIR, Layers
from infra.constructs.observability import Observability
from infra.constructs.secrets import ProviderSecrets
from infra.constructs.vector_cache import VectorCache, collection_name
from infra.settings import LOG_RETENTION_DAYS, ROOT, Settings


class GatewayStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(scope, id, description="aigw: a serverless AI gateway", **kwargs)
        self.settings = settings
        config = settings.config
        retention = logs.RetentionDays[LOG_RETENTION_DAYS[settings.log_retention_days]]

        self.bytecode = Bytecode.resolve(settings.bytecode)
        warning = self.bytecode.warning()
        if warning:
            cdk.Annotations.of(self).add_warning_v2("aigw:bytecode", warning)
        self.encryption: EncryptionKey | None = EncryptionKey(self, "Encryption") if settings.kms else None
        key = self.encryption.key if self.encryption is not None else None

        self.layers = Layers(
            self, "Layers", root=ROOT, config_json=config.model_dump_json(), bytecode=self.bytecode,
            skip_deps_bundling=settings.skip_deps_bundling, web_adapter_layer_arn=settings.web_adapter_layer_arn,
        )
        self.data = Data(self, "Data", encryption_key=key)
        self.secrets = ProviderSecrets(self, "Secrets", credential_names=config.credential_names,
                                       prefix=settings.secret_prefix, encryption_key=key)
        shared_environment = {
            ENV_CONFIG_PATH: CONFIG_PATH,
            ENV_SECRET_PREFIX: settings.secret_prefix,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            **self.data.environment,
        }
        self.functions = Functions(
            self, "Functions",
            code_dir=ROOT / "functions",
            gateway_layers=[self.layers.web_adapter, self.layers.base, self.layers.gateway_dependencies,
                            self.layers.tiktoken, self.layers.config],
            admin_layers=[self.layers.base, self.layers.config],
            environment=shared_environment,
            log_retention=retention,
            gateway_memory_mb=settings.gateway_memory_mb,
            admin_memory_mb=settings.admin_memory_mb,
            bytecode=self.bytecode,
            gateway_reserved_concurrency=settings.gateway_reserved_concurrency,
            admin_reserved_concurrency=settings.admin_reserved_concurrency,
            encryption_key=key,
        )
        gateway, admin = self.functions.gateway, self.functions.admin
        gateway.add_environment(TIKTOKEN_CACHE_ENV, TIKTOKEN_CACHE_DIR)

        self.vector_cache: VectorCache | None = None
        if settings.vector_collection:
            self.vector_cache = VectorCache(self, "VectorCache", name=collection_name(settings.stack_name),
                                            standby_replicas=config.cache.semantic.standby_replicas)
            gateway.add_environment(ENV_VECTOR_COLLECTION_ENDPOINT, self.vector_cache.endpoint)

        self.api = Api(
            self, "Api", gateway=gateway, admin=admin,
            throttle_rate_limit=settings.throttle_rate_limit, throttle_burst_limit=settings.throttle_burst_limit,
            log_retention=retention, web_acl_arn=settings.web_acl_arn, encryption_key=key,
        )
        self.observability = Observability(
            self, "Observability", api_name=self.api.rest_api.rest_api_name, stage_name=STAGE_NAME,
            gateway=gateway, gateway_logs=self.functions.log_groups["Gateway"], admin=admin,
            spend_alarm_usd_per_hour=settings.spend_alarm_usd_per_hour,
            alarm_email=settings.alarm_email, encryption_key=key,
        )

        self.audit: AuditExport | None = None
        if settings.audit_export:
            self.audit = AuditExport(self, "Audit", source=self.functions.log_groups["Gateway"],
                                     retention_days=settings.audit_retention_days, log_retention=retention,
                                     encryption_key=key)

        # ---- grants: everything either function may touch, and nothing else ----------------
        assert gateway.role is not None and admin.role is not None  # Functions gives each a role of its own
        for spec, actions in access.GATEWAY_TABLES.items():
            access.grant_table(gateway.role, self.data.table(spec), actions)
        for spec, actions in access.ADMIN_TABLES.items():
            access.grant_table(admin.role, self.data.table(spec), actions)
        for (spec, index), actions in access.ADMIN_INDEXES.items():
            access.grant_index(admin.role, self.data.table(spec), index, actions)
        if self.secrets.secrets:
            gateway.role.add_to_principal_policy(iam.PolicyStatement(
                actions=list(access.SECRET_READ),
                resources=[secret.secret_arn for secret in self.secrets.secrets.values()]))
            if key is not None:
                gateway.role.add_to_principal_policy(iam.PolicyStatement(
                    actions=list(access.KMS_DECRYPT), resources=[key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{self.region}.amazonaws.com"}}))
        gateway.role.add_to_principal_policy(iam.PolicyStatement(
            actions=list(access.PUT_EVENTS),
            resources=[self.format_arn(service="events", resource="event-bus", resource_name="default")]))
        self.guardrail_resources = bedrock.guardrail_arns(
            config.bedrock_guardrails, region=self.region, account=self.account, partition=self.partition)
        if self.guardrail_resources:
            gateway.role.add_to_principal_policy(iam.PolicyStatement(actions=list(access.APPLY_GUARDRAIL),
                                                                     resources=self.guardrail_resources))
        self.bedrock_resources = bedrock.model_arns(
            settings.bedrock_models, region=self.region, account=self.account, partition=self.partition)
        if self.bedrock_resources:
            gateway.add_to_role_policy(iam.PolicyStatement(actions=bedrock.INVOKE_ACTIONS,
                                                           resources=self.bedrock_resources))
        if self.vector_cache is not None:
            self.vector_cache.grant_data_access(gateway.role)

        cdk.CfnOutput(self, "ApiUrl", value=self.api.api_url,
                      description="OpenAI/Anthropic SDK base URL (base_url)")
        cdk.CfnOutput(self, "AdminUrl", value=self.api.admin_url,
                      description="admin API, SigV4-signed: aigw --url <AdminUrl> ...")
        cdk.CfnOutput(self, "DashboardUrl", value=(
            f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
            f"#dashboards:name={self.observability.dashboard.dashboard_name}"))
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.observability.topic.topic_arn,
                      description="subscribe to receive alarms")
        if self.audit is not None:
            cdk.CfnOutput(self, "AuditBucket", value=self.audit.bucket.bucket_name,
                          description="the audit trail: requests/dt=YYYY-MM-DD/*.gz")
            cdk.CfnOutput(self, "AuditAthena", value=f"{self.audit.database_name}.requests",
                          description=f"query with: aws athena start-query-execution --work-group "
                          f"{self.audit.workgroup.name} --query-string ...")
        if self.secrets.secrets:
            cdk.CfnOutput(self, "SecretNames", value=" ".join(
                f"{settings.secret_prefix}{name}" for name in self.secrets.secrets),
                description="set each with aws secretsmanager put-secret-value")

        nag.acknowledge(self)
