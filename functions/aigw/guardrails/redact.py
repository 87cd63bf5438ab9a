"""Typed placeholders for redacted values, and turning them back in the answer.

    Vault      one per request: value <-> placeholder (`[EMAIL_1]`, `[CREDIT_CARD_2]`),
               numbered per entity type, the same value always the same placeholder. Shared by
               input and output, so a placeholder made for the answer never reuses a number
               the model was sent.
    redact     replace the findings in a text by their placeholders
    Restorer   turn placeholders the model repeats back into the originals, only those made
               with `restore: true`: a whole text (`restore`), or a stream (`feed`/`flush`),
               holding back only a tail that could still be the start of a placeholder.

The originals live only in this per-request object; nothing here is logged.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

from aigw.guardrails.base import Finding

MAX_PLACEHOLDER = 48  # "[" + entity (<= 40) + "_" + number + "]"


@functools.cache
def _placeholder_rx() -> re.Pattern[str]:
    return re.compile(r"\[([A-Z][A-Z0-9_]{0,40}?)_(\d{1,6})\]")


class Vault:
    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._originals: dict[str, str] = {}  # restorable placeholders only
        self._counts: Counter[str] = Counter()

    def placeholder(self, entity: str, value: str, *, restorable: bool) -> str:
        key = (entity, value)
        existing = self._by_value.get(key)
        if existing is not None:
            if restorable:
                self._originals.setdefault(existing, value)
            return existing
        tag = re.sub(r"[^A-Z0-9_]", "_", entity.upper())[:40] or "REDACTED"
        self._counts[tag] += 1
        made = f"[{tag}_{self._counts[tag]}]"
        self._by_value[key] = made
        if restorable:
            self._originals[made] = value
        return made

    def original(self, placeholder: str) -> str | None:
        return self._originals.get(placeholder)

    @property
    def restorable(self) -> bool:
        return bool(self._originals)


def redact(text: str, findings: Sequence[Finding], vault: Vault, *, restorable: bool) -> str:
    if not findings:
        return text
    out: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < pos:
            continue
        out.append(text[pos:f.start])
        out.append(vault.placeholder(f.entity, text[f.start:f.end], restorable=restorable))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


class Restorer:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._pending = ""

    def restore(self, text: str) -> str:
        if "[" not in text or not self.vault.restorable:
            return text
        return _placeholder_rx().sub(lambda m: self.vault.original(m.group()) or m.group(), text)

    def feed(self, delta: str) -> str:
        """The restored text that is safe to send now; a possible placeholder start is held."""
        text = self._pending + delta
        if not self.vault.restorable:
            self._pending = ""
            return text
        cut = _partial_start(text)
        self._pending = text[cut:]
        return self.restore(text[:cut])

    def flush(self) -> str:
        text, self._pending = self._pending, ""
        return self.restore(text)


def _partial_start(text: str) -> int:
    """Where a tail that could still become a placeholder starts (len(text) if none)."""
    k = text.rfind("[", max(0, len(text) - MAX_PLACEHOLDER))
    if k == -1:
        return len(text)
    tail = text[k + 1:]
    if "]" in tail:
        return len(text)
    if re.fullmatch(r"(?:[A-Z][A-Z0-9_]{0,40})?(?:_\d{0,6})?", tail) or re.fullmatch(r"[A-Z][A-Z0-9_]{0,46}", tail):
        return k
    return len(text)
