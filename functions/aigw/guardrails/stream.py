"""Guardrails on a stream, with no sampling: every character is checked before it is released.

    StreamScanner    the span detectors (pii, secrets, deny_patterns) on text deltas: it
                     releases what is safe and holds back only the shortest tail that could
                     still be (the start of) a match, as each detector says (`hold`), at most
                     `max_hold` characters, or up to the detector's documented bound when a
                     distinctive prefix (sk-, ghp_, eyJ...) has begun. A completed match under
                     `block` is reported at once; under `redact` it is released as its
                     placeholder; under `monitor` it is counted. `flush` releases the rest.
    IntervalChecker  the other kinds (bedrock, webhook, prompt_injection, deny_topics) see the
                     released text in intervals of N characters (cut at a space when one is
                     near), like Bedrock's own stream processing, and the end.

Detectors look at `context` characters already released before the pending text too, so a
pattern's lookbehind (a word boundary, "not after a digit") works across chunks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aigw.guardrails.base import Action, Finding, SpanDetector
from aigw.guardrails.redact import Vault, redact

HARD_CAP = 512  # never hold more than this, whatever a detector asks


@dataclass(frozen=True, slots=True)
class SpanRule:
    name: str  # the guardrail's name
    detector: SpanDetector
    action: Action
    restore: bool = False
    max_hold: int = 64


@dataclass(slots=True)
class Blocked:
    guardrail: str
    entities: list[str]
    source: str = "output"


@dataclass(slots=True)
class Released:
    text: str
    blocked: Blocked | None = None
    acted: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)  # (guardrail, action) -> entities


class StreamScanner:
    def __init__(self, rules: Sequence[SpanRule], *, vault: Vault | None = None, context: int = 64) -> None:
        self.rules = list(rules)
        self.vault = vault or Vault()
        self.context = context
        self._pending = ""
        self._released = ""  # the last `context` raw characters released
        self.blocked: Blocked | None = None

    def feed(self, delta: str) -> Released:
        return self._step(self._pending + delta, final=False)

    def flush(self) -> Released:
        return self._step(self._pending, final=True)

    def _step(self, buf: str, *, final: bool) -> Released:
        if self.blocked is not None:
            return Released("", self.blocked)
        ctx = self._released
        window = ctx + buf
        offset = len(ctx)
        cut = len(buf)
        found: list[tuple[SpanRule, Finding]] = []
        for rule in self.rules:
            for f in rule.detector.find(window):
                if f.end > offset:
                    found.append((rule, Finding(f.entity, max(f.start, offset) - offset, f.end - offset, f.score)))
            if not final:
                cut = min(cut, max(rule.detector.hold(window, rule.max_hold) - offset, 0))
        if not final:
            cut = max(cut, len(buf) - HARD_CAP)
            moved = True
            while moved:  # a match is released whole or held whole
                moved = False
                for _, f in found:
                    if f.start < cut < f.end:
                        cut, moved = f.start, True
        # A match is complete once text that ends it has arrived (it is before the cut): only
        # then can it block, so "4111 1111 1111 1111" does not block a 17-digit number.
        complete = [(r, f) for r, f in found if f.end <= cut]
        blocking = [r.name for r, f in complete if r.action == "block"]
        if blocking:
            name = blocking[0]
            entities = Counter(f.entity for r, f in complete if r.name == name)
            self.blocked = Blocked(name, sorted(entities))
            return Released("", self.blocked, {(name, "block"): entities})
        released_raw = buf[:cut]
        acted: dict[tuple[str, str], Counter[str]] = {}
        spans = complete
        for rule, f in spans:
            acted.setdefault((rule.name, rule.action), Counter())[f.entity] += 1
        out = released_raw
        redacting = sorted(((r, f) for r, f in spans if r.action == "redact"), key=lambda rf: rf[1].start)
        if redacting:
            pieces, pos = [], 0
            for rule, f in redacting:
                if f.start < pos:
                    continue
                pieces.append(released_raw[pos:f.start])
                pieces.append(redact(released_raw[f.start:f.end], [Finding(f.entity, 0, f.end - f.start)], self.vault,
                                     restorable=rule.restore))
                pos = f.end
            pieces.append(released_raw[pos:])
            out = "".join(pieces)
        self._pending = buf[cut:]
        self._released = (ctx + released_raw)[-self.context:] if self.context else ""
        return Released(out, None, acted)


Check = Callable[[str], Awaitable[tuple[str, Blocked | None]]]  # (segment) -> (text to release, blocked)


class IntervalChecker:
    """Holds released text until `interval` characters are there, then checks them at once."""

    def __init__(self, check: Check, *, interval: int) -> None:
        self._check = check
        self.interval = interval
        self._buffer = ""
        self.blocked: Blocked | None = None

    async def feed(self, text: str) -> Released:
        if self.blocked is not None:
            return Released("", self.blocked)
        self._buffer += text
        if len(self._buffer) < self.interval:
            return Released("")
        cut = self._buffer.rfind(" ", self.interval // 2, self.interval) + 1 or self.interval
        segment, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return await self._run(segment)

    async def flush(self) -> Released:
        if self.blocked is not None:
            return Released("", self.blocked)
        segment, self._buffer = self._buffer, ""
        return await self._run(segment) if segment else Released("")

    async def _run(self, segment: str) -> Released:
        text, blocked = await self._check(segment)
        if blocked is not None:
            self.blocked = blocked
            return Released("", blocked)
        return Released(text)
