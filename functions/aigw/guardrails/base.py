"""The one small protocol every guardrail kind implements, and what a check returns.

    Detector        required: `kind` and async `check(texts, source)` -> `Verdict`
    SpanDetector    optional capability of the CPU-only kinds (pii, secrets, deny_patterns):
                    `find(text)` -> spans, and `hold(text)` -> where a match could still be
                    in progress at the end of `text`. Only span detectors can redact, and only
                    they run on every stream chunk (StreamScanner); the others see a stream in
                    intervals of characters (stream.IntervalChecker).

Findings carry the entity type and the span, never the matched text: whoever holds a
`Verdict` can count and name what was found without being able to log a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Source = Literal["input", "output"]
Action = Literal["block", "redact", "monitor"]


@dataclass(frozen=True, slots=True)
class Finding:
    entity: str  # "email", "aws_access_key", "instruction_override", a topic name, ...
    start: int
    end: int
    score: float = 1.0


@dataclass(slots=True)
class Verdict:
    """What one detector says about the texts of one check, in order.

    `triggered` is the detector's own decision (a score detector compares with its threshold);
    `rewritten` is set when a remote guardrail anonymized the texts itself (Bedrock's masked
    output, a webhook's `texts`), one string per input text.
    """

    triggered: bool
    findings: list[list[Finding]] = field(default_factory=list)
    score: float = 0.0
    entities: Counter[str] = field(default_factory=Counter)
    rewritten: list[str] | None = None

    @classmethod
    def from_findings(cls, findings: list[list[Finding]]) -> Verdict:
        entities: Counter[str] = Counter(f.entity for per_text in findings for f in per_text)
        score = max((f.score for per_text in findings for f in per_text), default=0.0)
        return cls(triggered=bool(entities), findings=findings, score=score, entities=entities)


class Detector(Protocol):
    kind: str

    async def check(self, texts: Sequence[str], source: Source, meta: Mapping[str, str] | None = None) -> Verdict:
        """Judge `texts` (one request's, or one stream interval). `meta` names the request for
        remote services (request id, model, team, project, key id); never a credential."""
        ...


@runtime_checkable
class SpanDetector(Protocol):
    kind: str

    def find(self, text: str) -> list[Finding]:
        """Every match in `text`, validated, non-overlapping, in order."""
        ...

    def hold(self, text: str, limit: int) -> int:
        """The smallest index i such that `text[i:]` could still grow into a match (or a longer
        one): a stream must not release from i on yet; `len(text)` when nothing is pending.
        At least `len(text) - limit`, except where a detector knows a longer match has begun
        (a secret's prefix): then up to its own documented bound."""
        ...


class GuardrailUnavailable(Exception):
    """A remote guardrail (Bedrock, webhook, an embedder) failed; the guardrail's `on_error` decides."""


def non_overlapping(found: list[Finding]) -> list[Finding]:
    """Leftmost first, the longest at a position; a finding inside an earlier one is dropped."""
    found.sort(key=lambda f: (f.start, -f.end))
    out: list[Finding] = []
    for f in found:
        if not out or f.start >= out[-1].end:
            out.append(f)
    return out


def find_all(detector: SpanDetector, texts: Sequence[str]) -> Verdict:
    return Verdict.from_findings([detector.find(t) for t in texts])


def segments(texts: Sequence[str], *, max_chars: int, size: int = 300, limit: int = 8) -> list[str]:
    """Sentence-aligned pieces of about `size` characters for an embedder: the last `max_chars`
    characters of the texts, latest text first; at most `limit` pieces (the first and last)."""
    import re

    budget = max_chars
    pieces: list[str] = []
    for text in reversed(texts):
        if budget <= 0:
            break
        part = text[-budget:]
        budget -= len(part)
        current = ""
        for sentence in re.split(r"(?<=[.!?\n\u3002\uff01\uff1f])\s*", part):
            sentence = " ".join(sentence.split())
            if not sentence:
                continue
            if current and len(current) + len(sentence) > size:
                pieces.append(current)
                current = ""
            current = f"{current} {sentence}".strip()
        if current:
            pieces.append(current)
    if len(pieces) > limit:
        half = limit // 2
        pieces = pieces[:half] + pieces[-(limit - half):]
    return pieces


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Embedders here return unit vectors: the dot product is the cosine."""
    return sum(x * y for x, y in zip(a, b, strict=False))
