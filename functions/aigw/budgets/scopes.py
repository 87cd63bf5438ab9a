"""Which scopes a request is charged to, and their limits.

Key-scope limits live on the key record itself (copied there by the admin API), so the hot
path reads nothing extra for them. Team, project and global limits live on their entity
items; they are cached in memory with the key cache's TTL, so once warm a request costs no
read at all before admission's one transaction. A limit change therefore takes effect
within that TTL (like a revocation).

An end user's rate limits (`end_user_rpm`/`end_user_tpm`) are the key's too: the scope
`end_user`, id `<key id>:<end user>`, is added per request (budgets/end_users.py).

Entity items (Entities table):
    TEAM#<id>      TEAM      a team: name, metadata, budgets, rpm, tpm
    PROJECT#<id>   PROJECT   a project's budgets (project ids are global, not per team)
    GLOBAL         GLOBAL    the gateway-wide budgets
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aigw.auth.records import KeyRecord
from aigw.budgets.spec import Limits, Scope

GLOBAL_ID = "global"
_ENTITY_SK = {"team": "TEAM", "project": "PROJECT", "global": "GLOBAL"}


END_USER: Literal["end_user"] = "end_user"  # rate limits per end user of a key (budgets/end_users.py)
RefScope = Scope | Literal["end_user"]


def entity_key(scope: RefScope, scope_id: str) -> dict[str, str]:
    """The Entities item holding a (non-key) scope's definition and limits."""
    if scope == "global":
        return {"pk": "GLOBAL", "sk": "GLOBAL"}
    if scope in ("key", END_USER):
        raise ValueError(f"{scope}-scope limits live on the key record")
    return {"pk": f"{_ENTITY_SK[scope]}#{scope_id}", "sk": _ENTITY_SK[scope]}


@dataclass(frozen=True, slots=True)
class ScopeRef:
    scope: RefScope
    id: str  # for an end user: <key id>:<end user, escaped> (budgets/end_users.py)

    def label(self) -> str:
        if self.scope == END_USER:
            key_id, _, user = self.id.partition(":")
            return f"end user {unescape(user)!r} of key {key_id!r}"
        return "global" if self.scope == "global" else f"{self.scope} {self.id!r}"


MAX_ID_BYTES = 400  # an item's sort key holds at most 1,024 bytes, its id in a prefix and a suffix


def escape(text: str) -> str:
    """An id made of the application's text, fit for an item key: no '#' (keys are split on it),
    and short enough (a longer one keeps a prefix and a hash of the whole)."""
    out = text.replace("%", "%25").replace("#", "%23")
    if len(out.encode()) <= MAX_ID_BYTES:
        return out
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    head = out.encode()[:MAX_ID_BYTES - 17].decode(errors="ignore")
    if "%" in head[-2:]:
        head = head[:head.rindex("%")]  # never cut an escape in half
    return f"{head}~{digest}"


def unescape(text: str) -> str:
    return text.replace("%23", "#").replace("%25", "%")


def request_scopes(key: KeyRecord) -> list[ScopeRef]:
    """key, project (if the key has one), team, global: the order refusals are reported in."""
    refs = [ScopeRef("key", key.key_id)]
    if key.project:
        refs.append(ScopeRef("project", key.project))
    refs.append(ScopeRef("team", key.team_id))
    refs.append(ScopeRef("global", GLOBAL_ID))
    return refs


def key_limits(key: KeyRecord) -> Limits:
    return Limits.model_validate({"budgets": getattr(key, "budgets", None) or [], "rpm": key.rpm, "tpm": key.tpm})


class LimitsCache:
    """Team/project/global limits with a TTL; misses for one request are read in one BatchGetItem,
    and concurrent misses for the same scope share that read."""

    def __init__(self, resource: Callable[[], Any], table_name: Callable[[], str], *, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._resource = resource
        self._table_name = table_name
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[ScopeRef, tuple[float, Limits]] = {}
        self._inflight: dict[ScopeRef, asyncio.Future[Limits]] = {}

    async def limits(self, key: KeyRecord) -> dict[ScopeRef, Limits]:
        """Every applicable scope with a non-empty set of limits."""
        out: dict[ScopeRef, Limits] = {}
        refs = request_scopes(key)
        own = key_limits(key)
        if not own.empty:
            out[refs[0]] = own
        now = self._clock()
        missing: list[ScopeRef] = []
        waiting: list[tuple[ScopeRef, asyncio.Future[Limits]]] = []
        for ref in refs[1:]:
            hit = self._cache.get(ref)
            if hit is not None and hit[0] > now:
                if not hit[1].empty:
                    out[ref] = hit[1]
            elif ref in self._inflight:
                waiting.append((ref, self._inflight[ref]))
            else:
                missing.append(ref)
        if missing:
            loop = asyncio.get_running_loop()
            futures = {ref: loop.create_future() for ref in missing}
            self._inflight.update(futures)
            try:
                found = await asyncio.to_thread(self._read, missing)
            except BaseException as exc:
                for future in futures.values():
                    future.set_exception(exc)
                    future.exception()
                raise
            finally:
                for ref in missing:
                    self._inflight.pop(ref, None)
            expires = self._clock() + self._ttl_s
            for ref in missing:
                limits = found.get(ref, Limits())
                futures[ref].set_result(limits)
                if self._ttl_s > 0:
                    self._cache[ref] = (expires, limits)
                if not limits.empty:
                    out[ref] = limits
        for ref, future in waiting:
            limits = await asyncio.shield(future)
            if not limits.empty:
                out[ref] = limits
        return {ref: out[ref] for ref in refs if ref in out}

    def _read(self, refs: list[ScopeRef]) -> dict[ScopeRef, Limits]:
        by_key = {(entity_key(r.scope, r.id)["pk"]): r for r in refs}
        table = self._table_name()
        request: dict[str, Any] = {table: {"Keys": [entity_key(r.scope, r.id) for r in refs]}}
        out: dict[ScopeRef, Limits] = {}
        while request:
            response = self._resource().batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table, []):
                ref = by_key.get(item["pk"])
                if ref is not None:
                    out[ref] = Limits.from_item(item)
            request = response.get("UnprocessedKeys") or {}
        return out

    def invalidate(self, ref: ScopeRef | None = None) -> None:
        if ref is None:
            self._cache.clear()
        else:
            self._cache.pop(ref, None)
