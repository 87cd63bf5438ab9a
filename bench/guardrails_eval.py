"""Precision and recall of the built-in guardrail detectors on the labelled sets, at default settings.

    python bench/guardrails_eval.py               # rules only (no embedder)
    python bench/guardrails_eval.py --local       # prompt_injection with the local embedder too

Sets (tests/data/guardrails/): pii_secrets.jsonl (texts with the entity types they contain;
hard negatives have none) and injection.jsonl (attacks and benign prompts, 8 languages).
PII and secrets are scored per (text, entity type); injection per text. A test
(tests/unit/guardrails/test_eval.py) asserts floors on these numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

DATA = ROOT / "tests" / "data" / "guardrails"


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load(name: str) -> list[dict[str, Any]]:
    with open(DATA / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def eval_spans() -> dict[str, Score]:
    from aigw.guardrails.pii import PiiDetector
    from aigw.guardrails.secrets import SecretsDetector

    detectors = {"pii": PiiDetector(), "secrets": SecretsDetector()}
    scores = {name: Score() for name in detectors}
    for row in load("pii_secrets.jsonl"):
        name = row["detector"]
        got = {f.entity for f in detectors[name].find(row["text"])}
        want = set(row["entities"])
        s = scores[name]
        s.tp += len(got & want)
        s.fp += len(got - want)
        s.fn += len(want - got)
        if got != want:
            s.misses.append(f"{sorted(want)} != {sorted(got)}: {row['text'][:70]!r}")
    return scores


async def eval_injection(embedder: Any = None, threshold: float = 0.5) -> Score:
    from aigw.guardrails.injection import InjectionDetector

    detector = InjectionDetector(threshold=threshold, embedder=embedder)
    score = Score()
    for row in load("injection.jsonl"):
        verdict = await detector.check([row["text"]], "input")
        attack = row["label"] == "attack"
        if verdict.triggered and attack:
            score.tp += 1
        elif verdict.triggered:
            score.fp += 1
            score.misses.append(f"false positive ({row['lang']}, {verdict.score}): {row['text'][:70]!r}")
        elif attack:
            score.fn += 1
            score.misses.append(f"missed ({row['lang']}, {verdict.score}): {row['text'][:70]!r}")
    return score


def table(rows: Sequence[tuple[str, Score]]) -> str:
    lines = [f"{'detector':<28} {'precision':>9} {'recall':>7} {'tp':>4} {'fp':>4} {'fn':>4}"]
    for name, s in rows:
        lines.append(f"{name:<28} {s.precision:>9.3f} {s.recall:>7.3f} {s.tp:>4} {s.fp:>4} {s.fn:>4}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--local", action="store_true",
                        help="injection: also with the local embedder (aigw[semantic-local])")
    parser.add_argument("--misses", action="store_true", help="print every disagreement")
    args = parser.parse_args(argv)
    spans = eval_spans()
    rows: list[tuple[str, Score]] = [("pii", spans["pii"]), ("secrets", spans["secrets"]),
                                     ("prompt_injection (rules)", asyncio.run(eval_injection()))]
    if args.local:
        from aigw.cache.embedders import LocalEmbedder

        rows.append(("prompt_injection (+local e5)", asyncio.run(eval_injection(LocalEmbedder()))))
    print(table(rows))
    if args.misses:
        for name, s in rows:
            for miss in s.misses:
                print(f"  {name}: {miss}")


if __name__ == "__main__":
    main()
