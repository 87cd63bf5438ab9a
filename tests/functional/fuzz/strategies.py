"""Request bodies for the fuzz suite: built from the gateway's own request schemas (their JSON
Schema, so a field is fuzzed the day it is declared), then spoiled with hostile values that
a client we did not write might send.

Hypothesis drives it: each body is a handful of draws (a seed, how hostile, how the bytes
are damaged, which headers) that a fast generator expands from the schema. Drawing every
field through Hypothesis costs about 200 draws and ~10 ms per body, too slow for 5,000
bodies per door in CI; this way a body costs well under a millisecond, the run is the same
every time (`derandomize=True`), and a failure shrinks towards fewer hostile values, no
damage and the first headers, while the assertion prints the exact bytes sent.

    Fuzzer(Model, hints).body(rng, hostile_percent)   a dict that mostly follows Model
    encode(body, ascii_only, damage)                  JSON bytes, possibly damaged
    bodies(fuzzer)                                    the Hypothesis strategy of both
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

# Strings a text field gets now and then: surrogates (lone and paired), NUL, RTL, long runs.
AWKWARD_TEXT = ["", " ", "\x00", "\ud800", "a\udc00b", "\udbff\udfff", "\u202e\u0000\uffff", "😀" * 3,
                "null", "true", "5", "{}", "[]", "\\", '"', "é" * 40, "\r\n", "{{template}}"]
HUGE_TEXT = ["word " * 12_000, "x" * 4_000, "é" * 4_000, "日本語のテキスト" * 2_000]
# Number text no float holds, spliced into the JSON in place of these marker strings.
RAW_NUMBERS = {"@@1e400@@": "1e400", "@@-1e400@@": "-1e400", "@@1E+999@@": "1E+999",
               "@@bigmantissa@@": "1" + "0" * 320 + ".5"}


def nested(depth: int, leaf: Any = 1) -> Any:
    value: Any = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


SCALAR_HOSTILE: list[Any] = [
    None, True, False, 0, -1, 1, 2, -(10**20), 10**20, 2**63, 10**40, 10**400, 1.5, 0.5, -0.0, 1e308, -1e308,
    5e-324, float("nan"), float("inf"), float("-inf"), *RAW_NUMBERS, "", "5", "true", "x" * 300, [], {}, [None],
    {"": None}, [[[]]], {"type": None}, {"type": 5}, [1, "a", None], {"a": {"b": {"c": []}}},
]
DEEP_HOSTILE: list[Any] = [nested(d) for d in (20, 150, 190, 199, 210)]  # deeper ones: as raw bytes
HOSTILE_PERCENTS = [0, 0, 1, 2, 4, 8, 20]
Hint = Sequence[Any] | Callable[[random.Random], Any]


def hostile(rng: random.Random) -> Any:
    """What a careless or malicious client puts where a well-typed value belongs."""
    roll = rng.random()
    if roll < 0.45:
        return rng.choice(SCALAR_HOSTILE)
    if roll < 0.70:
        return rng.choice(AWKWARD_TEXT)
    if roll < 0.78:
        return rng.choice(DEEP_HOSTILE)
    if roll < 0.785:
        return rng.choice(HUGE_TEXT)
    return json_value(rng, 3)


def json_value(rng: random.Random, budget: int) -> Any:
    roll = rng.random()
    if budget <= 0 or roll < 0.6:
        return rng.choice([None, True, False, rng.randint(-(2**40), 2**40), rng.uniform(-1e6, 1e6), text(rng),
                           rng.choice(AWKWARD_TEXT)])
    if roll < 0.8:
        return [json_value(rng, budget - 1) for _ in range(rng.randint(0, 3))]
    return {text(rng, 6): json_value(rng, budget - 1) for _ in range(rng.randint(0, 3))}


_ALPHABET = "abcdefghijklmnopqrstuvwxyz ABC_-.:/0123456789éßж中文😀\t\n\"\\"


def text(rng: random.Random, high: int = 16, low: int = 0) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(low, max(low, high))))


class Fuzzer:
    """Expands a pydantic model's JSON Schema into bodies. `hints` give a property name
    realistic values (a configured model, a block type) most of the time."""

    def __init__(self, model: type[BaseModel], hints: Mapping[str, Hint] | None = None, *, max_items: int = 3,
                 hinted_percent: int = 85, drop_required_percent: int = 6, unknown_fields_percent: int = 10,
                 optional_percent: int = 25, include: Mapping[str, int] | None = None) -> None:
        self.schema = model.model_json_schema()
        self.defs: dict[str, Any] = self.schema.get("$defs", {})
        self.hints = dict(hints or {})
        self.max_items = max_items
        self.hinted = hinted_percent / 100
        self.drop_required = drop_required_percent / 100
        self.unknown_fields = unknown_fields_percent / 100
        self.optional = optional_percent / 100
        self.include = {name: percent / 100 for name, percent in (include or {}).items()}  # per optional property

    def body(self, rng: random.Random, hostile_percent: int) -> dict[str, Any]:
        return self._object(self.schema, rng, hostile_percent / 100, depth=0)

    def _value(self, schema: dict[str, Any], rng: random.Random, p_hostile: float, depth: int,
               name: str | None = None) -> Any:
        if rng.random() < p_hostile:
            return hostile(rng)
        hint = self.hints.get(name) if name is not None else None
        if hint is not None and rng.random() < self.hinted:
            return hint(rng) if callable(hint) else rng.choice(hint)
        return self._plain(schema, rng, p_hostile, depth)

    def _plain(self, schema: dict[str, Any], rng: random.Random, p_hostile: float, depth: int) -> Any:
        if "$ref" in schema:
            return self._plain(self.defs[schema["$ref"].rsplit("/", 1)[-1]], rng, p_hostile, depth)
        for combinator in ("anyOf", "oneOf"):
            if combinator in schema:
                return self._plain(rng.choice(schema[combinator]), rng, p_hostile, depth)
        if "enum" in schema:
            return rng.choice(schema["enum"])
        kind = schema.get("type")
        if kind == "string":
            if "pattern" in schema:
                return _from_pattern(schema["pattern"], rng)
            low = schema.get("minLength", 0)
            return text(rng, min(schema.get("maxLength", 24), 24), low)
        if kind in ("integer", "number"):
            return _number(schema, rng, integer=kind == "integer")
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "null":
            return None
        if kind == "array":
            low = schema.get("minItems", 0)
            high = max(low, min(schema.get("maxItems", 9), self.max_items if depth < 4 else 1))
            items = schema.get("items", {})
            return [self._value(items, rng, p_hostile, depth + 1) for _ in range(rng.randint(low, high))]
        if kind == "object" or "properties" in schema:
            return self._object(schema, rng, p_hostile, depth + 1)
        return json_value(rng, 2)

    def _object(self, schema: dict[str, Any], rng: random.Random, p_hostile: float, depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        if not properties:
            return {text(rng, 8): json_value(rng, 2) for _ in range(rng.randint(0, 3))}
        required = schema.get("required", [])
        out: dict[str, Any] = {}
        for name, sub in properties.items():
            if name in required or rng.random() < self.include.get(name, self.optional):
                out[name] = self._value(sub, rng, p_hostile, depth, name)
        if required and rng.random() < self.drop_required:
            out.pop(rng.choice(required), None)
        if rng.random() < self.unknown_fields:
            out[text(rng, 10, 1)] = json_value(rng, 3)
        return out


def _number(schema: dict[str, Any], rng: random.Random, *, integer: bool) -> float | int:
    low = schema.get("minimum", schema.get("ge"))
    high = schema.get("maximum", schema.get("le"))
    if low is None and schema.get("exclusiveMinimum", schema.get("gt")) is not None:
        low = schema.get("exclusiveMinimum", schema.get("gt")) + (1 if integer else 1e-6)
    if high is None and schema.get("exclusiveMaximum", schema.get("lt")) is not None:
        high = schema.get("exclusiveMaximum", schema.get("lt")) - (1 if integer else 1e-6)
    low = -(10**6) if low is None else low
    high = 10**6 if high is None else high
    if rng.random() < 0.3:
        return rng.choice([low, high])  # boundaries: where off-by-ones live
    return rng.randint(int(low), int(high)) if integer else rng.uniform(low, high)


def _from_pattern(pattern: str, rng: random.Random) -> str:
    """The id patterns the admin API uses: a leading alphanumeric, then [A-Za-z0-9._-]."""
    prefix = "key_" if pattern.startswith("^key_") else ""
    first = rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") if not prefix else ""
    rest = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789._-") for _ in range(rng.randint(4, 12)))
    return prefix + first + rest


# ---- bytes ------------------------------------------------------------------------------------
_RAW = re.compile("|".join(re.escape(json.dumps(k)) for k in RAW_NUMBERS))
DAMAGES = [None] * 92 + ["truncated", "bom", "bracket bomb", "array", "empty", "trailing", "bad utf-8",
                         "object bomb"]


def encode(body: Any, *, ascii_only: bool, damage: str | None) -> bytes:
    """The body as a client would send it: JSON (NaN/Infinity as `json` writes them, raw
    huge numbers spliced in), UTF-8 (lone surrogates written raw: invalid UTF-8), and,
    now and then, a damaged frame."""
    text_ = json.dumps(body, ensure_ascii=ascii_only, allow_nan=True)
    text_ = _RAW.sub(lambda m: RAW_NUMBERS[json.loads(m.group(0))], text_)
    raw = text_.encode("utf-8", "surrogatepass")
    damaged: dict[str | None, Callable[[], bytes]] = {
        None: lambda: raw,
        "truncated": lambda: raw[: len(raw) // 2],
        "bom": lambda: b"\xef\xbb\xbf" + raw,
        "bracket bomb": lambda: b"[" * 100_000,
        "array": lambda: b"[" + raw + b"]",
        "empty": lambda: b"",
        "trailing": lambda: raw + b" trailing",
        "bad utf-8": lambda: raw.replace(b'"', b"\xff", 1),
        "object bomb": lambda: b'{"a":' * 1_000 + b"1" + b"}" * 1_000,
    }
    return damaged[damage]()


def bodies(fuzzer: Fuzzer, hostile_percents: Sequence[int] = HOSTILE_PERCENTS) -> st.SearchStrategy[bytes]:
    """One body per draw of (seed, how hostile, encoding, damage): `hostile_percents` sets
    how many bodies get past validation (each body reaching the pipeline costs a DynamoDB
    transaction in moto, about 40 times a refusal)."""
    def build(seed: int, hostile_percent: int, ascii_only: bool, damage: str | None) -> bytes:
        return encode(fuzzer.body(random.Random(seed), hostile_percent), ascii_only=ascii_only, damage=damage)

    return st.builds(build, st.integers(0, 2**32 - 1), st.sampled_from(list(hostile_percents)), st.booleans(),
                     st.sampled_from(DAMAGES))
