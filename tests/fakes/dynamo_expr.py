"""DynamoDB update, condition and key-condition expressions, for the simulated DynamoDB.

Covers what the gateway writes and a little more: `SET a = v`, `SET a = if_not_exists(a, v)`,
`SET a = x + y` / `x - y`, `ADD a :n`, `REMOVE a`; conditions with `AND`/`OR`/`NOT`,
parentheses, `= <> < <= > >=`, `BETWEEN`, `IN`, `attribute_exists`, `attribute_not_exists`,
`begins_with`, `contains` (a string set's member, or a substring); `ADD a :set` (a set's
union). Names are `#placeholders` or plain top-level attribute names (no nested paths).

Semantics as DynamoDB documents them: a comparison with a missing attribute, or between a
number and a string, is false; `ADD` to a missing number starts from 0; arithmetic on a
missing attribute or a non-number is a ValidationException. Parsed expressions are cached by
text (the gateway sends a handful of templates).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

Item = dict[str, Any]
_TOKEN = re.compile(r"\s*(<>|<=|>=|[=<>(),+\-]|#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_.]*)")
_MISSING = object()


class ExpressionError(ValueError):
    """The text is not an expression this simulator understands (a ValidationException)."""


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ExpressionError(f"Invalid expression: syntax error near {text[pos:pos + 12]!r}")
        out.append(match.group(1))
        pos = match.end()
    return out


@dataclass(frozen=True, slots=True)
class Env:
    names: Mapping[str, str]
    values: Mapping[str, Any]

    def name(self, token: str) -> str:
        if token.startswith("#"):
            if token not in self.names:
                raise ExpressionError(f"An expression attribute name used in the document path is not defined: {token}")
            return self.names[token]
        return token

    def value(self, token: str) -> Any:
        if token not in self.values:
            raise ExpressionError(f"An expression attribute value used in expression is not defined: {token}")
        return self.values[token]


Operand = Callable[[Item, Env], Any]
Predicate = Callable[[Item, Env], bool]


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok.upper() != expected.upper()):
            raise ExpressionError(f"Invalid expression: expected {expected or 'a token'}, found {tok!r}")
        self.i += 1
        return tok

    def done(self) -> None:
        if self.peek() is not None:
            raise ExpressionError(f"Invalid expression: unexpected {self.peek()!r}")

    # ---- operands ------------------------------------------------------------------------
    def path(self) -> str:
        tok = self.take()
        if tok.startswith(":") or tok in "(),+-=<>":
            raise ExpressionError(f"Invalid expression: expected an attribute name, found {tok!r}")
        return tok

    def operand(self) -> Operand:
        tok = self.peek()
        if tok is None:
            raise ExpressionError("Invalid expression: missing operand")
        if tok.startswith(":"):
            self.take()

            def value(item: Item, env: Env, t: str = tok) -> Any:
                return env.value(t)
            return value
        if tok.lower() == "if_not_exists" and self.toks[self.i + 1:self.i + 2] == ["("]:
            self.take(), self.take("(")
            path = self.path()
            self.take(",")
            default = self.operand()
            self.take(")")

            def if_not_exists(item: Item, env: Env) -> Any:
                found = item.get(env.name(path), _MISSING)
                return default(item, env) if found is _MISSING else found
            return if_not_exists
        path = self.path()
        return lambda item, env: item.get(env.name(path), _MISSING)

    def value(self) -> Operand:
        left = self.operand()
        if self.peek() in ("+", "-"):
            op = self.take()
            right = self.operand()

            def arith(item: Item, env: Env) -> Any:
                a, b = left(item, env), right(item, env)
                if not isinstance(a, Decimal) or not isinstance(b, Decimal):
                    raise ExpressionError("An operand in the update expression has an incorrect data type")
                return a + b if op == "+" else a - b
            return arith
        return left

    # ---- conditions ----------------------------------------------------------------------
    def condition(self) -> Predicate:
        parts = [self.conjunction()]
        while (self.peek() or "").upper() == "OR":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda item, env: any(p(item, env) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while (self.peek() or "").upper() == "AND":
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda item, env: all(p(item, env) for p in parts))

    def negation(self) -> Predicate:
        if (self.peek() or "").upper() == "NOT":
            self.take()
            inner = self.negation()
            return lambda item, env: not inner(item, env)
        return self.primary()

    def primary(self) -> Predicate:
        tok = self.peek()
        if tok == "(":
            self.take()
            inner = self.condition()
            self.take(")")
            return inner
        lowered = (tok or "").lower()
        if lowered in ("attribute_exists", "attribute_not_exists", "begins_with", "contains"):
            self.take(), self.take("(")
            path = self.path()
            if lowered == "contains":
                self.take(",")
                member = self.operand()
                self.take(")")

                def contains(item: Item, env: Env) -> bool:
                    found, want = item.get(env.name(path), _MISSING), member(item, env)
                    if isinstance(found, (set, frozenset)):
                        return want in found
                    return isinstance(found, str) and isinstance(want, str) and want in found
                return contains
            if lowered == "begins_with":
                self.take(",")
                prefix = self.operand()
                self.take(")")

                def begins(item: Item, env: Env) -> bool:
                    found, want = item.get(env.name(path), _MISSING), prefix(item, env)
                    return isinstance(found, str) and isinstance(want, str) and found.startswith(want)
                return begins
            self.take(")")
            exists = lowered == "attribute_exists"
            return lambda item, env: (env.name(path) in item) == exists
        left = self.operand()
        op = self.take()
        if op.upper() == "BETWEEN":
            low = self.operand()
            self.take("AND")
            high = self.operand()
            return lambda item, env: _compare(low(item, env), "<=", left(item, env)) and \
                _compare(left(item, env), "<=", high(item, env))
        if op.upper() == "IN":
            self.take("(")
            options = [self.operand()]
            while self.peek() == ",":
                self.take()
                options.append(self.operand())
            self.take(")")
            return lambda item, env: any(_compare(left(item, env), "=", o(item, env)) for o in options)
        if op not in ("=", "<>", "<", "<=", ">", ">="):
            raise ExpressionError(f"Invalid expression: unknown operator {op!r}")
        right = self.operand()
        return lambda item, env: _compare(left(item, env), op, right(item, env))


def _compare(a: Any, op: str, b: Any) -> bool:
    if a is _MISSING or b is _MISSING:
        return False
    numbers = isinstance(a, Decimal) and isinstance(b, Decimal)
    strings = isinstance(a, str) and isinstance(b, str)
    if op == "=":
        return a == b
    if op == "<>":
        return a != b
    if not (numbers or strings):
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


@lru_cache(maxsize=512)
def condition(text: str) -> Predicate:
    parser = _Parser(text)
    predicate = parser.condition()
    parser.done()
    return predicate


Action = Callable[[Item, Env], None]


@lru_cache(maxsize=512)
def update(text: str) -> Action:
    """The update as a function that changes an item in place (all operands read first,
    as DynamoDB evaluates every action against the item before the update)."""
    parser = _Parser(text)
    actions: list[tuple[str, str, Operand | None]] = []
    seen: set[str] = set()
    while parser.peek() is not None:
        clause = parser.take().upper()
        if clause not in ("SET", "ADD", "REMOVE") or clause in seen:
            raise ExpressionError(f"Invalid UpdateExpression: unexpected {clause!r}")
        seen.add(clause)
        while True:
            path = parser.path()
            if clause == "SET":
                parser.take("=")
                actions.append(("SET", path, parser.value()))
            elif clause == "ADD":
                actions.append(("ADD", path, parser.operand()))
            else:
                actions.append(("REMOVE", path, None))
            if parser.peek() != ",":
                break
            parser.take(",")

    def apply(item: Item, env: Env) -> None:
        paths = [env.name(p) for _, p, _ in actions]
        if len(set(paths)) != len(paths):
            raise ExpressionError("Invalid UpdateExpression: Two document paths overlap with each other")
        planned = [(kind, name, None if value is None else value(item, env))
                   for (kind, _, value), name in zip(actions, paths, strict=True)]
        for kind, name, value in planned:
            if kind == "REMOVE":
                item.pop(name, None)
            elif kind == "SET":
                if value is _MISSING:
                    raise ExpressionError("The provided expression refers to an attribute that does not exist "
                                          "in the item")
                item[name] = value
            elif isinstance(value, (set, frozenset)):  # ADD to a set: the union (a missing set starts empty)
                old_set = item.get(name, set())
                if not isinstance(old_set, (set, frozenset)):
                    raise ExpressionError("An operand in the update expression has an incorrect data type")
                item[name] = set(old_set) | set(value)
            else:
                if not isinstance(value, Decimal):
                    raise ExpressionError("Invalid UpdateExpression: Incorrect operand type for operator or function; "
                                          "operator: ADD")
                old = item.get(name, Decimal(0))
                if not isinstance(old, Decimal):
                    raise ExpressionError("An operand in the update expression has an incorrect data type")
                item[name] = old + value
    return apply
