"""Prompt injection: rules for the known attack families plus similarity to known attacks.

The score is in [0, 1] and the guardrail's threshold decides. Rules (injection_rules.py)
combine as independent evidence, 1 - prod(1 - weight); two kinds of hiding are undone first
and scored on what they hide:
  - Unicode tag characters (U+E0000..E007F) render as nothing but spell ASCII text; any run
    of them (other than a flag emoji's subdivision tag) scores 0.95 on its own;
  - base64 runs that decode to readable text are normalized and run through the rules: an
    attack inside scores 0.9 (`encoded`).
With an `Embedder` (the semantic cache's: multilingual-e5 locally, Titan on AWS), the texts'
segments are compared with EXEMPLARS; a cosine maps linearly from `similarity_floor` (0)
to 1 (1), and the score is the larger of the two halves. Rules alone decide when no embedder
is configured, or when they already reached the threshold (no embedding call is made).

Benign texts that talk about instructions ("how do I ignore a warning in Python", "what is a
system prompt") pass: every rule needs a target (previous instructions, your system prompt),
not a keyword.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aigw.cache.embedders import Embedder
from aigw.guardrails.base import Finding, GuardrailUnavailable, Source, Verdict, cosine, segments
from aigw.guardrails.injection_rules import EXEMPLARS, RULES, Rule

_PUNCT = str.maketrans({c: " " for c in "!\"#$%&'()*+,./:;<=>?@[\\]^`{|}~-\u3001\u3002\uff0c\uff01\uff1f\u00bf\u00a1"})
SIMILAR = "similar_to_known_attack"


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    regex: re.Pattern[str]
    triggers: frozenset[str]  # folded like the text they are looked for in


@functools.cache
def _aux() -> dict[str, re.Pattern[str]]:
    return {
        "zero_width": re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]"),
        "combining": re.compile("[\u0300-\u036f]"),
        "tags": re.compile("[\U000e0000-\U000e007f]+"),
        "base64": re.compile(r"[A-Za-z0-9+/]{24,}={0,2}"),
    }


@functools.cache
def _compiled() -> tuple[list[_Compiled], list[_Compiled]]:
    """Rules compiled on first use (never at import), written against normalized text."""
    words: list[_Compiled] = []
    substrings: list[_Compiled] = []
    for rule in RULES:
        entry = _Compiled(rule, re.compile(_fold(rule.pattern), re.IGNORECASE),
                          frozenset(normalize(t) for t in rule.triggers))
        (substrings if rule.substring else words).append(entry)
    return words, substrings


def _fold(text: str) -> str:
    if text.isascii():
        return text
    aux = _aux()
    return aux["combining"].sub("", unicodedata.normalize("NFKD", aux["zero_width"].sub("", text)))


def normalize(text: str) -> str:
    """Lowercase, accents and zero-width characters removed, compatibility forms folded."""
    return _fold(text).lower()


def _hidden_tags(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _aux()["tags"].finditer(text):
        if m.start() and text[m.start() - 1] == "\U0001f3f4":
            continue  # a subdivision flag (England, Scotland, Wales) is spelled with tags
        out.append((m.start(), m.end(), "".join(chr(ord(c) - 0xE0000) for c in m.group())))
    return out


class InjectionDetector:
    kind = "prompt_injection"

    def __init__(self, *, threshold: float = 0.5, embedder: Embedder | None = None, similarity_floor: float = 0.90,
                 max_chars: int = 4_000, max_segments: int = 8) -> None:
        self.threshold = threshold
        self.embedder = embedder
        self.similarity_floor = similarity_floor
        self.max_chars = max_chars
        self.max_segments = max_segments
        self._exemplars: list[list[float]] | None = None
        self._lock = asyncio.Lock()

    # ---- rules -------------------------------------------------------------------------------
    def rule_findings(self, text: str, *, depth: int = 0) -> list[Finding]:
        """Rule matches in one text (spans refer to the normalized text), scored by weight."""
        words_rules, substring_rules = _compiled()
        aux = _aux()
        low = normalize(text)
        found: list[Finding] = []
        words = set(low.translate(_PUNCT).split())
        for entry in words_rules:
            if not words.isdisjoint(entry.triggers):
                m = entry.regex.search(low)
                if m:
                    found.append(Finding(entry.rule.family, m.start(), m.end(), entry.rule.weight))
        ascii_text = text.isascii()
        for entry in substring_rules:
            if ascii_text and entry.rule.family != "delimiter":
                continue
            if any(t in low for t in entry.triggers):
                m = entry.regex.search(low)
                if m:
                    found.append(Finding(entry.rule.family, m.start(), m.end(), entry.rule.weight))
        if not ascii_text:
            for start, end, hidden in _hidden_tags(text):
                found.append(Finding("invisible_unicode", start, end, 0.95))
                if depth == 0:
                    found.extend(Finding(f.entity, start, end, f.score) for f in self.rule_findings(hidden, depth=1))
        if depth == 0 and words and max(map(len, words)) >= 24:
            for m in aux["base64"].finditer(text):
                decoded = _decode_text(m.group())
                if decoded and _combine(f.score for f in self.rule_findings(decoded, depth=1)) >= 0.5:
                    found.append(Finding("encoded", m.start(), m.end(), 0.9))
        return found

    def rule_score(self, text: str) -> tuple[float, list[Finding]]:
        found = self.rule_findings(text)
        return _combine(f.score for f in found), found

    # ---- similarity --------------------------------------------------------------------------
    async def similarity(self, texts: Sequence[str]) -> float:
        """Highest cosine between any segment of `texts` and any exemplar, mapped to [0, 1]."""
        if self.embedder is None:
            return 0.0
        pieces = segments(texts, max_chars=self.max_chars, limit=self.max_segments)
        if not pieces:
            return 0.0
        try:
            exemplars = await self._exemplar_vectors()
            vectors = await self.embedder.embed(pieces)
        except Exception as exc:
            raise GuardrailUnavailable(f"embedder failed: {type(exc).__name__}") from None
        best = max((cosine(v, e) for v in vectors for e in exemplars), default=0.0)
        return max(0.0, min(1.0, (best - self.similarity_floor) / (1.0 - self.similarity_floor)))

    async def _exemplar_vectors(self) -> list[list[float]]:
        assert self.embedder is not None
        async with self._lock:
            if self._exemplars is None:
                self._exemplars = await self.embedder.embed(list(EXEMPLARS))
        return self._exemplars

    # ---- the protocol ------------------------------------------------------------------------
    async def check(self, texts: Sequence[str], source: Source, meta: Mapping[str, str] | None = None) -> Verdict:
        per_text = [self.rule_score(t) for t in texts]
        score = max((s for s, _ in per_text), default=0.0)
        findings = [f for _, f in per_text]
        entities: Counter[str] = Counter(f.entity for fs in findings for f in fs)
        if score < self.threshold and self.embedder is not None:
            similarity = await self.similarity(texts)
            if similarity > score:
                score = similarity
                if similarity >= self.threshold:
                    entities[SIMILAR] += 1
        return Verdict(triggered=score >= self.threshold, findings=findings, score=round(score, 4), entities=entities)


def _combine(weights: object) -> float:
    miss = 1.0
    for w in weights:  # type: ignore[attr-defined]
        miss *= 1.0 - float(w)
    return 1.0 - miss


def _decode_text(token: str) -> str | None:
    core = token.rstrip("=")
    try:
        raw = base64.b64decode(core + "=" * (-len(core) % 4), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    printable = sum(ch.isprintable() or ch.isspace() for ch in text)
    return text if text and printable / len(text) > 0.9 else None
