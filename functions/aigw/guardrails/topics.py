"""deny_topics: refuse texts about a topic, by embedding similarity.

Each topic is its description plus its examples, embedded once (lazily, on first use) with
the injected `Embedder` (the semantic cache's). A check embeds the texts' segments (the last
`max_chars` characters, sentence-aligned) and a topic matches when any segment's cosine with
any of its vectors reaches `threshold`. The score is the best cosine seen; entities are the
names of the topics that matched.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aigw.cache.embedders import Embedder
from aigw.guardrails.base import GuardrailUnavailable, Source, Verdict, cosine, segments


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    description: str
    examples: Sequence[str] = field(default_factory=tuple)


class DenyTopicsDetector:
    kind = "deny_topics"

    def __init__(self, topics: Sequence[TopicSpec], *, embedder: Embedder | None, threshold: float = 0.8,
                 max_chars: int = 4_000) -> None:
        if not topics:
            raise ValueError("deny_topics needs at least one topic")
        self.topics = list(topics)
        self.embedder = embedder
        self.threshold = threshold
        self.max_chars = max_chars
        self._vectors: list[tuple[str, list[float]]] | None = None
        self._lock = asyncio.Lock()

    async def _topic_vectors(self, embedder: Embedder) -> list[tuple[str, list[float]]]:
        async with self._lock:
            if self._vectors is None:
                names: list[str] = []
                texts: list[str] = []
                for topic in self.topics:
                    for text in (topic.description, *topic.examples):
                        names.append(topic.name)
                        texts.append(text)
                self._vectors = list(zip(names, await embedder.embed(texts), strict=True))
        return self._vectors

    async def check(self, texts: Sequence[str], source: Source, meta: Mapping[str, str] | None = None) -> Verdict:
        if self.embedder is None:
            raise GuardrailUnavailable("deny_topics needs an embedder (cache.semantic's, or a local model)")
        pieces = segments(texts, max_chars=self.max_chars)
        if not pieces:
            return Verdict(triggered=False)
        try:
            topics = await self._topic_vectors(self.embedder)
            vectors = await self.embedder.embed(pieces)
        except Exception as exc:
            raise GuardrailUnavailable(f"embedder failed: {type(exc).__name__}") from None
        best: dict[str, float] = {}
        for name, topic in topics:
            for vector in vectors:
                best[name] = max(best.get(name, -1.0), cosine(vector, topic))
        matched = Counter({name: 1 for name, score in best.items() if score >= self.threshold})
        score = max(best.values(), default=0.0)
        return Verdict(triggered=bool(matched), score=round(score, 4), entities=matched)
