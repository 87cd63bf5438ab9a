"""Virtual key format and hashing. Only the SHA-256 of a key is ever stored or logged.

A key is `sk-aigw-` + 43 URL-safe characters (32 random bytes). SHA-256 without a salt is
right here: the input has 256 bits of entropy, so there is nothing to brute-force, and an
unsalted hash lets the hot path find the record with one key lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from typing import Any

KEY_PREFIX = "sk-aigw-"
_DISPLAY_CHARS = 12  # "sk-aigw-" + 4: enough to tell keys apart in a list, useless to an attacker


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _compact_sha256() -> Callable[[bytes], Any]:
    """CPython's own SHA-256 (HACL*, the module hashlib falls back to without OpenSSL), else
    hashlib's. The same digest; OpenSSL's EVP layer around it cost 50 us per request with cold
    caches (a Lambda invocation after an idle spell), this one about 3 (bench/inprocess.py --cold)."""
    for module in ("_sha2", "_sha256"):  # 3.12+, 3.11
        try:
            builtin: Callable[[bytes], Any] = __import__(module).sha256
        except (ImportError, AttributeError):
            continue
        if builtin(b"abc").hexdigest() == hashlib.sha256(b"abc").hexdigest():
            return builtin
    return hashlib.sha256


_sha256 = _compact_sha256()


def hash_key(key: str) -> str:
    return _sha256(key.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str:
    return key[:_DISPLAY_CHARS]


def extract_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer <key>` or `x-api-key: <key>` (the Anthropic SDK's header)."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    api_key = headers.get("x-api-key")
    if api_key and api_key.strip():
        return api_key.strip()
    return None
