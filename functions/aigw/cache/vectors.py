"""The semantic layer's index: `VectorIndex`, and the in-process implementation `aigw dev` uses.

Every query is filtered by (namespace, model, scope) before any similarity is computed, so
an entry of another tenant, model or system prompt can never be returned, whatever its
score. Vectors are unit length (every embedder here normalizes), so cosine = dot product.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class VectorHit:
    id: str
    score: float  # cosine similarity in [-1, 1]
    payload: dict[str, Any]


class VectorIndex(Protocol):
    async def query(self, namespace: str, model: str, scope: str, vector: Sequence[float],
                    k: int) -> list[VectorHit]:
        """The k most similar unexpired entries with exactly this namespace, model and scope."""
        ...

    async def upsert(self, namespace: str, model: str, scope: str, vector: Sequence[float],
                     payload: dict[str, Any], ttl_s: int) -> str: ...


def unit(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else list(vector)


@dataclass(slots=True)
class _Bucket:
    """One (namespace, model, scope): entries in insertion order, and their vectors as one
    matrix, rebuilt lazily after a change (so a query is one matrix-vector product)."""

    ids: list[str] = field(default_factory=list)
    vectors: list[Any] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    expires: list[float] = field(default_factory=list)
    matrix: Any = None

    def remove(self, entry_id: str) -> None:
        position = self.ids.index(entry_id)
        for column in (self.ids, self.vectors, self.payloads, self.expires):
            del column[position]
        self.matrix = None


class LocalVectorIndex:
    """Exact (brute-force) cosine search in memory, per (namespace, model, scope) bucket.

    Bounded: past `max_entries` the oldest entries go first. Exact, so the tests' precision
    figures are the embedder's and the guard's, not an approximation's. Uses numpy when it
    is installed (it comes with the local embedder), pure Python otherwise.
    """

    def __init__(self, *, max_entries: int = 50_000, clock: Callable[[], float] = time.time) -> None:
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self._order: OrderedDict[str, tuple[str, str, str]] = OrderedDict()
        self._max = max_entries
        self._clock = clock
        try:
            import numpy
        except ImportError:  # pragma: no cover - numpy ships with the local embedder
            self._np: Any = None
        else:
            self._np = numpy

    def __len__(self) -> int:
        return len(self._order)

    async def query(self, namespace: str, model: str, scope: str, vector: Sequence[float],
                    k: int) -> list[VectorHit]:
        bucket = self._buckets.get((namespace, model, scope))
        if bucket is None or not bucket.ids:
            return []
        now = self._clock()
        q = unit(vector)
        if self._np is not None:
            np = self._np
            if bucket.matrix is None:
                bucket.matrix = np.stack(bucket.vectors)
            scores = bucket.matrix @ np.asarray(q, dtype=np.float32)
            scores[np.asarray(bucket.expires) <= now] = -np.inf
            top = np.argsort(-scores)[:k] if len(scores) <= k else np.argpartition(-scores, k)[:k]
            ranked = sorted(((float(scores[i]), int(i)) for i in top), key=lambda p: -p[0])
        else:
            ranked = sorted(((sum(a * b for a, b in zip(v, q, strict=True)), i)
                             for i, v in enumerate(bucket.vectors) if bucket.expires[i] > now),
                            key=lambda p: -p[0])[:k]
        return [VectorHit(bucket.ids[i], score, bucket.payloads[i]) for score, i in ranked if score > -math.inf]

    async def upsert(self, namespace: str, model: str, scope: str, vector: Sequence[float],
                     payload: dict[str, Any], ttl_s: int) -> str:
        bucket_key = (namespace, model, scope)
        entry_id = uuid.uuid4().hex
        stored: Any = unit(vector)
        if self._np is not None:
            stored = self._np.asarray(stored, dtype=self._np.float32)
        bucket = self._buckets.setdefault(bucket_key, _Bucket())
        bucket.ids.append(entry_id)
        bucket.vectors.append(stored)
        bucket.payloads.append(payload)
        bucket.expires.append(self._clock() + ttl_s)
        bucket.matrix = None
        self._order[entry_id] = bucket_key
        while len(self._order) > self._max:
            old_id, old_key = self._order.popitem(last=False)
            old = self._buckets[old_key]
            old.remove(old_id)
            if not old.ids:
                del self._buckets[old_key]
        return entry_id
