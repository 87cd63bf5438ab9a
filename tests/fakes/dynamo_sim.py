"""A simulated DynamoDB that behaves as DynamoDB does where moto does not.

moto applies every request at once, never throttles and never conflicts. DynamoDB
(docs: "Amazon DynamoDB Transactions: How it works", "Best practices for designing and using
partition keys effectively") differs in the three ways that decide how budgets scale:

  per-item capacity         one item (partition) takes about 1,000 write units and 3,000 read
                            units per second; beyond that requests are throttled: a single
                            write raises ProvisionedThroughputExceededException, a transaction
                            is cancelled with reason ThrottlingError on the throttled item, a
                            BatchGetItem returns the throttled keys in UnprocessedKeys (all of
                            them throttled: ProvisionedThroughputExceededException)
  transactions              cost two write units per item (prepare and commit); while one is
                            in flight its items are held: another TransactWriteItems touching
                            one of them is cancelled (TransactionCanceledException, reason
                            TransactionConflict), and a PutItem/UpdateItem/DeleteItem on one of
                            them fails with TransactionConflictException
  latency                   a few milliseconds per call (a request leg, service time, a
                            response leg), drawn from log-normal distributions

`SimDynamo.client()` is used where the gateway uses a DynamoDB resource's client
(`resource.meta.client`): the same method names and shapes (Python values in and out, typed
attribute maps in errors, as botocore returns them), and botocore's own exception classes,
raised as botocore raises them. Throttling and TransactionInProgress errors are retried by the
client as botocore's legacy retry mode does for DynamoDB (boto3's default: up to 10 attempts,
50 ms doubling), so the gateway sees what it would see.

Time comes from a clock: `VirtualClock` (tests/fakes/virtual_time.py) for simulations, or
real time. Not modelled: item sizes (every write is one unit, every consistent read of a
BatchGetItem one unit), adaptive capacity beyond the per-item ceiling, network failures.
"""

from __future__ import annotations

import contextvars
import math
import random
import threading
import time
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from tests.fakes import dynamo_expr
from tests.fakes.dynamo_expr import Env, ExpressionError

Key = tuple[str, str, str]  # (table, pk, sk)
THROTTLE_MESSAGE = ("Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
                    "scaling your table or index so please try again shortly. If exceptions persist, check if you "
                    "have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
                    "bp-partition-key-design.html")
RETRYABLE = ("ProvisionedThroughputExceededException", "ThrottlingException", "TransactionInProgressException",
             "RequestLimitExceeded")
# Set by a caller to attribute calls (and their conflicts, throttles, retries) to a request.
tag: contextvars.ContextVar[str | None] = contextvars.ContextVar("dynamo_sim_tag", default=None)


class Clock(Protocol):
    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True, slots=True)
class LogNormal:
    median_s: float
    sigma: float = 0.35

    def draw(self, rng: random.Random) -> float:
        return self.median_s * math.exp(rng.gauss(0.0, self.sigma))


@dataclass(frozen=True, slots=True)
class Latency:
    """In-region figures: single-digit milliseconds, a transaction about twice a single write."""

    leg: LogNormal = LogNormal(0.0006, 0.3)  # each way, client <-> service
    write: LogNormal = LogNormal(0.0020, 0.4)  # service time of a single-item write
    transaction: LogNormal = LogNormal(0.0045, 0.4)  # prepare + commit: the items are held this long
    read: LogNormal = LogNormal(0.0015, 0.4)


@dataclass(slots=True)
class Bucket:
    """Write units per second on one item: refills at `rate`, holds at most `burst`."""

    rate: float
    burst: float
    level: float
    at: float

    def refill(self, now: float) -> float:
        self.level = min(self.burst, self.level + (now - self.at) * self.rate)
        self.at = now
        return self.level

    def take(self, units: float, now: float) -> bool:
        if self.refill(now) < units:
            return False
        self.level -= units
        return True


@dataclass
class Stats:
    calls: Tally[str] = field(default_factory=Tally)  # by operation (attempts, retries included)
    outcomes: Tally[str] = field(default_factory=Tally)  # committed, condition_failed, conflict, throttled
    retries: int = 0  # botocore's own retries (throttling)
    units: Tally[Key] = field(default_factory=Tally)  # write units consumed, by item
    units_read: Tally[Key] = field(default_factory=Tally)  # read units consumed, by item
    by_tag: dict[str, Tally[str]] = field(default_factory=lambda: defaultdict(Tally))

    def count(self, what: str, n: int = 1, op: str = "") -> None:
        self.outcomes[what] += n
        if op:
            self.outcomes[f"{op}:{what}"] += n
        current = tag.get()
        if current is not None:
            self.by_tag[current][what] += n


Watcher = Callable[[Key, dict[str, Any] | None], None]


class SimDynamo:
    def __init__(self, clock: Clock | None = None, *, seed: int = 0, latency: Latency | None = None,
                 item_wcu: float = 1_000.0, item_rcu: float = 3_000.0, burst_s: float = 0.05,
                 capacity_key: str = "item", max_attempts: int = 10) -> None:
        self.clock = clock or RealClock()
        self.latency = latency or Latency()
        self.rng = random.Random(seed)
        self.items: dict[Key, dict[str, Any]] = {}
        self.stats = Stats()
        self._item_wcu = item_wcu
        self._burst = item_wcu * burst_s
        self._capacity_key = capacity_key  # "item", or "pk": a partition key's items share a partition
        self._buckets: dict[tuple[str, ...], Bucket] = {}
        self._item_rcu = item_rcu
        self._read_buckets: dict[tuple[str, ...], Bucket] = {}
        self._held: dict[Key, float] = {}  # item -> end of the in-flight transaction holding it
        self._tokens: dict[str, tuple[float, Any]] = {}
        self._lock = threading.RLock()
        self._watchers: list[Watcher] = []
        self.max_attempts = max_attempts

    def client(self) -> Any:
        from tests.fakes.dynamo_sim_client import SimClient

        return SimClient(self)

    def watch(self, watcher: Watcher) -> None:
        """Called after every applied write with the item's key and new value (None: deleted)."""
        self._watchers.append(watcher)

    # ---- the service side (called by SimClient, one attempt at a time) -------------------
    def wait(self, dist: LogNormal) -> None:
        self.clock.sleep(dist.draw(self.rng))

    def _bucket(self, key: Key) -> Bucket:
        cap = key if self._capacity_key == "item" else key[:2]
        bucket = self._buckets.get(cap)
        if bucket is None:
            bucket = self._buckets[cap] = Bucket(self._item_wcu, self._burst, self._burst, self.clock.now())
        return bucket

    def _is_held(self, key: Key) -> bool:
        end = self._held.get(key)
        return end is not None and end > self.clock.now()

    def _apply(self, key: Key, new: dict[str, Any] | None) -> None:
        if new is None:
            self.items.pop(key, None)
        else:
            self.items[key] = new
        for watcher in self._watchers:
            watcher(key, new)

    def single_write(self, op: str, key: Key, params: dict[str, Any]) -> tuple[str, Any]:
        """One PutItem/UpdateItem/DeleteItem at the service, now: ("ok", response) or (error code, detail)."""
        with self._lock:
            if self._is_held(key):
                self.stats.count("conflict", op=op)
                return "TransactionConflictException", "Transaction is ongoing for the item"
            if not self._bucket(key).take(1, self.clock.now()):
                self.stats.count("throttled", op=op)
                return "ProvisionedThroughputExceededException", THROTTLE_MESSAGE
            self.stats.units[key] += 1
            old = self.items.get(key)
            try:
                new = _write(op, key, old, params)
            except _ConditionFailed:
                self.stats.count("condition_failed", op=op)
                return "ConditionalCheckFailedException", old
            except ExpressionError as exc:
                return "ValidationException", str(exc)
            self.stats.count("committed", op=op)
            self._apply(key, new)
            return "ok", (old, new)

    def transact_prepare(self, ops: list[tuple[str, Key, dict[str, Any]]], token: str | None,
                         service_s: float) -> tuple[str, Any]:
        """The prepare phase of a TransactWriteItems arriving now."""
        with self._lock:
            now = self.clock.now()
            if token is not None and token in self._tokens and self._tokens[token][0] > now:
                return ("ok-replayed", None) if self._tokens[token][1] == ops else \
                    ("IdempotentParameterMismatchException", "the token was used with different parameters")
            keys = [k for _, k, _ in ops]
            if len(set(keys)) != len(keys):
                return "ValidationException", "Transaction request cannot include multiple operations on one item"
            reasons: list[dict[str, Any]] = [{"Code": "None"} for _ in ops]
            held = [i for i, k in enumerate(keys) if self._is_held(k)]
            if held:
                for i in held:
                    reasons[i] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                self.stats.count("conflict", op="Transact")
                return "cancel", reasons
            dry = [i for i, k in enumerate(keys) if self._bucket(k).refill(now) < 2]
            if dry:
                for i in dry:
                    reasons[i] = {"Code": "ThrottlingError", "Message": THROTTLE_MESSAGE}
                self.stats.count("throttled", op="Transact")
                return "cancel", reasons
            for k in keys:
                self._bucket(k).take(2, now)
                self.stats.units[k] += 2
            planned: list[tuple[Key, dict[str, Any] | None]] = []
            failed = False
            for i, (op, key, params) in enumerate(ops):
                old = self.items.get(key)
                try:
                    new = _write(op, key, old, params)
                except _ConditionFailed:
                    reason: dict[str, Any] = {"Code": "ConditionalCheckFailed",
                                              "Message": "The conditional request failed"}
                    if params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and old is not None:
                        reason["Item"] = old
                    reasons[i] = reason
                    failed = True
                    continue
                except ExpressionError as exc:
                    return "ValidationException", str(exc)
                if op != "ConditionCheck":
                    planned.append((key, new))
            if failed:
                self.stats.count("condition_failed", op="Transact")
                return "cancel", reasons
            for key in keys:
                self._held[key] = now + service_s
            return "prepared", planned

    def transact_commit(self, planned: list[tuple[Key, dict[str, Any] | None]], token: str | None,
                        ops: Any) -> None:
        with self._lock:
            for key, new in planned:
                self._apply(key, new)
                self._held.pop(key, None)
            if token is not None:
                self._tokens[token] = (self.clock.now() + 600, ops)
            self.stats.count("committed")

    def read(self, key: Key, *, metered: bool = False) -> dict[str, Any] | None:
        """An item now (a consistent read: one read unit when `metered`); raises _Throttled when
        the item's 3,000 read units a second are spent."""
        with self._lock:
            if metered:
                cap = key if self._capacity_key == "item" else key[:2]
                bucket = self._read_buckets.get(cap)
                if bucket is None:
                    burst = self._item_rcu * self._burst / self._item_wcu
                    bucket = self._read_buckets[cap] = Bucket(self._item_rcu, burst, burst, self.clock.now())
                if not bucket.take(1, self.clock.now()):
                    self.stats.count("throttled", op="Read")
                    raise _Throttled
                self.stats.units_read[key] += 1
            found = self.items.get(key)
            return None if found is None else dict(found)

    def query(self, table: str, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self._lock:
            rows = [dict(v) for (t, _, _), v in self.items.items() if t == table and predicate(v)]
        return sorted(rows, key=lambda r: str(r["sk"]))

    def hottest(self, seconds: float) -> tuple[Key | None, float]:
        """The item that consumed the most write units, and its average units per second."""
        if not self.stats.units:
            return None, 0.0
        key, units = self.stats.units.most_common(1)[0]
        return key, units / max(seconds, 1e-9)


class _ConditionFailed(Exception):
    pass


class _Throttled(Exception):
    pass


def _write(op: str, key: Key, old: dict[str, Any] | None, params: dict[str, Any]) -> dict[str, Any] | None:
    """The item after one write (raises _ConditionFailed); `old` is never changed."""
    env = Env(params.get("ExpressionAttributeNames") or {}, _values(params.get("ExpressionAttributeValues") or {}))
    current = dict(old) if old is not None else {}
    cond = params.get("ConditionExpression")
    if cond is not None and not dynamo_expr.condition(cond)(current, env):
        raise _ConditionFailed
    if op == "ConditionCheck":
        return old
    if op == "Delete":
        return None
    if op == "Put":
        return {k: _value(v) for k, v in params["Item"].items()}
    new = current if old is not None else {k: _value(v) for k, v in params["Key"].items()}
    expression = params.get("UpdateExpression")
    if expression:
        dynamo_expr.update(expression)(new, env)
    return new


def _value(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        raise ExpressionError("Float types are not supported. Use Decimal types instead.")
    return value


def _values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _value(v) for k, v in values.items()}
