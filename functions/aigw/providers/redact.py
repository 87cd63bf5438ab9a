"""Credential values, and the partial forms providers quote, kept out of every error text.

Upstreams echo what they were sent: OpenAI answers a bad key with "Incorrect API key
provided: sk-proj-****wxyz", others quote the key whole, its first characters, or a masked
prefix and its last four. Every credential the gateway loads is registered here (a
`Credential` registers itself when it is built; Bedrock registers the role's keys), and
`redact` removes the value and those partial forms from any text. `GatewayError` runs its
message through it, so nothing an upstream wrote can carry a credential to a client or to
the log line.

Partial forms, for a value long enough that the piece cannot be common text:
  - the whole value;
  - a token starting with its first 8 characters (values of 16+ characters);
  - a masked token (`...`, `…`, `**`, `xxxx`) ending with its last 4 (values of 16+);
  - a token ending with its last 4 characters (values of 24+: random enough to be safe).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

REDACTED = "[redacted]"
MIN_VALUE = 8  # shorter values (a region, a flag) are not secrets worth scrubbing everywhere
MIN_PARTIAL = 16  # prefix / masked last-four forms
MIN_LAST_FOUR = 24  # a bare last-four token
# One token of an error text: key-like characters, masks included.
_TOKEN = re.compile(r"[A-Za-z0-9_\-.*…+/•]+")
_MASK = re.compile(r"\.{2,}|…|\*{2,}|x{4,}|X{4,}|•+")


class Redactor:
    """The process's registry of credential values; safe to share across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._whole: re.Pattern[str] | None = None
        self._prefixes: tuple[str, ...] = ()
        self._masked_tails: tuple[str, ...] = ()
        self._bare_tails: tuple[str, ...] = ()

    def add(self, values: Iterable[str]) -> None:
        fresh = {v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= MIN_VALUE}
        if fresh <= self._values:
            return
        with self._lock:
            self._values |= fresh
            ordered = sorted(self._values, key=len, reverse=True)
            self._whole = re.compile("|".join(re.escape(v) for v in ordered))
            self._prefixes = tuple({v[:8] for v in ordered if len(v) >= MIN_PARTIAL})
            self._masked_tails = tuple({v[-4:] for v in ordered if len(v) >= MIN_PARTIAL})
            self._bare_tails = tuple({v[-4:] for v in ordered if len(v) >= MIN_LAST_FOUR})

    def redact(self, text: str) -> str:
        whole = self._whole
        if whole is None or not text:
            return text
        text = whole.sub(REDACTED, text)
        return _TOKEN.sub(self._token, text)

    def _token(self, match: re.Match[str]) -> str:
        token = match.group(0)
        stripped = token.rstrip(".")  # a sentence's full stop is not part of the key
        for prefix in self._prefixes:
            at = stripped.find(prefix)
            if at >= 0:  # "Bearer/sk-proj-abc...": from the prefix on
                return token[:at] + REDACTED + token[len(stripped):]
        if _MASK.search(stripped) and stripped.endswith(self._masked_tails):
            return REDACTED + token[len(stripped):]
        if stripped.endswith(self._bare_tails):
            return REDACTED + token[len(stripped):]
        return token

    def clear(self) -> None:
        """Forget every value (tests only)."""
        with self._lock:
            self._values.clear()
            self._whole = None
            self._prefixes = self._masked_tails = self._bare_tails = ()


REDACTOR = Redactor()


def register(values: Iterable[str]) -> None:
    REDACTOR.add(values)


def redact(text: str) -> str:
    return REDACTOR.redact(text)
