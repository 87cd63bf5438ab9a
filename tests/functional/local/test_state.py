"""local/state.py against the in-process moto: what is saved comes back exactly, expired items
do not, a broken file is a clear error, and writes are attributed to the right tables."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import Binary

from aigw.local.environment import LocalAws
from aigw.local.resources import create_table
from aigw.local.state import FORMAT, StateError, StateStore, written_tables
from aigw.names import TableSpec


@pytest.fixture
def spec(local_aws: LocalAws) -> TableSpec:
    """A fresh table; logical id "Entities", so its writes are saved before the answer."""
    name = "state-test-" + uuid.uuid4().hex[:8]
    table = TableSpec(logical_id="Entities", env_var="AIGW_TEST_UNUSED_" + uuid.uuid4().hex[:6], default_name=name)
    create_table(local_aws.aws.dynamodb_client(), table)
    return table


def test_saved_items_come_back_exactly(local_aws: LocalAws, spec: TableSpec, tmp_path: Path) -> None:
    table = local_aws.aws.dynamodb_resource().Table(spec.default_name)
    store = StateStore(tmp_path, specs=[spec])
    store.attach(local_aws.moto.app.lock)
    local_aws.moto.app.observer = store.observe
    now = time.time()
    items: list[dict[str, Any]] = [
        {"pk": "a", "sk": "1", "n": Decimal("12.5"), "s": "héllo", "b": Binary(b"\x00\xff"), "ss": {"x", "y"},
         "ns": {Decimal(1), Decimal(2)}, "m": {"l": [1, "two", {"three": True}], "null": None}},
        {"pk": "a", "sk": "2", "expires_at": Decimal(str(now + 3600))},
        {"pk": "b", "sk": "1", "expires_at": Decimal(str(now - 10))},  # expired: not loaded again
    ]
    try:
        for item in items:
            table.put_item(Item=item)
        table.update_item(Key={"pk": "a", "sk": "2"}, UpdateExpression="ADD c :one",
                          ExpressionAttributeValues={":one": 1})
    finally:
        local_aws.moto.app.observer = None
        store.close()
    saved = json.loads((tmp_path / "entities.json").read_text())
    assert saved["format"] == FORMAT and len(saved["items"]) == 3
    before = {(i["pk"], i["sk"]): i for i in table.scan()["Items"]}
    for key in before:
        table.delete_item(Key={"pk": key[0], "sk": key[1]})

    restored = StateStore(tmp_path, specs=[spec]).load(local_aws.moto.app.lock)
    after = {(i["pk"], i["sk"]): i for i in table.scan()["Items"]}
    assert restored == {"Entities": 2} and set(after) == {("a", "1"), ("a", "2")}
    assert after[("a", "1")] == before[("a", "1")] and after[("a", "2")]["c"] == 1


def test_a_broken_or_foreign_file_is_a_clear_error(local_aws: LocalAws, spec: TableSpec, tmp_path: Path) -> None:
    for text in ('{"format": "aigw-dev-state/1", "items": [', '{"format": "other/9", "items": []}', "[]"):
        (tmp_path / "entities.json").write_text(text)
        with pytest.raises(StateError, match=r"cannot read .*entities\.json.*--ephemeral"):
            StateStore(tmp_path, specs=[spec]).load(local_aws.moto.app.lock)


def test_written_tables() -> None:
    def body(data: Any) -> bytes:
        return json.dumps(data).encode()

    assert written_tables("DynamoDB_20120810.GetItem", body({"TableName": "t"})) == set()
    assert written_tables("DynamoDB_20120810.Query", b"{}") == set()
    assert written_tables("DynamoDB_20120810.UpdateItem", body({"TableName": "t"})) == {"t"}
    assert written_tables("DynamoDB_20120810.BatchWriteItem", body({"RequestItems": {"a": [], "b": []}})) == {"a",
                                                                                                              "b"}
    transact = {"TransactItems": [{"Put": {"TableName": "a"}}, {"Update": {"TableName": "b"}},
                                  {"ConditionCheck": {"TableName": "a"}}]}
    assert written_tables("DynamoDB_20120810.TransactWriteItems", body(transact)) == {"a", "b"}
    assert written_tables("DynamoDB_20120810.ExecuteStatement", b"{}") is None  # PartiQL: any table
    assert written_tables("DynamoDB_20120810.PutItem", b"not json") is None
    assert written_tables("secretsmanager.CreateSecret", body({"Name": "x"})) == set()
