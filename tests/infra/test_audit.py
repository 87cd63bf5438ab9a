"""The opt-in audit trail (gateway log lines -> Firehose -> S3 -> Glue/Athena) and budget alert routing."""

from __future__ import annotations

import json
import re

from aws_cdk.assertions import Match

from infra.constructs.audit import COLUMNS, REQUEST_FILTER
from tests.infra.conftest import Synth, as_list, flatten, statements


def _role_policy(synth: Synth, role_logical_id: str) -> dict[str, set[str]]:
    policy: dict[str, set[str]] = {}
    for statement in statements(synth, role_logical_id):
        condition = f" if {json.dumps(statement['Condition'], sort_keys=True)}" if "Condition" in statement else ""
        for resource in map(str, as_list(statement["Resource"])):
            policy.setdefault(resource + condition, set()).update(as_list(statement["Action"]))
    return policy


def test_off_by_default(default: Synth) -> None:
    for kind in ("AWS::KinesisFirehose::DeliveryStream", "AWS::S3::Bucket", "AWS::Glue::Table",
                 "AWS::Logs::SubscriptionFilter", "AWS::Athena::WorkGroup"):
        default.template.resource_count_is(kind, 0)


def test_gateway_request_lines_flow_to_firehose(empty: Synth) -> None:
    audit = empty.stack.audit
    assert audit is not None
    empty.template.has_resource_properties("AWS::Logs::SubscriptionFilter", {
        "LogGroupName": {"Ref": empty.id_of(empty.stack.functions.log_groups["Gateway"])},
        "FilterPattern": REQUEST_FILTER,
        "DestinationArn": {"Fn::GetAtt": [empty.stack.resolve(audit.stream.logical_id), "Arn"]},
    })
    stream = next(iter(empty.resources("AWS::KinesisFirehose::DeliveryStream").values()))["Properties"]
    s3 = stream["ExtendedS3DestinationConfiguration"]
    assert s3["Prefix"] == "requests/dt=!{timestamp:yyyy-MM-dd}/" and s3["CompressionFormat"] == "GZIP"
    assert s3["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert [p["Type"] for p in s3["ProcessingConfiguration"]["Processors"]] == [
        "Decompression", "CloudWatchLogProcessing", "AppendDelimiterToRecord"]
    assert stream["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}


def test_bucket_is_private_encrypted_versioned_and_expires(empty: Synth) -> None:
    empty.template.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "VersioningConfiguration": {"Status": "Enabled"},
        "LifecycleConfiguration": {"Rules": Match.array_with([
            Match.object_like({"Id": "retention", "Prefix": "requests/", "ExpirationInDays": 90,
                               "Status": "Enabled"})])},
    })
    empty.template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})
    policy = next(iter(empty.resources("AWS::S3::BucketPolicy").values()))["Properties"]["PolicyDocument"]
    assert any(st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
               for st in policy["Statement"])


def test_with_kms_the_trail_uses_the_stack_key(semantic: Synth) -> None:
    assert semantic.stack.encryption is not None
    key = {"Fn::GetAtt": [semantic.id_of(semantic.stack.encryption.key), "Arn"]}
    semantic.template.has_resource_properties("AWS::S3::Bucket", {"BucketEncryption": {
        "ServerSideEncryptionConfiguration": [{"BucketKeyEnabled": True, "ServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]}})
    semantic.template.has_resource_properties("AWS::KinesisFirehose::DeliveryStream", {
        "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": key}})


def test_each_role_does_one_thing(empty: Synth) -> None:
    audit = empty.stack.audit
    assert audit is not None
    bucket = f"${{{empty.id_of(audit.bucket)}.Arn}}"
    firehose = _role_policy(empty, empty.id_of(audit.firehose_role))
    s3_actions = {"s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                  "s3:ListBucketMultipartUploads", "s3:PutObject"}
    assert {r: a for r, a in firehose.items() if not r.startswith("arn:")} == {
        bucket: s3_actions, f"{bucket}/requests/*": s3_actions, f"{bucket}/errors/*": s3_actions}
    (log_stream,) = [r for r in firehose if r.startswith("arn:")]
    assert ":log-stream:" in log_stream and firehose[log_stream] == {"logs:PutLogEvents"}
    stream = f"${{{empty.stack.resolve(audit.stream.logical_id)}.Arn}}"
    assert _role_policy(empty, empty.id_of(audit.logs_role)) == {stream: {"firehose:PutRecord",
                                                                          "firehose:PutRecordBatch"}}
    trust = empty.json["Resources"][empty.id_of(audit.firehose_role)]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}}
    trust = empty.json["Resources"][empty.id_of(audit.logs_role)]["Properties"]["AssumeRolePolicyDocument"]
    assert flatten(trust["Statement"][0]["Principal"]) == {"Service": "logs.${AWS::Region}.amazonaws.com"}


def test_glue_table_reads_the_day_partitions_without_a_crawler(empty: Synth) -> None:
    table = next(iter(empty.resources("AWS::Glue::Table").values()))["Properties"]["TableInput"]
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true" and parameters["projection.dt.format"] == "yyyy-MM-dd"
    assert parameters["projection.dt.range"] == "NOW-90DAYS,NOW"
    assert str(flatten(parameters["storage.location.template"])).endswith("/requests/dt=${dt}/")
    descriptor = table["StorageDescriptor"]
    assert descriptor["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    names = [column["Name"] for column in descriptor["Columns"]]
    assert names == [name for name, _ in COLUMNS]
    for field in ("team", "model", "key_id", "cost_usd", "input_tokens", "output_tokens", "timestamp"):
        assert field in names
    empty.template.resource_count_is("AWS::Glue::Crawler", 0)
    empty.template.has_resource_properties("AWS::Athena::WorkGroup", {"WorkGroupConfiguration": Match.object_like({
        "EnforceWorkGroupConfiguration": True, "BytesScannedCutoffPerQuery": 10 * 1024 ** 3})})


def test_request_record_fields_are_all_columns() -> None:
    """Every field the gateway writes on the request line is queryable (a new field needs a column)."""
    import inspect

    from aigw import observability

    written: set[str] = set()
    for function in (observability.request_record, observability.refusal_record):
        source = inspect.getsource(function)
        written |= set(re.findall(r'"(\w+)": ', source))
    assert len(written) > 25
    assert written <= {name for name, _ in COLUMNS}, sorted(written - {name for name, _ in COLUMNS})


def test_budget_alerts_reach_the_alarm_topic(default: Synth) -> None:
    topic = {"Ref": default.id_of(default.stack.observability.topic)}
    default.template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"detail-type": ["aigw.budget.threshold"]},
        "State": "ENABLED",
        "Targets": [Match.object_like({"Arn": topic, "InputTransformer": Match.object_like({
            "InputPathsMap": Match.object_like({"detail-scope": "$.detail.scope",
                                                "detail-threshold": "$.detail.threshold"})})})],
    })
    policy = next(iter(default.resources("AWS::SNS::TopicPolicy").values()))["Properties"]["PolicyDocument"]
    assert any(st.get("Principal") == {"Service": "events.amazonaws.com"} and st["Action"] == "sns:Publish"
               for st in policy["Statement"])
