"""The opt-in audit trail (`-c audit_export=true`): every request's log line in S3, queryable with Athena.

    gateway log group --subscription filter { $.message = "request" }--> Firehose
      (decompress, extract the log messages, one per line, gzip) --> S3 requests/dt=YYYY-MM-DD/
    Glue table over it (JSON, partition projection: no crawler) + an Athena workgroup

Nothing runs at idle and nothing is billed at idle but storage: Firehose, Glue's catalog
(first million objects free) and Athena are per use. The bucket keeps objects for
`retention_days` (lifecycle), is versioned, private, TLS-only, and encrypted with S3's key or
the stack's customer-managed one. Two roles, each with one job: CloudWatch Logs may only put
records into this stream; Firehose may only write this bucket's two prefixes and its own
error log.
"""

from __future__ import annotations

import re

import aws_cdk as cdk
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

REQUEST_FILTER = '{ $.message = "request" }'  # the one line per request (observability.py), not EMF or errors
DATA_PREFIX = "requests/"
ERROR_PREFIX = "errors/"
RESULTS_PREFIX = "athena-results/"
FIREHOSE_S3_ACTIONS = ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                       "s3:ListBucketMultipartUploads", "s3:PutObject"]
# The request log line's fields (aigw/observability.py request_record, plus Powertools' own).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("timestamp", "string"), ("level", "string"), ("message", "string"), ("service", "string"),
    ("request_id", "string"), ("api", "string"), ("client_api", "string"), ("operation", "string"),
    ("key_id", "string"), ("team", "string"), ("project", "string"),
    ("end_user", "string"), ("model", "string"), ("served_model", "string"), ("provider", "string"),
    ("deployment", "string"), ("stream", "boolean"), ("status", "int"), ("error_type", "string"),
    ("error", "string"), ("input_tokens", "bigint"), ("output_tokens", "bigint"), ("cached_tokens", "bigint"),
    ("cache_write_tokens", "bigint"), ("reasoning_tokens", "bigint"), ("usage_estimated", "boolean"),
    ("cost_usd", "double"), ("latency_ms", "double"), ("ttft_ms", "double"), ("overhead_ms", "double"),
    ("cache", "string"), ("retries", "int"), ("path", "array<string>"), ("disconnected", "boolean"),
    ("error_code", "string"), ("error_detail", "string"), ("stopped_by", "string"),
    ("route", "string"),  # route: refused before the pipeline
    ("refused_scope", "string"), ("cache_similarity", "double"),  # stage fields (ctx.log_for)
    ("budget_scope", "string"), ("budget_used_pct", "double"),
)


def glue_name(stack_name: str) -> str:
    """Glue and Athena names: lower-case letters, digits and '_'."""
    return re.sub(r"[^a-z0-9_]+", "_", stack_name.lower()).strip("_") + "_audit"


class AuditExport(Construct):
    def __init__(self, scope: Construct, id: str, *, source: logs.ILogGroup, retention_days: int,
                 log_retention: logs.RetentionDays, encryption_key: kms.IKey | None = None) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.bucket = s3.Bucket(
            self, "Bucket",
            encryption=s3.BucketEncryption.KMS if encryption_key is not None else s3.BucketEncryption.S3_MANAGED,
            encryption_key=encryption_key, bucket_key_enabled=encryption_key is not None,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, enforce_ssl=True, versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED, removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(id="retention", prefix=DATA_PREFIX, expiration=cdk.Duration.days(retention_days)),
                s3.LifecycleRule(id="errors", prefix=ERROR_PREFIX, expiration=cdk.Duration.days(30)),
                s3.LifecycleRule(id="query-results", prefix=RESULTS_PREFIX, expiration=cdk.Duration.days(30)),
                s3.LifecycleRule(id="housekeeping", noncurrent_version_expiration=cdk.Duration.days(30),
                                 abort_incomplete_multipart_upload_after=cdk.Duration.days(7)),
            ],
        )
        self.errors = logs.LogGroup(self, "DeliveryErrors", retention=log_retention, encryption_key=encryption_key,
                                    removal_policy=cdk.RemovalPolicy.DESTROY)
        errors_stream = logs.LogStream(self, "DeliveryErrorsStream", log_group=self.errors,
                                       removal_policy=cdk.RemovalPolicy.DESTROY)

        self.firehose_role = iam.Role(
            self, "FirehoseRole", description="aigw audit: Firehose writes the audit bucket",
            assumed_by=iam.ServicePrincipal("firehose.amazonaws.com", conditions={
                "StringEquals": {"sts:ExternalId": stack.account}}))
        self.firehose_role.add_to_principal_policy(iam.PolicyStatement(
            actions=FIREHOSE_S3_ACTIONS,
            resources=[self.bucket.bucket_arn, self.bucket.arn_for_objects(f"{DATA_PREFIX}*"),
                       self.bucket.arn_for_objects(f"{ERROR_PREFIX}*")]))
        self.firehose_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:PutLogEvents"], resources=[
                stack.format_arn(service="logs", resource="log-group",
                                 resource_name=f"{self.errors.log_group_name}:log-stream:{errors_stream.log_stream_name}",
                                 arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)]))
        if encryption_key is not None:
            self.firehose_role.add_to_principal_policy(iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[encryption_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"}}))

        day = "!{timestamp:yyyy-MM-dd}"
        self.stream = firehose.CfnDeliveryStream(
            self, "Stream", delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.
            DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="CUSTOMER_MANAGED_CMK" if encryption_key is not None else "AWS_OWNED_CMK",
                key_arn=encryption_key.key_arn if encryption_key is not None else None),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn, role_arn=self.firehose_role.role_arn,
                prefix=f"{DATA_PREFIX}dt={day}/",
                error_output_prefix=f"{ERROR_PREFIX}!{{firehose:error-output-type}}/dt={day}/",
                compression_format="GZIP",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(interval_in_seconds=300,
                                                                                   size_in_m_bs=64),
                encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                    kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                        awskms_key_arn=encryption_key.key_arn)) if encryption_key is not None else None,
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True, log_group_name=self.errors.log_group_name,
                    log_stream_name=errors_stream.log_stream_name),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True, processors=[
                        _processor("Decompression", CompressionFormat="GZIP"),
                        _processor("CloudWatchLogProcessing", DataMessageExtraction="true"),
                        _processor("AppendDelimiterToRecord"),
                    ]),
            ),
        )
        self.stream.node.add_dependency(_policy_of(self.firehose_role))  # it writes only once allowed to

        self.logs_role = iam.Role(
            self, "LogsRole", description="aigw audit: CloudWatch Logs puts the request lines into Firehose",
            assumed_by=iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com", conditions={
                "StringLike": {"aws:SourceArn": stack.format_arn(service="logs", resource="log-group",
                                                                 resource_name="*",
                                                                 arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)}}))
        self.logs_role.add_to_principal_policy(iam.PolicyStatement(
            actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resources=[self.stream.attr_arn]))
        self.subscription = logs.CfnSubscriptionFilter(
            self, "Subscription", log_group_name=source.log_group_name, filter_pattern=REQUEST_FILTER,
            destination_arn=self.stream.attr_arn, role_arn=self.logs_role.role_arn)
        self.subscription.node.add_dependency(_policy_of(self.logs_role))

        self.database_name = glue_name(stack.stack_name)
        self.database = glue.CfnDatabase(self, "Database", catalog_id=stack.account, database_input=glue.CfnDatabase.
                                         DatabaseInputProperty(name=self.database_name,
                                                               description="aigw audit trail"))
        location = f"s3://{self.bucket.bucket_name}/{DATA_PREFIX}"
        self.table = glue.CfnTable(
            self, "Requests", catalog_id=stack.account, database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name="requests", table_type="EXTERNAL_TABLE",
                description="one row per gateway request (the request log line); partition dt = UTC day",
                partition_keys=[glue.CfnTable.ColumnProperty(name="dt", type="string")],
                parameters={
                    "classification": "json", "compressionType": "gzip", "EXTERNAL": "TRUE",
                    "projection.enabled": "true", "projection.dt.type": "date", "projection.dt.format": "yyyy-MM-dd",
                    "projection.dt.range": f"NOW-{retention_days}DAYS,NOW", "projection.dt.interval": "1",
                    "projection.dt.interval.unit": "DAYS", "storage.location.template": f"{location}dt=${{dt}}/",
                },
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location, input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library="org.openx.data.jsonserde.JsonSerDe",
                        parameters={"ignore.malformed.json": "true"}),
                    columns=[glue.CfnTable.ColumnProperty(name=name, type=kind) for name, kind in COLUMNS],
                ),
            ),
        )
        self.table.add_dependency(self.database)
        self.workgroup = athena.CfnWorkGroup(
            self, "WorkGroup", name=self.database_name.replace("_", "-"), recursive_delete_option=True,
            description="aigw audit queries: results kept 30 days, at most 10 GB scanned per query",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True, publish_cloud_watch_metrics_enabled=False,
                bytes_scanned_cutoff_per_query=10 * 1024 ** 3,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(
                    selected_engine_version="Athena engine version 3"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{self.bucket.bucket_name}/{RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS" if encryption_key is not None else "SSE_S3",
                        kms_key=encryption_key.key_arn if encryption_key is not None else None)),
            ),
        )


def _policy_of(role: iam.Role) -> Construct:
    """The role's default policy: depending on the role itself would repeat the GetAtt's dependency."""
    policy = role.node.find_child("DefaultPolicy")
    assert isinstance(policy, Construct)
    return policy


def _processor(kind: str, **parameters: str) -> firehose.CfnDeliveryStream.ProcessorProperty:
    return firehose.CfnDeliveryStream.ProcessorProperty(type=kind, parameters=[
        firehose.CfnDeliveryStream.ProcessorParameterProperty(parameter_name=name, parameter_value=value)
        for name, value in parameters.items()] or None)
