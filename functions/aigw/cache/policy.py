"""Whether, and how, one request uses the cache: config, per-team/project/key overrides,
the determinism rule and the client's per-request headers.

Request headers:
    x-aigw-cache: no-cache        skip the lookup (the fresh answer is still stored)
    x-aigw-cache: no-store        do not store this answer
    x-aigw-cache: no-cache, no-store
    x-aigw-cache-ttl: <seconds>   store with this TTL (1 .. cache.max_ttl_s), both layers

Overrides apply most specific last: `cache.teams[team]`, `cache.projects[project]`,
`cache.keys[key_id]`; each may turn a layer on or off and set the TTL.

Determinism (`cache.deterministic_only`, default on): only `temperature: 0` requests are
cached; an absent temperature is the provider default (1), so it is not. `n > 1` is
cached by the exact layer as the whole set of choices (the key includes `n`); the
semantic layer never serves it (keys.semantic_query).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aigw.auth.records import KeyRecord
from aigw.cache.keys import SemanticQuery, exact_key, namespace_for, semantic_query
from aigw.config.models import CacheConfig
from aigw.errors import InvalidRequest

CONTROL_HEADER = "x-aigw-cache"
TTL_HEADER = "x-aigw-cache-ttl"
SIMILARITY_HEADER = "x-aigw-cache-similarity"
_DIRECTIVES = frozenset({"no-cache", "no-store"})


@dataclass(frozen=True, slots=True)
class CachePlan:
    namespace: str
    key: str  # the exact key
    lookup: bool  # False with no-cache
    store: bool  # False with no-store
    exact: bool  # layer on for this caller
    semantic: SemanticQuery | None  # None: the semantic layer is off or the request is ineligible
    exact_ttl_s: int
    semantic_ttl_s: int


@dataclass(frozen=True, slots=True)
class Skip:
    reason: str  # why this request does not use the cache at all (logged)


def parse_controls(headers: Mapping[str, str], max_ttl_s: int) -> tuple[set[str], int | None]:
    """The client's cache directives and TTL override; anything malformed is a 400."""
    directives: set[str] = set()
    raw = headers.get(CONTROL_HEADER)
    if raw:
        for token in (t.strip().lower() for t in raw.split(",")):
            if token not in _DIRECTIVES:
                raise InvalidRequest(f"{CONTROL_HEADER}: unknown directive {token!r}; use no-cache and/or no-store",
                                     param=CONTROL_HEADER)
            directives.add(token)
    ttl: int | None = None
    raw_ttl = headers.get(TTL_HEADER)
    if raw_ttl is not None:
        try:
            ttl = int(raw_ttl.strip())
        except ValueError:
            raise InvalidRequest(f"{TTL_HEADER} must be a whole number of seconds", param=TTL_HEADER) from None
        if not 1 <= ttl <= max_ttl_s:
            raise InvalidRequest(f"{TTL_HEADER} must be between 1 and {max_ttl_s}", param=TTL_HEADER)
    return directives, ttl


def layers_for(config: CacheConfig, key: KeyRecord) -> tuple[bool, bool, int | None]:
    """(exact on, semantic on, TTL override) for this caller after the overrides."""
    exact, semantic, ttl = config.exact, config.semantic.enabled, None
    overrides = [config.teams.get(key.team_id), config.projects.get(key.project) if key.project else None,
                 config.keys.get(key.key_id)]
    for override in overrides:
        if override is None:
            continue
        exact = exact if override.exact is None else override.exact
        semantic = semantic if override.semantic is None else override.semantic
        ttl = ttl if override.ttl_s is None else override.ttl_s
    return exact, semantic, ttl


def is_deterministic(body: Mapping[str, Any]) -> bool:
    temperature = body.get("temperature")
    return isinstance(temperature, int | float) and not isinstance(temperature, bool) and temperature == 0


def plan_request(config: CacheConfig, key: KeyRecord, body: Mapping[str, Any],
                 headers: Mapping[str, str], *, semantic_available: bool = True,
                 api: str = "openai") -> CachePlan | Skip:
    """`api` is the client's API: its answers are cached apart from other front doors' (a
    native answer is stored in that API's shape)."""
    directives, ttl = parse_controls(headers, config.max_ttl_s)
    exact_on, semantic_on, scoped_ttl = layers_for(config, key)
    semantic_on = semantic_on and semantic_available
    if not exact_on and not semantic_on:
        return Skip("disabled")
    if config.deterministic_only and not is_deterministic(body):
        return Skip("nondeterministic")
    lookup, store = "no-cache" not in directives, "no-store" not in directives
    if not lookup and not store:
        return Skip("no-cache, no-store")
    semantic = _semantic(body, config.semantic.max_prompt_chars) if semantic_on else None
    if not exact_on and semantic is None:
        return Skip("not eligible for the semantic layer")
    namespace = namespace_for(key, config.namespace) + ("" if api == "openai" else f"#{api}")
    return CachePlan(
        namespace=namespace,
        key=exact_key(namespace, body),
        lookup=lookup,
        store=store,
        exact=exact_on,
        semantic=semantic,
        exact_ttl_s=ttl or scoped_ttl or config.ttl_s,
        semantic_ttl_s=ttl or scoped_ttl or config.semantic.ttl_s,
    )


def _semantic(body: Mapping[str, Any], max_chars: int) -> SemanticQuery | None:
    query = semantic_query(body)
    return query if query is not None and len(query.text) <= max_chars else None
