"""The DynamoDB tables, exactly as `aigw.names.TABLES` describes them (the local runner reads the same)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from aigw.names import PK, SK, TABLES, TableSpec


class Data(Construct):
    """One on-demand table per spec: string pk/sk, PITR, TTL, kept when the stack is deleted;
    encrypted with an AWS-owned key, or with `encryption_key` (the opt-in customer-managed one)."""

    def __init__(self, scope: Construct, id: str, *, specs: tuple[TableSpec, ...] = TABLES,
                 encryption_key: kms.IKey | None = None) -> None:
        super().__init__(scope, id)
        self._specs = specs
        self._encryption_key = encryption_key
        self.tables: dict[str, dynamodb.Table] = {spec.logical_id: self._table(spec) for spec in specs}

    def table(self, spec: TableSpec) -> dynamodb.Table:
        return self.tables[spec.logical_id]

    @property
    def environment(self) -> dict[str, str]:
        """The env vars through which the runtime finds each table."""
        return {spec.env_var: self.tables[spec.logical_id].table_name for spec in self._specs}

    def _table(self, spec: TableSpec) -> dynamodb.Table:
        table = dynamodb.Table(
            self, spec.logical_id,
            partition_key=dynamodb.Attribute(name=PK, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=SK, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=spec.ttl_attribute,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            encryption=(dynamodb.TableEncryption.CUSTOMER_MANAGED if self._encryption_key is not None
                        else dynamodb.TableEncryption.DEFAULT),
            encryption_key=self._encryption_key,
        )
        for index_name, pk, sk in spec.gsis:
            table.add_global_secondary_index(
                index_name=index_name,
                partition_key=dynamodb.Attribute(name=pk, type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=sk, type=dynamodb.AttributeType.STRING),
                projection_type=dynamodb.ProjectionType.ALL,
            )
        return table
