"""Body parser benchmark: `python bench/bench_jsonbody.py [--repeat 9]`.

The front doors' body parser (aigw/jsonbody.py: jiter, plus a C-speed scan for numbers that
could overflow a float) against what it replaced (`json.loads` and a type check, which let
depth bombs, NaN, 1e400 and lone surrogates through). Chat bodies of 2 KB and 1 MB, and a
1 MB body whose text trips the overflow scan (the exact walk then runs). Prints the best
time per parse of `--repeat` runs, in microseconds; not a test.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions"))

from aigw.jsonbody import parse_object

WORDS = ["the", "gateway", "routes", "each", "call", "to", "the", "right", "provider", "enforces", "budgets", "and",
         "caches", "answers"]


def chat_body(size: int, *, extra: str = "") -> bytes:
    rng = random.Random(7)
    messages: list[dict[str, Any]] = []
    while len(json.dumps(messages)) < size - 300:
        text = " ".join(rng.choice(WORDS) for _ in range(40))
        messages.append({"role": rng.choice(["user", "assistant"]), "content": text + extra})
    return json.dumps({"model": "gpt-4o-mini", "messages": messages, "temperature": 0.2, "max_tokens": 256,
                       "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {
                           "type": "object", "properties": {"q": {"type": "string"}}}}}]}).encode()


def json_loads_object(body: bytes) -> dict[str, Any]:
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    bodies = {"2 KB chat": chat_body(2048), "1 MB chat": chat_body(1 << 20),
              "1 MB, walk": chat_body(1 << 20, extra=" call +1000")}
    print(f"{'body':14s} {'bytes':>9s} {'json.loads us':>14s} {'parse_object us':>16s}")
    for name, body in bodies.items():
        number = 20_000 if len(body) < 10_000 else 40
        row = []
        for parse in (json_loads_object, parse_object):
            best = min(timeit.repeat(lambda p=parse, b=body: p(b), number=number, repeat=args.repeat))  # type: ignore[misc]
            row.append(best / number * 1e6)
        print(f"{name:14s} {len(body):9d} {row[0]:14.1f} {row[1]:16.1f}")


if __name__ == "__main__":
    main()
