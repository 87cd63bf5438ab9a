"""The opt-in customer-managed KMS key (`-c kms=true`): tables, secrets, log groups, alarm topic.

Off by default: AWS-owned keys already encrypt every one of them at rest at no cost, and a
customer-managed key costs $1/month plus $0.03 per 10,000 requests (the gateway's DynamoDB and
Secrets Manager reads are cached by those services' own data keys, so per-request KMS calls are
rare). Turn it on when an auditor needs key-level control: key policy, rotation, CloudTrail of
every use, and the ability to revoke access to all the data at once by disabling the key.

One key for the stack, rotated yearly, kept when the stack is deleted (the retained tables need
it). Principals get only the KMS actions their data calls need (`infra/access.py`); the two
services that encrypt on their own behalf are let in by the key policy, each bound to this
account: CloudWatch Logs (for this account's log groups), and CloudWatch alarms and EventBridge
(to publish alarms and budget alerts to the encrypted SNS topic).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

LOGS_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"]
ALARM_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


class EncryptionKey(Construct):
    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        stack = cdk.Stack.of(self)
        self.key = kms.Key(
            self, "Key", description=f"{stack.stack_name}: tables, provider secrets, logs and the alarm topic",
            alias=f"alias/{stack.stack_name}", enable_key_rotation=True, pending_window=cdk.Duration.days(30),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchLogsOfThisAccount",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=LOGS_ACTIONS, resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                    f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"}},
        ))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AlarmsAndBudgetAlertsToTheAlarmTopic",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com"), iam.ServicePrincipal("events.amazonaws.com")],
            actions=ALARM_ACTIONS, resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
        ))
