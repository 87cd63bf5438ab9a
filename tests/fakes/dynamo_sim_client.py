"""The client side of the simulated DynamoDB: what `resource.meta.client` looks like to the gateway.

Python values in requests and successful responses (the resource layer's serialization), typed
attribute maps in error payloads (botocore does not deserialize those), botocore's exception
classes built from the real service model, and botocore's legacy retry policy for DynamoDB
around every call (see tests/fakes/dynamo_sim.py).
"""

from __future__ import annotations

import functools
from typing import Any

from botocore.exceptions import ClientError

from tests.fakes.dynamo_expr import Env, ExpressionError
from tests.fakes.dynamo_sim import RETRYABLE, THROTTLE_MESSAGE, Key, SimDynamo, _Throttled, _values, tag


@functools.cache
def _exceptions() -> Any:
    """botocore's modeled DynamoDB exceptions (no call is ever made with this client)."""
    import botocore.session

    session = botocore.session.get_session()
    return session.create_client("dynamodb", region_name="us-east-1", aws_access_key_id="sim",
                                 aws_secret_access_key="sim").exceptions


def _typed(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in item.items()}


def _key(table: str, key: dict[str, Any]) -> Key:
    return table, str(key["pk"]), str(key["sk"])


class SimClient:
    def __init__(self, sim: SimDynamo) -> None:
        self._sim = sim
        self.exceptions = _exceptions()

    # ---- errors as botocore raises them ---------------------------------------------------
    def _error(self, operation: str, code: str, message: str, **extra: Any) -> ClientError:
        status = 500 if code == "InternalServerError" else 400
        response: dict[str, Any] = {"Error": {"Code": code, "Message": message},
                                    "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 0},
                                    "message": message, **extra}
        cls: Any = getattr(self.exceptions, code, ClientError)
        error: ClientError = cls(response, operation)
        return error

    def _with_retries(self, operation: str, attempt: Any) -> Any:
        sim = self._sim
        for n in range(1, sim.max_attempts + 1):
            sim.stats.calls[operation] += 1
            current = tag.get()
            if current is not None:
                sim.stats.by_tag[current]["calls"] += 1
            try:
                return attempt()
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code in RETRYABLE and n < sim.max_attempts:
                    sim.stats.retries += 1
                    sim.stats.count("sdk_retry")
                    sim.clock.sleep(0.05 * 2 ** (n - 1))  # botocore legacy mode: base 50 ms, doubling, no jitter
                    continue
                exc.response["ResponseMetadata"]["RetryAttempts"] = n - 1
                raise
        raise AssertionError("unreachable")

    # ---- single-item writes -----------------------------------------------------------------
    def update_item(self, **params: Any) -> dict[str, Any]:
        return self._single("UpdateItem", "Update", params)

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self._single("PutItem", "Put", params)

    def delete_item(self, **params: Any) -> dict[str, Any]:
        return self._single("DeleteItem", "Delete", params)

    def _single(self, operation: str, op: str, params: dict[str, Any]) -> dict[str, Any]:
        key = _key(params["TableName"], params["Key"] if op != "Put" else params["Item"])

        def attempt() -> dict[str, Any]:
            sim = self._sim
            sim.wait(sim.latency.leg)
            status, detail = sim.single_write(op, key, params)
            sim.wait(sim.latency.write)
            sim.wait(sim.latency.leg)
            if status == "ok":
                old, new = detail
                return _returned(params.get("ReturnValues", "NONE"), old, new)
            if status == "ConditionalCheckFailedException":
                extra = {}
                if params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and detail is not None:
                    extra["Item"] = _typed(detail)
                raise self._error(operation, status, "The conditional request failed", **extra)
            raise self._error(operation, status, str(detail))
        return self._with_retries(operation, attempt)

    # ---- transactions -----------------------------------------------------------------------
    def transact_write_items(self, *, TransactItems: list[dict[str, Any]],
                             ClientRequestToken: str | None = None, **_: Any) -> dict[str, Any]:
        ops: list[tuple[str, Key, dict[str, Any]]] = []
        for entry in TransactItems:
            (op, params), = entry.items()
            ops.append((op, _key(params["TableName"], params["Item"] if op == "Put" else params["Key"]), params))

        def attempt() -> dict[str, Any]:
            sim = self._sim
            sim.wait(sim.latency.leg)
            service = sim.latency.transaction.draw(sim.rng)
            status, detail = sim.transact_prepare(ops, ClientRequestToken, service)
            if status == "prepared":
                sim.clock.sleep(service)
                sim.transact_commit(detail, ClientRequestToken, ops)
                sim.wait(sim.latency.leg)
                return {}
            if status == "ok-replayed":
                sim.wait(sim.latency.leg)
                return {}
            if status != "cancel":
                raise self._error("TransactWriteItems", status, str(detail))
            sim.clock.sleep(service / 2)  # cancelled in the prepare phase
            sim.wait(sim.latency.leg)
            reasons = [{**r, "Item": _typed(r["Item"])} if "Item" in r else r for r in detail]
            codes = ", ".join(r["Code"] for r in reasons)
            message = f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
            raise self._error("TransactWriteItems", "TransactionCanceledException", message,
                              Message=message, CancellationReasons=reasons)
        return self._with_retries("TransactWriteItems", attempt)

    # ---- reads (consistent, never throttled) -------------------------------------------------
    def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            sim = self._sim
            sim.wait(sim.latency.leg)
            found = sim.read(_key(TableName, Key))
            sim.wait(sim.latency.read)
            sim.wait(sim.latency.leg)
            return {} if found is None else {"Item": found}
        return self._with_retries("GetItem", attempt)

    def batch_get_item(self, *, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            sim = self._sim
            sim.wait(sim.latency.leg)
            responses: dict[str, list[dict[str, Any]]] = {}
            unprocessed: dict[str, Any] = {}
            asked = 0
            for table, request in RequestItems.items():
                keys = request["Keys"]
                asked += len(keys)
                if len(keys) > 100:
                    raise self._error("BatchGetItem", "ValidationException", "Too many items requested")
                responses[table] = []
                for k in keys:
                    try:
                        found = sim.read(_key(table, k), metered=True)
                    except _Throttled:
                        unprocessed.setdefault(table, {**request, "Keys": []})["Keys"].append(k)
                        continue
                    if found is not None:
                        responses[table].append(found)
            sim.wait(sim.latency.read)
            sim.wait(sim.latency.leg)
            if unprocessed and sum(len(v["Keys"]) for v in unprocessed.values()) == asked:
                raise self._error("BatchGetItem", "ProvisionedThroughputExceededException", THROTTLE_MESSAGE)
            return {"Responses": responses, "UnprocessedKeys": unprocessed}
        return self._with_retries("BatchGetItem", attempt)

    def query(self, *, TableName: str, KeyConditionExpression: str,
              ExpressionAttributeValues: dict[str, Any] | None = None,
              ExpressionAttributeNames: dict[str, str] | None = None, **_: Any) -> dict[str, Any]:
        from tests.fakes import dynamo_expr

        env = Env(ExpressionAttributeNames or {}, _values(ExpressionAttributeValues or {}))
        predicate = dynamo_expr.condition(KeyConditionExpression)

        def attempt() -> dict[str, Any]:
            sim = self._sim
            sim.wait(sim.latency.leg)
            try:
                rows = sim.query(TableName, lambda item: predicate(item, env))
            except ExpressionError as exc:
                raise self._error("Query", "ValidationException", str(exc)) from exc
            sim.wait(sim.latency.read)
            sim.wait(sim.latency.leg)
            return {"Items": rows, "Count": len(rows)}
        return self._with_retries("Query", attempt)


def _returned(mode: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    if mode == "ALL_NEW" and new is not None:
        return {"Attributes": dict(new)}
    if mode == "ALL_OLD" and old is not None:
        return {"Attributes": dict(old)}
    if mode == "UPDATED_NEW" and new is not None:
        return {"Attributes": {k: v for k, v in new.items() if (old or {}).get(k) != v}}
    return {}
