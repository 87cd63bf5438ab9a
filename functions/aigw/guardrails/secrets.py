"""Secrets: cloud and provider credentials by their documented formats, plus generic tokens.

    aws_access_key     AKIA/ASIA/AGPA/AIDA/AROA/AIPA/ANPA/ANVA/ABIA/ACCA + 16 base32 chars
    aws_secret_key     40 base64 chars after an `aws_secret_access_key`-style name, or within
                       200 characters after an access key id
    private_key        -----BEGIN ... PRIVATE KEY----- (the whole block when its END is there)
    openai_api_key     sk-proj- / sk-svcacct- / sk-admin- + 40..250, legacy sk- + 48 (T3BlbkFJ)
    anthropic_api_key  sk-ant-<kind><NN>- + 32..150
    github_token       ghp_/gho_/ghu_/ghs_/ghr_ + 36, github_pat_ + 22 _ 59
    slack_token        xoxb-/xoxp-/xoxa-/xoxr-/xoxs-/xoxe- ..., hooks.slack.com/services/ URLs
    stripe_key         sk_live_/sk_test_/rk_live_/rk_test_ + 24..99, whsec_ + 32
    google_api_key     AIza + 35
    jwt                three base64url parts whose header decodes to JSON with "alg"
    high_entropy_token >= min_token_length chars with upper, lower and digits, Shannon entropy
                       >= threshold bits/char; never all-hex (hashes, UUIDs) and never base64
                       that decodes to readable text (encoded prose, data the user pasted)

Known prefixes are found with one literal-led regex (fast: CPython scans for literal
prefixes in C) and each candidate is matched exactly where it was found.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from aigw.guardrails.base import Finding, Source, Verdict, find_all, non_overlapping
from aigw.guardrails.config import SECRET_ENTITIES

_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_=.-")
_HEX = frozenset("0123456789abcdefABCDEF-")

# (entity, first characters, exact pattern at the prefix); where prefixes nest, the longer first.
_EXACT: tuple[tuple[str, str, str], ...] = (
    ("aws_access_key", "A", r"(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])"),
    ("anthropic_api_key", "s", r"sk-ant-[a-z]{3,8}\d{2}-[A-Za-z0-9_-]{32,150}(?![A-Za-z0-9_-])"),
    ("openai_api_key", "s", r"sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,250}(?![A-Za-z0-9_-])"),
    ("openai_api_key", "s", r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}(?![A-Za-z0-9])"),
    ("openai_api_key", "s", r"sk-[A-Za-z0-9]{48}(?![A-Za-z0-9_-])"),
    ("stripe_key", "sr", r"[sr]k_(?:live|test)_[A-Za-z0-9]{24,99}(?![A-Za-z0-9])"),
    ("stripe_key", "w", r"whsec_[A-Za-z0-9+/]{32,64}(?![A-Za-z0-9+/])"),
    ("github_token", "g", r"gh[pousr]_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    ("github_token", "g", r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}(?![A-Za-z0-9])"),
    ("slack_token", "x", r"xox[abeprs]-(?:\d+-)?[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])"),
    ("slack_token", "h", r"hooks\.slack\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32}"),
    ("google_api_key", "A", r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    ("jwt", "e", r"eyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{8,8000}\.[A-Za-z0-9_-]{8,2000}(?![A-Za-z0-9_-])"),
    ("private_key", "-", r"-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----"),
)
# Distinctive starts: a stream holds a token that begins with one until it ends (up to 512).
_PREFIXES = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "ABIA", "ACCA", "sk-", "sk_", "rk_",
             "whsec_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "hooks.slack.com/", "AIza",
             "eyJ", "-----BEGIN")
LONG_HOLD = 512


@functools.cache
def _rx() -> dict[str, re.Pattern[str]]:
    return {
        "prefix": re.compile(r"AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA|sk-|[sr]k_|whsec_|gh[pousr]_|"
                             r"github_pat_|xox[abeprs]-|hooks\.slack\.com|AIza|eyJ|-----BEGIN"),
        "token": re.compile(r"[A-Za-z0-9+/_=-]{16,}"),
        "aws_secret_named": re.compile(
            r"(?i:aws_?secret_?access_?key|secret_?access_?key|aws_?secret(?:_?key)?)[\"']?\s*[:=]\s*[\"']?"
            r"([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"),
        "aws_secret_near": re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
        "named": re.compile(r"(?i:api[_-]?key|secret|token|passw(?:or)?d|credential|bearer)[\"']?\s*[:=]?\s*[\"']?\Z"),
        "key_body": re.compile(r"[A-Za-z0-9+/=\s]{0,10000}"),
        "end_key": re.compile(r"-----END (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----"),
    }


@functools.cache
def _exact() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """Exact patterns by the first character of their prefix."""
    table: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for entity, firsts, pattern in _EXACT:
        compiled = re.compile(pattern)
        for ch in firsts:
            table.setdefault(ch, []).append((entity, compiled))
    return table


def shannon_entropy(token: str) -> float:
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values())


def _decodes_to_text(token: str) -> bool:
    """Base64 of readable text (mostly printable UTF-8) is data, not a credential."""
    core = token.rstrip("=")
    if len(core) < 16:
        return False
    try:
        raw = base64.b64decode(core + "=" * (-len(core) % 4), altchars=b"-_" if "-" in core or "_" in core else None,
                               validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in text)
    return bool(text) and printable / len(text) > 0.95 and sum(ch.isalpha() or ch == " " for ch in text) > len(text) / 2


def _jwt_ok(token: str) -> bool:
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(header, dict) and "alg" in header


class SecretsDetector:
    kind = "secrets"

    def __init__(self, entities: Iterable[str] = SECRET_ENTITIES, *, entropy_threshold: float = 4.0,
                 min_token_length: int = 32) -> None:
        self.entities = frozenset(entities)
        unknown = self.entities - set(SECRET_ENTITIES)
        if unknown:
            raise ValueError(f"unknown secret entities: {sorted(unknown)}")
        self.entropy_threshold = entropy_threshold
        self.min_token_length = min_token_length

    async def check(self, texts: Sequence[str], source: Source, meta: Mapping[str, str] | None = None) -> Verdict:
        return find_all(self, texts)

    def find(self, text: str) -> list[Finding]:
        found = list(self._known(text))
        if "aws_secret_key" in self.entities:
            found.extend(self._aws_secrets(text, found))
        if "high_entropy_token" in self.entities:
            found.extend(self._generic(text, found))
        return non_overlapping(found)

    def _known(self, text: str) -> Iterable[Finding]:
        exact = _exact()
        pos = 0
        prefix = _rx()["prefix"]
        while True:
            m = prefix.search(text, pos)
            if m is None:
                return
            start = m.start()
            pos = start + 1
            if start and text[start - 1] in _TOKEN_CHARS and text[start - 1] not in "/.=":
                continue  # inside a longer token: the generic check judges it
            for entity, pattern in exact.get(text[start], ()):
                hit = pattern.match(text, start)
                if hit is None or entity not in self.entities:
                    continue
                end = hit.end()
                if entity == "jwt" and not _jwt_ok(hit.group()):
                    continue
                if entity == "private_key":
                    block_end = _rx()["end_key"].search(text, end)
                    if block_end is not None:
                        end = block_end.end()
                    else:  # a truncated block: the base64 body that follows is the key too
                        body = _rx()["key_body"].match(text, end)
                        end = end + len(body.group().rstrip()) if body else end
                yield Finding(entity, start, end)
                pos = end
                break

    def _aws_secrets(self, text: str, known: list[Finding]) -> Iterable[Finding]:
        rx = _rx()
        lowered = text.lower()
        if "secret" in lowered:
            for m in rx["aws_secret_named"].finditer(text):
                yield Finding("aws_secret_key", m.start(1), m.end(1))
        for f in known:
            if f.entity == "aws_access_key":
                for m in rx["aws_secret_near"].finditer(text, f.end, min(len(text), f.end + 240)):
                    if _random_looking(m.group()):
                        yield Finding("aws_secret_key", m.start(), m.end())
                        break

    def _generic(self, text: str, known: list[Finding]) -> Iterable[Finding]:
        rx = _rx()
        for m in rx["token"].finditer(text):
            token = m.group().strip("=-_/.")
            if token.startswith(("sha256-", "sha384-", "sha512-")):
                continue  # a subresource-integrity hash
            start = m.start() + m.group().find(token)
            named = rx["named"].search(text, max(0, start - 40), start) is not None
            if len(token) < (16 if named else self.min_token_length):
                continue
            if any(f.start < start + len(token) and start < f.end for f in known):
                continue
            if text[max(0, start - 7):start].endswith(("base64,", "sha256-", "sha384-", "sha512-")):
                continue  # a data: URI, a subresource-integrity hash
            if not _random_looking(token, self.entropy_threshold - (0.5 if named else 0.0)):
                continue
            yield Finding("high_entropy_token", start, start + len(token))

    def hold(self, text: str, limit: int) -> int:
        """A trailing token could still grow into a secret: held up to `limit` characters, or,
        when it starts with a known prefix (sk-, ghp_, eyJ...), to its end (up to LONG_HOLD)."""
        n = len(text)
        lo = max(0, n - LONG_HOLD)
        i = n
        while i > lo and text[i - 1] in _TOKEN_CHARS:
            i -= 1
        run = text[i:]
        starts = [k for p in _PREFIXES if (k := run.find(p)) != -1]
        if starts:
            return i + min(starts)
        begin = text.rfind("-----BEGIN", max(0, n - 100))
        if begin != -1 and text.find("KEY-----", begin) == -1 and text.find("BLOCK-----", begin) == -1:
            return begin  # a private key header in progress
        return max(i, n - limit)


def _random_looking(token: str, threshold: float = 4.0) -> bool:
    if set(token) <= _HEX or token.isdigit():
        return False  # hashes, UUIDs, numbers
    if not (any(c.isupper() for c in token) and any(c.islower() for c in token)
            and sum(c.isdigit() for c in token) >= 2):
        return False  # CamelCaseIdentifiers and words
    if shannon_entropy(token) < min(threshold, math.log2(len(token)) - 0.2):
        return False
    return not _decodes_to_text(token)
