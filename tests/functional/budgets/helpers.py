"""Helpers for the budget tests: counters read straight from moto, and concurrent load."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Self

import httpx

from aigw.aws import table_name
from aigw.budgets.counters import Snapshot, budget_pk, rate_pk
from aigw.budgets.scopes import entity_key
from aigw.budgets.spec import Budget, Limits, budget_to_item
from aigw.names import COUNTERS, ENTITIES


def key_id_of(gw: Any, key: str) -> str:
    from aigw.auth.keys import hash_key

    return f"key_{hash_key(key)[:12]}"  # as aigw.local.environment.create_key names it


def snapshots(items: list[dict[str, Any]]) -> list[Snapshot]:
    return [Snapshot.from_item(i) for i in items]


def counter_items(local: Any, pk: str) -> list[dict[str, Any]]:
    table = local.aws.table(COUNTERS)
    return list(table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": pk},
                            ConsistentRead=True).get("Items", []))


def budget_items(local: Any, scope: str, scope_id: str) -> list[dict[str, Any]]:
    return counter_items(local, budget_pk(scope, scope_id))


def rate_items(local: Any, scope: str, scope_id: str) -> list[dict[str, Any]]:
    return counter_items(local, rate_pk(scope, scope_id))


def put_scope_limits(local: Any, scope: str, scope_id: str, *, budgets: list[Budget] | None = None,
                     rpm: int | None = None, tpm: int | None = None) -> None:
    limits = Limits(budgets=budgets or [], rpm=rpm, tpm=tpm)
    item: dict[str, Any] = {**entity_key(scope, scope_id), "budgets": [budget_to_item(b) for b in limits.budgets]}  # type: ignore[arg-type]
    if rpm is not None:
        item["rpm"] = rpm
    if tpm is not None:
        item["tpm"] = tpm
    local.aws.table(ENTITIES).put_item(Item=item)


class _Polling:
    """A check run in a loop on its own thread until `stop`, then once more."""

    _stop: threading.Event
    _thread: threading.Thread

    def check(self) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check()
            self._stop.wait(0.002)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.check()


@dataclass
class Poller(_Polling):
    """Reads counter items in a loop (its own thread) and records every violation seen."""

    local: Any
    pks: list[str]
    limit_usd: Decimal | None = None
    limit_tokens: int | None = None
    observations: int = 0
    violations: list[str] = field(default_factory=list)
    max_held_usd: Decimal = Decimal(0)
    max_held_tokens: int = 0

    def check(self) -> None:
        for pk in self.pks:
            for item in counter_items(self.local, pk):
                self.observations += 1
                snap = Snapshot.from_item(item)
                held, spent, tokens = snap.held_usd, snap.spent_usd, snap.held_tokens
                self.max_held_usd = max(self.max_held_usd, held)
                self.max_held_tokens = max(self.max_held_tokens, tokens)
                if self.limit_usd is not None and (held > self.limit_usd or spent > self.limit_usd):
                    self.violations.append(f"{pk}/{item['sk']}: held {held} spent {spent} > {self.limit_usd}")
                if self.limit_tokens is not None and tokens > self.limit_tokens:
                    self.violations.append(f"{pk}/{item['sk']}: held tokens {tokens} > {self.limit_tokens}")


@dataclass
class Outcome:
    kind: str  # "ok", "stream", "disconnect", "refused", "upstream_error", "other"
    status: int
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""  # a transport error's type and message, for the assertion that allows none


async def one_request(client: httpx.AsyncClient, url: str, key: str, *, model: str, stream: bool,
                      disconnect: bool = False, max_tokens: int = 30, text: str = "", delay_s: float = 0.0) -> Outcome:
    if delay_s:
        await asyncio.sleep(delay_s)
    body: dict[str, Any] = {"model": model, "max_tokens": max_tokens,
                            "messages": [{"role": "user", "content": text or "count the budget words please"}]}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    headers = {"authorization": f"Bearer {key}"}
    try:
        return await _send(client, url, body, headers, stream=stream, disconnect=disconnect)
    except (httpx.ReadError, httpx.RemoteProtocolError) as exc:
        # Recorded rather than raised so the race test can report how many (and which); it allows none.
        return Outcome("transport_error", 0, error=f"{type(exc).__name__}: {exc}")


async def _send(client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str], *,
                stream: bool, disconnect: bool) -> Outcome:
    if not stream:
        response = await client.post(url + "/v1/chat/completions", json=body, headers=headers)
        return _outcome(response, "ok")
    async with client.stream("POST", url + "/v1/chat/completions", json=body, headers=headers) as response:
        if response.status_code != 200:
            await response.aread()
            return _outcome(response, "stream")
        seen = 0
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                seen += 1
                if disconnect and seen == 3:
                    return Outcome("disconnect", 200, headers=dict(response.headers))
                if '"error"' in line:
                    return Outcome("upstream_error", 200, headers=dict(response.headers))
        return Outcome("stream", 200, headers=dict(response.headers))


def _outcome(response: httpx.Response, kind: str) -> Outcome:
    headers = dict(response.headers)
    if response.status_code == 200:
        return Outcome(kind, 200, headers=headers)
    code = None
    with contextlib.suppress(Exception):
        code = response.json()["error"]["code"]
    if response.status_code == 429:
        return Outcome("refused", 429, code, headers)
    if response.status_code >= 500:
        return Outcome("upstream_error", response.status_code, code, headers)
    return Outcome("other", response.status_code, code, headers)


async def run_load(url: str, plan: list[tuple[str, str, bool, bool]], *, max_tokens: int = 30,
                   spread_s: float = 0.0) -> list[Outcome]:
    """`plan`: (key, model, stream, disconnect) per request. Half are sent at once (a burst that
    fills the budget with reservations); the rest over `spread_s`, so admissions race settlements."""
    import random

    rng = random.Random(7)
    delays = [0.0 if rng.random() < 0.5 else rng.uniform(0, spread_s) for _ in plan]
    limits = httpx.Limits(max_connections=len(plan) + 10, max_keepalive_connections=len(plan) + 10)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        return await asyncio.gather(*(one_request(client, url, key, model=model, stream=stream, disconnect=dis,
                                                  max_tokens=max_tokens, delay_s=delay)
                                      for (key, model, stream, dis), delay in zip(plan, delays, strict=True)))


def counters_table_name() -> str:
    return table_name(COUNTERS)


def shard_keys(pk: str, sk: str, shards: int) -> list[dict[str, str]]:
    """The items of a counter spread over `shards` (shard 0 is the plain counter's own item)."""
    return [{"pk": pk if i == 0 else f"{pk}#{i}", "sk": sk} for i in range(shards)]


def shard_snapshots(local: Any, pk: str, sk: str, shards: int) -> list[Snapshot]:
    """A sharded counter's items, read in one BatchGetItem (one operation of the serialized moto:
    an atomic snapshot of all of them)."""
    client = local.aws.dynamodb_client()
    table = counters_table_name()
    response = client.batch_get_item(RequestItems={table: {"Keys": shard_keys(pk, sk, shards), "ConsistentRead": True}})
    return [Snapshot.from_item(item) for item in response["Responses"][table]]


@dataclass
class ShardPoller(_Polling):
    """Reads every shard of some counters in one BatchGetItem, in a loop (its own thread), and
    records every instant the sum over the shards passed a limit."""

    local: Any
    counters: list[tuple[str, str]]  # (pk, sk) of each logical counter
    shards: int
    limit_usd: Decimal | None = None
    limit_tokens: int | None = None
    limit_requests: int | None = None
    observations: int = 0
    violations: list[str] = field(default_factory=list)
    peak_usd: Decimal = Decimal(0)
    peak_tokens: int = 0

    def check(self) -> None:
        client = self.local.aws.dynamodb_client()
        table = counters_table_name()
        keys = [k for pk, sk in self.counters for k in shard_keys(pk, sk, self.shards)]
        found = client.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})["Responses"][table]
        for pk, sk in self.counters:
            mine = [Snapshot.from_item(i) for i in found
                    if i["sk"] == sk and (i["pk"] == pk or i["pk"].startswith(pk + "#"))]
            usd = sum((s.held_usd for s in mine), Decimal(0))
            tokens = sum(s.held_tokens for s in mine)
            requests = sum(s.requests for s in mine)
            self.observations += 1
            self.peak_usd, self.peak_tokens = max(self.peak_usd, usd), max(self.peak_tokens, tokens)
            if self.limit_usd is not None and usd > self.limit_usd:
                self.violations.append(f"{pk}/{sk}: held ${usd} over {len(mine)} shards > {self.limit_usd}")
            if self.limit_tokens is not None and tokens > self.limit_tokens:
                self.violations.append(f"{pk}/{sk}: held {tokens} tokens > {self.limit_tokens}")
            if self.limit_requests is not None and requests > self.limit_requests:
                self.violations.append(f"{pk}/{sk}: {requests} requests > {self.limit_requests}")
