"""Create the stack's tables and secrets locally, from the same definitions CDK uses."""

from __future__ import annotations

import os
from typing import Any

from aigw.aws import table_name
from aigw.names import PK, SK, TABLES, TableSpec


def create_table(dynamodb_client: Any, spec: TableSpec) -> None:
    attributes = {PK, SK}
    gsis = []
    for index, pk, sk in spec.gsis:
        attributes |= {pk, sk}
        gsis.append({"IndexName": index, "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"},
                                                       {"AttributeName": sk, "KeyType": "RANGE"}],
                     "Projection": {"ProjectionType": "ALL"}})
    kwargs: dict[str, Any] = {
        "TableName": table_name(spec),
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = gsis
    try:
        dynamodb_client.create_table(**kwargs)
    except dynamodb_client.exceptions.ResourceInUseException:
        return
    if spec.ttl_attribute:
        dynamodb_client.update_time_to_live(
            TableName=table_name(spec),
            TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute})


def create_tables(dynamodb_client: Any) -> None:
    for spec in TABLES:
        create_table(dynamodb_client, spec)


def put_local_secrets(secrets_client: Any, credential_names: list[str], *, prefix: str) -> list[str]:
    """Copy AIGW_SECRET_<NAME> values into local Secrets Manager; returns the names stored."""
    from aigw.names import ENV_LOCAL_SECRET_PREFIX

    stored = []
    for name in credential_names:
        value = os.environ.get(ENV_LOCAL_SECRET_PREFIX + name.upper().replace("-", "_"))
        if value is None:
            continue
        secret_id = prefix + name
        try:
            secrets_client.create_secret(Name=secret_id, SecretString=value)
        except secrets_client.exceptions.ResourceExistsException:
            secrets_client.put_secret_value(SecretId=secret_id, SecretString=value)
        stored.append(name)
    return stored
