"""A deterministic `Embedder` for tests: hashed word unigrams and bigrams, unit length.

Texts that share words get a high cosine, unrelated texts a cosine near 0: enough to test
code that thresholds similarities without loading a model.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from itertools import pairwise


class HashEmbedder:
    name = "test/hash-bow"

    def __init__(self, dimensions: int = 512) -> None:
        self._dimensions = dimensions
        self.calls: list[list[str]] = []
        self.fail: Exception | None = None

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def _vector(self, text: str) -> list[float]:
        words = re.findall(r"\w+", text.lower())
        grams = words + [f"{a} {b}" for a, b in pairwise(words)]
        vec = [0.0] * self._dimensions
        for g in grams:
            h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "big")
            vec[h % self._dimensions] += 1.0 if (h >> 32) & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vec)) or 1.0
        return [x / norm for x in vec]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        if self.fail is not None:
            raise self.fail
        return [self._vector(t) for t in texts]
