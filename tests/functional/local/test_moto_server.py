"""The in-process moto's two workarounds hold: nothing it creates stays reachable after a
request, and a transaction copies each table once yet still rolls back as a whole."""

from __future__ import annotations

import copy
import gc
import uuid
from typing import Any

import pytest

from aigw.local.environment import LocalAws
from aigw.local.resources import create_table
from aigw.names import TableSpec


@pytest.fixture
def table(local_aws: LocalAws) -> Any:
    name = "moto-test-" + uuid.uuid4().hex[:8]
    create_table(local_aws.aws.dynamodb_client(), TableSpec(logical_id="T", env_var="UNUSED", default_name=name))
    return local_aws.aws.dynamodb_resource().Table(name)


def transact(table: Any, updates: int, *, fail_last: bool = False) -> None:
    items = [{"Update": {"TableName": table.name, "Key": {"pk": "c", "sk": f"s{i}"},
                         "UpdateExpression": "ADD used :one", "ExpressionAttributeValues": {":one": 1}}}
             for i in range(updates)]
    if fail_last:
        items[-1]["Update"].update(ConditionExpression="attribute_exists(nothing)")
    table.meta.client.transact_write_items(TransactItems=items)


def test_model_copies_do_not_accumulate(table: Any) -> None:
    from moto.core.model_instances import model_data
    from moto.dynamodb.models.table import Table

    transact(table, 3)
    gc.collect()
    before = sum(isinstance(o, Table) for o in gc.get_objects())
    for _ in range(100):
        transact(table, 3)
    gc.collect()
    after = sum(isinstance(o, Table) for o in gc.get_objects())
    assert after - before < 5  # moto as shipped keeps 3 more per transaction: 300
    assert not any(getattr(cls, "instances_tracked", None) for cls in model_data["dynamodb"].values())


def test_one_copy_per_table_and_a_whole_rollback(table: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.table import Table

    real = copy.deepcopy
    copies: list[str] = []

    def counting(obj: Any, memo: Any = None) -> Any:
        if isinstance(obj, Table):
            copies.append(obj.name)
        return real(obj, memo)

    transact(table, 8)
    monkeypatch.setattr(copy, "deepcopy", counting)
    transact(table, 8)
    assert copies == [table.name]  # moto as shipped: 8 copies
    with pytest.raises(table.meta.client.exceptions.TransactionCanceledException):
        transact(table, 8, fail_last=True)  # 7 updates applied, then the 8th refuses: all undone
    monkeypatch.undo()
    items = {i["sk"]: i["used"] for i in table.scan()["Items"]}
    assert items == {f"s{i}": 2 for i in range(8)}
