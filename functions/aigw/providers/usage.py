"""Token counts as upstreams report them, read without trusting them.

An upstream may send any JSON where a count belongs: a negative number, a fraction, `NaN`,
`Infinity`, 1e300, a string. Reading one must never fail the answer (the text was
generated and must be billed) nor crash the gateway (`int(float("inf"))` raises
OverflowError). So a count is kept as is when it is an integer, whatever its sign or size
(settlement decides whether usage is believable: a negative, non-finite or absurd count is
invalid usage, billed by the gateway's own estimate), and anything that is no integer at all
becomes `INVALID_COUNT`, a negative number settlement refuses like any other.
"""

from __future__ import annotations

import math
from typing import Any

from aigw.pricing.cost import Usage

INVALID_COUNT = -1
# OpenAI usage fields the gateway reads (Usage.from_openai); nested details included.
_OPENAI_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")
_OPENAI_DETAILS = {"prompt_tokens_details": ("cached_tokens",), "completion_tokens_details": ("reasoning_tokens",)}


def count(value: Any) -> int:
    """One reported count: absent is 0; an integer (or an integral, finite float) as is."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return INVALID_COUNT
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return INVALID_COUNT


def is_valid(usage: Usage) -> bool:
    """Whether every count is a plausible number of tokens: none negative, and none that `Usage`
    itself flagged (where it validates its counts and names the bad ones in `invalid`)."""
    if getattr(usage, "invalid", None):
        return False
    return min(usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens,
               usage.reasoning_tokens) >= 0


def openai_usage(usage: Any) -> Usage | None:
    """`Usage` from an OpenAI `usage` object. The object is handed to clients as sent only when
    every count in it is an integer; otherwise a clean one is rebuilt from the parsed counts."""
    if not isinstance(usage, dict):
        return None
    return _plain_openai_usage(usage) or _openai_usage(usage)


def _plain_openai_usage(usage: dict[str, Any]) -> Usage | None:
    """`_openai_usage` for what nearly every answer carries, every count present a plain int
    and each details object a dict (or null): the same Usage, without the general path's
    per-count checks (a fifth of a JSON answer's translation). None for anything else.
    tests/unit/providers/test_usage_parsing.py holds the two equal."""
    for name in _OPENAI_COUNTS:
        if name in usage and type(usage[name]) is not int:
            return None
    clean = dict(usage)
    found: list[int] = []
    for group, (name,) in _OPENAI_DETAILS.items():
        details = usage.get(group)
        if details is None:
            found.append(0)
            continue
        if type(details) is not dict or (name in details and type(details[name]) is not int):
            return None
        clean[group] = dict(details)
        found.append(details.get(name, 0))
    parsed = Usage(input_tokens=usage.get("prompt_tokens", 0), output_tokens=usage.get("completion_tokens", 0),
                   cache_read_tokens=found[0], reasoning_tokens=found[1], openai=clean)
    if not is_valid(parsed):
        parsed.openai = None
    return parsed


def _openai_usage(usage: dict[str, Any]) -> Usage:
    clean = dict(usage)
    changed = False
    for name in _OPENAI_COUNTS:
        if name in clean:
            parsed = count(clean[name])
            changed |= parsed is not clean[name] and parsed != clean[name]
            clean[name] = parsed
    for group, names in _OPENAI_DETAILS.items():
        details = clean.get(group)
        if details is not None and not isinstance(details, dict):
            clean.pop(group)
            changed = True
        elif isinstance(details, dict):
            fixed = {**details, **{n: count(details[n]) for n in names if n in details}}
            changed |= fixed != details
            clean[group] = fixed
    parsed_usage = Usage.from_openai(clean)
    if changed or not is_valid(parsed_usage):
        parsed_usage.openai = None  # never pass what the upstream sent on to the client
    return parsed_usage
