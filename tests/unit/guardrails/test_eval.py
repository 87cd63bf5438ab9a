"""Floors on precision and recall at default settings (bench/guardrails_eval.py prints the table)."""

from __future__ import annotations

from bench.guardrails_eval import eval_injection, eval_spans, load

FLOORS = {"pii": (0.95, 0.95), "secrets": (0.95, 0.95), "prompt_injection": (0.9, 0.9)}


def test_the_sets_are_big_enough() -> None:
    spans = load("pii_secrets.jsonl")
    injection = load("injection.jsonl")
    assert len(spans) >= 100 and sum(not r["entities"] for r in spans) >= 40
    assert sum(r["label"] == "attack" for r in injection) >= 60
    assert sum(r["label"] == "benign" for r in injection) >= 60
    assert {r["lang"] for r in injection} >= {"en", "es", "fr", "de", "pt", "it", "zh", "ja"}


def test_span_detectors_meet_their_floors() -> None:
    for name, score in eval_spans().items():
        precision, recall = FLOORS[name]
        assert score.precision >= precision and score.recall >= recall, (name, score.misses)


async def test_injection_rules_meet_their_floors() -> None:
    score = await eval_injection()
    precision, recall = FLOORS["prompt_injection"]
    assert score.precision >= precision and score.recall >= recall, score.misses
