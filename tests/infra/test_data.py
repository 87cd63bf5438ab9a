"""The tables: exactly `aigw.names.TABLES`, on demand, PITR, TTL, retained on stack deletion."""

from __future__ import annotations

from aws_cdk.assertions import Match

from aigw.names import PK, SK, TABLES
from tests.infra.conftest import Synth


def test_one_table_per_spec(default: Synth) -> None:
    default.template.resource_count_is("AWS::DynamoDB::Table", len(TABLES))


def test_every_table_is_on_demand_with_pitr_ttl_and_string_keys(default: Synth) -> None:
    for spec in TABLES:
        table_id = default.id_of(default.stack.data.table(spec))
        resource = default.json["Resources"][table_id]
        assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain"
        props = resource["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["KeySchema"] == [{"AttributeName": PK, "KeyType": "HASH"},
                                      {"AttributeName": SK, "KeyType": "RANGE"}]
        assert {"AttributeName": PK, "AttributeType": "S"} in props["AttributeDefinitions"]
        assert {"AttributeName": SK, "AttributeType": "S"} in props["AttributeDefinitions"]
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
        assert "TableName" not in props  # CloudFormation names them: two stacks never collide


def test_global_secondary_indexes_follow_the_specs(default: Synth) -> None:
    for spec in TABLES:
        props = default.json["Resources"][default.id_of(default.stack.data.table(spec))]["Properties"]
        indexes = props.get("GlobalSecondaryIndexes", [])
        assert [index["IndexName"] for index in indexes] == [name for name, _, _ in spec.gsis]
        for (name, pk, sk), index in zip(spec.gsis, indexes, strict=True):
            assert index == {
                "IndexName": name,
                "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
            assert {"AttributeName": pk, "AttributeType": "S"} in props["AttributeDefinitions"]


def test_tables_keep_data_when_the_stack_goes(default: Synth) -> None:
    default.template.all_resources("AWS::DynamoDB::Table", {
        "DeletionPolicy": "Retain", "Properties": Match.object_like({"BillingMode": "PAY_PER_REQUEST"}),
    })
