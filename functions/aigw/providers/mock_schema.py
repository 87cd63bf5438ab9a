"""A deterministic value valid against a JSON Schema: the mock provider's structured outputs
and tool-call arguments, so `aigw dev` can run an agent's tool loop or a pydantic `parse()`
with no provider key.

It covers what OpenAI's structured outputs and pydantic's `model_json_schema()` produce:
`type` (one or a list), `object` (`properties`, `required`, `additionalProperties`,
`min/maxProperties`), `array` (`items`, `prefixItems`, `min/maxItems`, `uniqueItems`),
`enum`, `const`, `string` (`min/maxLength`, `format`, `pattern`), `integer` and `number`
(`minimum`, `maximum`, both exclusive forms, `multipleOf`), `boolean`, `null`, `anyOf`,
`oneOf`, `allOf`, and local `$ref`s (`#/$defs/...`, `#/definitions/...`, `#`), recursive
ones included. Anything else (`not`, `if`/`then`, `dependentSchemas`) is ignored: the value
may then not validate, which is acceptable for a mock and never an error.

The same schema always gives the same value; `variant` makes siblings differ (so
`uniqueItems` arrays hold distinct elements).
"""

from __future__ import annotations

import math
import re
from typing import Any

# Below this nesting depth every property and one array element are filled; deeper, only what
# the schema requires, so recursive models (a tree of nodes) end.
FULL_DEPTH = 6
MAX_DEPTH = 64

_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "12:00:00Z",
    "duration": "P1D",
    "email": "mock@example.com",
    "idn-email": "mock@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/mock",
    "iri": "https://example.com/mock",
    "uri-reference": "https://example.com/mock",
    "url": "https://example.com/mock",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "binary": "mock",
    "byte": "bW9jaw==",
    "base64": "bW9jaw==",
    "password": "mock-password",
    "json-pointer": "/mock",
    "regex": "^mock$",
}


class SchemaError(ValueError):
    """The schema cannot be satisfied (`false`, an unknown `$ref`, or nesting beyond MAX_DEPTH)."""


def sample(schema: Any, *, name: str = "") -> Any:
    """A value valid against `schema` (a JSON Schema as a dict or a boolean)."""
    return _Sampler(schema).value(schema, name=name, depth=0, variant=0)


class _Sampler:
    def __init__(self, root: Any) -> None:
        self.root = root

    def value(self, schema: Any, *, name: str, depth: int, variant: int) -> Any:
        if depth > MAX_DEPTH:
            raise SchemaError("the schema nests deeper than the mock follows")
        if schema is True or schema == {}:
            return _text(name, variant, {})
        if schema is False or not isinstance(schema, dict):
            raise SchemaError("no value satisfies a `false` schema")
        schema = self._flatten(schema, depth)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][variant % len(schema["enum"])]
        for union in ("anyOf", "oneOf"):
            if isinstance(schema.get(union), list) and schema[union]:
                branch = self._branch(schema[union], depth)
                rest = {k: v for k, v in schema.items() if k != union}
                merged = _merge(rest, self._flatten(branch, depth)) if rest else branch
                return self.value(merged, name=name, depth=depth + 1, variant=variant)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, name, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind == "integer":
            return _integer(schema, variant)
        if kind == "number":
            return _number(schema, variant)
        if kind == "boolean":
            return variant % 2 == 0
        if kind == "null":
            return None
        return _text(name, variant, schema)

    def _flatten(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        """Resolve `$ref` (its siblings kept, as in 2020-12) and merge `allOf` into one schema."""
        seen = 0
        while "$ref" in schema:
            seen += 1
            if seen > MAX_DEPTH:
                raise SchemaError("a $ref cycle with nothing else in it")
            target = self._resolve(schema["$ref"])
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = _merge(target, rest) if rest else target
        if isinstance(schema.get("allOf"), list):
            merged = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                if isinstance(part, dict):
                    merged = _merge(merged, self._flatten(part, depth))
            schema = merged
        return schema

    def _resolve(self, ref: Any) -> dict[str, Any]:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"only local $refs are followed, not {ref!r}")
        node: Any = self.root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                raise SchemaError(f"$ref {ref!r} points nowhere")
        if node is True:
            return {}
        if not isinstance(node, dict):
            raise SchemaError(f"$ref {ref!r} is not a schema")
        return node

    def _branch(self, branches: list[Any], depth: int) -> Any:
        """The first informative branch (not `null`); deep in a recursion, the first that ends."""
        candidates = [b for b in branches if b is not False]
        if not candidates:
            raise SchemaError("every branch of the union is `false`")
        if depth >= FULL_DEPTH:
            for branch in candidates:
                if isinstance(branch, dict) and "$ref" not in branch and _kind(branch) != "object":
                    return branch
        for branch in candidates:
            if not (isinstance(branch, dict) and branch.get("type") == "null"):
                return branch
        return candidates[0]

    def _object(self, schema: dict[str, Any], name: str, depth: int) -> dict[str, Any]:
        properties = _dict(schema, "properties")
        required = [r for r in _list(schema, "required") if isinstance(r, str)]
        limit = _int(schema, "maxProperties")
        extra = schema.get("additionalProperties")
        fallback = extra if isinstance(extra, dict) else True
        out: dict[str, Any] = {}
        for key in required:
            out[key] = self.value(properties.get(key, fallback), name=key, depth=depth + 1, variant=0)
        if depth < FULL_DEPTH:
            for key, sub in properties.items():
                if key in out or (limit is not None and len(out) >= limit):
                    continue
                out[key] = self.value(sub, name=key, depth=depth + 1, variant=0)
        wanted = _int(schema, "minProperties") or 0
        if not properties and isinstance(extra, dict) and extra and depth < FULL_DEPTH:
            wanted = max(wanted, 1)
        index = 0
        while len(out) < wanted and extra is not False:
            key = f"{name or 'key'}_{index + 1}"
            index += 1
            if key not in out:
                out[key] = self.value(fallback, name=key, depth=depth + 1, variant=index)
        return out

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = _list(schema, "prefixItems")
        items = schema.get("items")
        if isinstance(items, list):  # draft 4-7 tuples
            prefix, items = items, schema.get("additionalItems", True)
        low = _int(schema, "minItems") or 0
        high = _int(schema, "maxItems")
        count = max(low, len(prefix) if depth < FULL_DEPTH else 0, 1 if depth < FULL_DEPTH else 0)
        if items is False:
            count = min(count, len(prefix))
        if high is not None:
            count = min(count, high)
        out = []
        for index in range(count):
            sub = prefix[index] if index < len(prefix) else (items if items is not None else True)
            out.append(self.value(sub, name=name, depth=depth + 1, variant=index))
        return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Both schemas at once, as far as the sampler needs: properties and required unite,
    bounds take the tighter value, anything else from `extra` wins."""
    out = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = {**out[key], **value}
        elif key == "required" and isinstance(out.get(key), list) and isinstance(value, list):
            out[key] = list(dict.fromkeys([*out[key], *value]))
        elif key in ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties") \
                and _is_number(out.get(key)) and _is_number(value):
            out[key] = max(out[key], value)
        elif key in ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties") \
                and _is_number(out.get(key)) and _is_number(value):
            out[key] = min(out[key], value)
        else:
            out[key] = value
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _num(schema: dict[str, Any], key: str) -> float | None:
    value = schema.get(key)
    return value if _is_number(value) else None


def _int(schema: dict[str, Any], key: str) -> int | None:
    value = schema.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(schema: dict[str, Any], key: str) -> dict[str, Any]:
    value = schema.get(key)
    return value if isinstance(value, dict) else {}


def _list(schema: dict[str, Any], key: str) -> list[Any]:
    value = schema.get(key)
    return value if isinstance(value, list) else []


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if isinstance(k, str)]
        kind = next((k for k in kinds if k != "null"), kinds[0] if kinds else None)
    if isinstance(kind, str):
        return kind
    if any(k in schema for k in ("properties", "required", "additionalProperties", "minProperties")):
        return "object"
    if any(k in schema for k in ("items", "prefixItems", "minItems", "maxItems")):
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return "number"
    return "string"


def _bounds(schema: dict[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """(low, low exclusive, high, high exclusive), reading draft-4 boolean exclusives too."""
    low, high = _num(schema, "minimum"), _num(schema, "maximum")
    low_ex, high_ex = schema.get("exclusiveMinimum") is True, schema.get("exclusiveMaximum") is True
    ex_min, ex_max = _num(schema, "exclusiveMinimum"), _num(schema, "exclusiveMaximum")
    if ex_min is not None and (low is None or ex_min >= low):
        low, low_ex = ex_min, True
    if ex_max is not None and (high is None or ex_max <= high):
        high, high_ex = ex_max, True
    return low, low_ex, high, high_ex


def _integer(schema: dict[str, Any], variant: int) -> int:
    low, low_ex, high, high_ex = _bounds(schema)
    multiple = _num(schema, "multipleOf")
    if multiple is not None and multiple > 0 and float(multiple).is_integer():
        return int(_multiple(int(multiple), low, low_ex, high, high_ex, variant))
    lo = None if low is None else (math.floor(low) + 1 if low_ex or low != math.floor(low) else int(low))
    hi = None if high is None else (math.ceil(high) - 1 if high_ex or high != math.ceil(high) else int(high))
    value = 1 + variant
    if lo is not None and value < lo:
        value = lo + variant
    if hi is not None and value > hi:
        value = hi if lo is None else max(lo, hi - variant)
    return value


def _number(schema: dict[str, Any], variant: int) -> float | int:
    low, low_ex, high, high_ex = _bounds(schema)
    step = _num(schema, "multipleOf")
    if step is not None and step > 0:
        value = _multiple(step, low, low_ex, high, high_ex, variant)
        return value if float(step).is_integer() else round(value, 12)
    if low is not None and high is not None:
        return low + (high - low) * (variant + 1) / (variant + 2)  # strictly inside when low < high
    value = 1.5 + variant
    if low is not None and (value < low or (low_ex and value <= low)):
        value = low + 1 + variant
    if high is not None and (value > high or (high_ex and value >= high)):
        value = high - 1 - variant
    return value


def _multiple(step: float, low: float | None, low_ex: bool, high: float | None, high_ex: bool,
              variant: int) -> float:
    """k * step for the k nearest 1 (plus `variant`) that the bounds allow."""
    k_lo = k_hi = None
    if low is not None:
        k_lo = math.ceil(low / step)
        if low_ex and k_lo * step <= low:
            k_lo += 1
    if high is not None:
        k_hi = math.floor(high / step)
        if high_ex and k_hi * step >= high:
            k_hi -= 1
    k = math.ceil(1 / step) + variant
    if k_lo is not None and k < k_lo:
        k = k_lo + variant
    if k_hi is not None and k > k_hi:
        k = k_hi if k_lo is None else max(k_lo, k_hi - variant)
    return k * step


def _text(name: str, variant: int, schema: dict[str, Any]) -> str:
    min_length = _int(schema, "minLength") or 0
    max_length = _int(schema, "maxLength")
    fmt = schema.get("format")
    pattern = schema.get("pattern")
    if isinstance(fmt, str) and fmt in _FORMATS:
        text = _FORMATS[fmt]
        if variant and fmt == "uuid":
            text = text[:-12] + f"{variant:012x}"
    elif isinstance(pattern, str):
        text = _from_pattern(pattern, variant) or ""
    else:
        text = " ".join(p for p in ("mock", name.replace("_", " "), str(variant + 1) if variant else "") if p)
    if len(text) < min_length:
        text += "x" * (min_length - len(text))
    if max_length is not None and len(text) > max_length:
        # keep the variant's digits at the end, so distinct siblings stay distinct when cut
        tail = str(variant) if variant else ""
        text = (text[:max(max_length - len(tail), 0)] + tail)[:max_length]
    return text


def _from_pattern(pattern: str, variant: int) -> str | None:
    """A string matching a regular expression, for the common patterns of JSON Schemas
    (classes, repeats, groups, alternatives); None when the pattern uses something else."""
    try:
        from re import _parser  # type: ignore[attr-defined]

        parsed = _parser.parse(pattern)
    except Exception:
        return None
    try:
        text = _emit(list(parsed), variant)
    except _Unsupported:
        return None
    return text if re.search(pattern, text) else None


class _Unsupported(Exception):
    pass


def _emit(items: list[Any], variant: int) -> str:
    from re import _constants as c  # type: ignore[attr-defined]

    out = []
    for op, arg in items:
        if op is c.LITERAL:
            out.append(chr(arg))
        elif op is c.ANY:
            out.append("a")
        elif op is c.IN:
            out.append(_class_char(arg, c))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            low, high, sub = arg
            times = max(low, 1) if high == c.MAXREPEAT or high >= 1 else 0
            out.append(_emit(list(sub), variant) * times)
        elif op is c.SUBPATTERN:
            out.append(_emit(list(arg[-1]), variant))
        elif op is c.BRANCH:
            out.append(_emit(list(arg[1][variant % len(arg[1])]), variant))
        elif op is c.AT:
            continue
        elif op is c.NOT_LITERAL:
            out.append("a" if arg != ord("a") else "b")
        else:
            raise _Unsupported(op)
    return "".join(out)


def _class_char(items: list[Any], c: Any) -> str:
    if items and items[0][0] is c.NEGATE:
        excluded = {chr(a) for op, a in items[1:] if op is c.LITERAL}
        return next(ch for ch in "amx0_" if ch not in excluded)
    op, arg = items[0]
    if op is c.LITERAL:
        return chr(arg)
    if op is c.RANGE:
        return chr(arg[0])
    if op is c.CATEGORY:
        return {c.CATEGORY_DIGIT: "0", c.CATEGORY_SPACE: " ", c.CATEGORY_WORD: "a"}.get(arg, "a")
    raise _Unsupported(op)
