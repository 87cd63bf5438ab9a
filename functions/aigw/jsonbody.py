"""Reading a client's JSON body without letting any input become a 500.

`parse_object(body)` returns the body's top-level object or raises `InvalidRequest` (a
400) saying what is wrong. It refuses what Python's `json` module lets through and what
later breaks the gateway (a RecursionError, a UnicodeEncodeError, a DynamoDB number error,
`Infinity` forwarded upstream as invalid JSON):

    nesting deeper than `max_depth`       json_too_deep      (RecursionError in `json`)
    NaN, Infinity, -Infinity              json_not_finite    (not JSON, RFC 8259 §6)
    numbers too large for a float (1e400) json_not_finite    (`json` reads them as inf)
    lone UTF-16 surrogates ("\\ud800")    json_lone_surrogate (unencodable in UTF-8)
    bytes that are not UTF-8              invalid_json       (RFC 8259 §8.1)
    a top level that is not an object     invalid_json

The fast path is pydantic-core's JSON parser (jiter, Rust, about twice as fast as `json`):
it refuses NaN/Infinity, lone surrogates and invalid UTF-8 itself and stops at
`PARSER_MAX_DEPTH` levels without recursing in Python. Two checks it lacks cost a pass in
C over the bytes: a float whose literal could overflow (an exponent of three digits or
more, or 155 digits in a row) sends the parsed value through an exact walk; a limit below
the parser's own is enforced by a walk only when the body has more `[` and `{` than the
limit (so small bodies never pay it). Error paths may be slower: they explain.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic_core import from_json

from aigw.errors import InvalidRequest

# jiter's fixed recursion limit: a value may sit inside at most this many arrays and objects
# (tests/unit/test_jsonbody.py pins it).
PARSER_MAX_DEPTH = 200
MAX_DEPTH = PARSER_MAX_DEPTH

# Digits -> "0", "E" and "+" -> "e": then two substring searches find every literal that might
# overflow a float (|x| >= 1.8e308 needs 155 integer digits or an exponent of 154 or more, so
# "e000" or "e+000", both "e000" here). A false alarm (such text inside a string, "+1000")
# only costs the exact walk.
_SHAPE = bytes.maketrans(b"0123456789E+", b"0000000000ee")
_OVERFLOW_SHAPES = (b"e000", b"0" * 155)
_POSITION = re.compile(r" at line (\d+) column (\d+)$")
_NOT_FINITE_LITERALS = ("-Infinity", "-NaN", "Infinity", "NaN")


def parse_object(body: bytes | str, *, max_depth: int = MAX_DEPTH, what: str = "the request body") -> dict[str, Any]:
    """The top-level JSON object of `body`; anything else is an `InvalidRequest` naming `what`."""
    if max_depth > PARSER_MAX_DEPTH:
        raise ValueError(f"max_depth above {PARSER_MAX_DEPTH} is not supported by the parser")
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    try:
        data = from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        if not raw.strip():
            raise InvalidRequest(f"{what} is empty; send a JSON object", code="invalid_json") from None
        raise _explain(raw, str(exc), what, max_depth) from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"{what} must be a JSON object, not {_kind(data)}", code="invalid_json")
    deep = max_depth < PARSER_MAX_DEPTH and raw.count(b"[") + raw.count(b"{") > max_depth
    shape = raw.translate(_SHAPE)
    huge = _OVERFLOW_SHAPES[0] in shape or _OVERFLOW_SHAPES[1] in shape
    if deep or huge:
        _walk(data, max_depth, what)
    return data


def _walk(data: Any, max_depth: int, what: str) -> None:
    """Exact checks, level by level (no recursion): nesting depth, counted as the parser
    counts it (a value may sit inside at most `max_depth` arrays and objects), and
    non-finite floats."""
    level: list[Any] = [data]
    depth = 0
    while level:
        depth += 1
        below: list[Any] = []
        for node in level:
            values = node.values() if isinstance(node, dict) else node
            if depth > max_depth and values:
                raise _too_deep(what, max_depth)
            for value in values:
                if isinstance(value, dict | list):
                    below.append(value)
                elif isinstance(value, float) and not math.isfinite(value):
                    raise InvalidRequest(f"{what} has a number too large for a 64-bit float (at most about 1.8e308)",
                                         code="json_not_finite")
        level = below


def _too_deep(what: str, max_depth: int) -> InvalidRequest:
    return InvalidRequest(f"{what} is nested deeper than {max_depth} levels of arrays and objects",
                          code="json_too_deep")


def _explain(raw: bytes, message: str, what: str, max_depth: int) -> InvalidRequest:
    """A parser error as a message a client can act on (the parser's own wording is terse)."""
    if message.startswith("recursion limit exceeded"):
        return _too_deep(what, max_depth)
    if "surrogate" in message or "hex escape" in message:
        return InvalidRequest(f"{what} has a lone UTF-16 surrogate escape (\\ud800-\\udfff must come in "
                              f"high-low pairs): {message}", code="json_lone_surrogate")
    if message.startswith("invalid unicode code point"):
        return InvalidRequest(f"{what} is not valid UTF-8: {message}", code="invalid_json")
    literal = _literal_at(raw, message)
    if literal is not None:
        where = _POSITION.search(message)
        at = f" (line {where.group(1)}, column {where.group(2)})" if where else ""
        return InvalidRequest(f"{what} is not valid JSON: {literal}{at} is not a JSON number; send a finite "
                              f"number or null", code="json_not_finite")
    return InvalidRequest(f"{what} is not valid JSON: {message}", code="invalid_json")


def _literal_at(raw: bytes, message: str) -> str | None:
    """NaN / Infinity / -Infinity where the parser stopped, if that is what stopped it
    (its line and column count bytes, from 1)."""
    match = _POSITION.search(message)
    if match is None:
        return None
    line, column = int(match.group(1)), int(match.group(2))
    lines = raw.split(b"\n")
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1]
    for start in (column - 2, column - 1):  # the parser points just after a sign, or at the literal
        for literal in _NOT_FINITE_LITERALS:
            if start >= 0 and text.startswith(literal.encode(), start):
                return literal
    return None


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
