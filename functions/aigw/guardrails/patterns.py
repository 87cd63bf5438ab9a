"""deny_patterns: words and regular expressions the platform team forbids, case-insensitive.

`words` match as whole words (not inside a longer word); `patterns` are regexes as written.
A pattern that is only literal text is searched with `str.find` (C speed); the others run
as compiled regexes. At config load a pattern with a repeat inside a repeat (`(a+)+`,
`(\\w*,)*`) is refused: it can backtrack for exponential time on a crafted input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from aigw.guardrails.base import Finding, Source, Verdict, find_all, non_overlapping

try:  # Python 3.11+: the regex parser moved; the public alias is deprecated
    from re import _parser as _sre  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover
    import sre_parse as _sre  # type: ignore[no-redef,unused-ignore]

ENTITY = "denied_term"
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _nested_repeat(items: object, inside: bool) -> bool:
    for op, arg in items:  # type: ignore[attr-defined]
        name = str(op)
        if name in _REPEATS:
            _lo, hi, sub = arg
            repeats = hi > 1
            if repeats and inside:
                return True
            if _nested_repeat(sub, inside or repeats):
                return True
        elif name == "SUBPATTERN":
            if _nested_repeat(arg[-1], inside):
                return True
        elif name == "BRANCH":
            if any(_nested_repeat(b, inside) for b in arg[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT") and _nested_repeat(arg[1], inside):
            return True
    return False


def check_pattern(pattern: str) -> None:
    """Raise ValueError when `pattern` cannot be used: invalid, or open to catastrophic backtracking."""
    try:
        re.compile(pattern, re.IGNORECASE)
        parsed = _sre.parse(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
    if _nested_repeat(parsed, False):
        raise ValueError(f"pattern {pattern!r} nests a repeat inside a repeat; it could take exponential time "
                         "on a crafted input (write it without the nested quantifier)")
    if parsed.getwidth()[0] == 0:
        raise ValueError(f"pattern {pattern!r} can match the empty string")


def _literal(pattern: str) -> str | None:
    parsed = _sre.parse(pattern)
    if all(str(op) == "LITERAL" for op, _ in parsed):
        return "".join(chr(arg) for _, arg in parsed)
    return None


class DenyPatternsDetector:
    kind = "deny_patterns"

    def __init__(self, *, patterns: Sequence[str] = (), words: Sequence[str] = ()) -> None:
        for p in patterns:
            check_pattern(p)
        self._words = [w.lower() for w in words if w]
        self._literals: list[str] = []
        self._regexes: list[re.Pattern[str]] = []
        widest = 1
        for p in patterns:
            literal = _literal(p)
            if literal is not None:
                self._literals.append(literal.lower())
            else:
                compiled = re.compile(p, re.IGNORECASE)
                self._regexes.append(compiled)
                hi = _sre.parse(p, re.IGNORECASE).getwidth()[1]
                widest = max(widest, hi if hi < 4096 else 4096)
        self._regex_width = widest if self._regexes else 0

    async def check(self, texts: Sequence[str], source: Source, meta: Mapping[str, str] | None = None) -> Verdict:
        return find_all(self, texts)

    def find(self, text: str) -> list[Finding]:
        lowered = text.lower()
        if len(lowered) != len(text):  # a few characters change length when lowered (İ)
            lowered = "".join(ch.lower()[:1] or ch for ch in text)
        found: list[Finding] = []
        for word in self._words:
            pos = lowered.find(word)
            while pos != -1:
                end = pos + len(word)
                if (pos == 0 or not lowered[pos - 1].isalnum()) and (end == len(text) or not lowered[end].isalnum()):
                    found.append(Finding(ENTITY, pos, end))
                pos = lowered.find(word, pos + 1)
        for literal in self._literals:
            pos = lowered.find(literal)
            while pos != -1:
                found.append(Finding(ENTITY, pos, pos + len(literal)))
                pos = lowered.find(literal, pos + len(literal))
        for regex in self._regexes:
            found.extend(Finding(ENTITY, m.start(), m.end()) for m in regex.finditer(text) if m.end() > m.start())
        return non_overlapping(found)

    def hold(self, text: str, limit: int) -> int:
        """The longest tail that is the start of a word or literal; for regexes, their widest
        match less one character (or `limit` if they are unbounded)."""
        n = len(text)
        start = n
        lowered = text[-max(limit, 1):].lower()
        m = len(lowered)
        for word in (*self._words, *self._literals):
            for k in range(min(len(word), m), 0, -1):
                if lowered.endswith(word[:k]):
                    start = min(start, n - k)
                    break
        if self._regex_width:
            start = min(start, n - min(self._regex_width, limit))
        return max(start, n - limit)
