"""The request bodies most clients send, recognised as valid without pydantic building models.

Validating a chat request builds a model instance for the request and one for every message:
about 10 us with warm caches and 60 us with cold ones, as a Lambda invocation after an idle
spell has them (`bench/inprocess.py --cold`). The gateway forwards the client's own JSON, not
the models (aigw/schemas.py), so most requests need only the verdict.

`Screen.passes(body)` is True only for a body it checks completely with plain type and range
tests that mirror the model's fields: a field it has no test for (tools, content parts, a
float where an integer goes...) makes it answer False, and pydantic decides, with its own
error message. It never refuses anything itself. A screen turns itself off when its model
gains a validator or a setting it does not know, and tests/unit/test_screens.py holds every
screen to its model over generated bodies: whatever a screen passes, pydantic accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

Check = Callable[[Any], bool]


def text(value: Any) -> bool:
    return type(value) is str


def flag(value: Any) -> bool:  # pydantic's StrictBool
    return type(value) is bool


def sized(low: int, high: int) -> Check:
    """A str of `low` to `high` characters (schemas.Name)."""
    return lambda value: type(value) is str and low <= len(value) <= high


def whole(low: int | None = None, high: int | None = None) -> Check:
    """schemas.Int within [low, high]: an int, not a bool, and not 3.0 (pydantic's to decide)."""
    return lambda value: (type(value) is int and (low is None or low <= value)
                          and (high is None or value <= high))


def one_of(*choices: str) -> Check:  # a Literal of strings
    allowed = frozenset(choices)
    return lambda value: type(value) is str and value in allowed


def number(low: float, high: float) -> Check:
    """schemas.Number within [low, high]: an int or a finite float, not a bool."""
    def check(value: Any) -> bool:
        kind = type(value)
        return (kind is int or (kind is float and math.isfinite(value))) and low <= value <= high
    return check


def optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def texts(value: Any) -> bool:  # list[str]
    return type(value) is list and all(type(item) is str for item in value)


def obj(screen: Screen) -> Check:
    """An object passing `screen` (a nested model)."""
    return lambda value: type(value) is dict and screen.passes(value)


def objects(screen: Screen, *, least: int = 0) -> Check:
    """A list of at least `least` objects, each passing `screen`."""
    return lambda value: type(value) is list and len(value) >= least and all(
        type(item) is dict and screen.passes(item) for item in value)


class Screen:
    """The fields of `model` that `checks` covers; `validators` are the model's own validators
    (by name) whose rule `whole` applies to the body as a whole."""

    def __init__(self, model: type[BaseModel], checks: Mapping[str, Check], *,
                 validators: frozenset[str] = frozenset(), whole: Callable[[dict[str, Any]], bool] | None = None):
        fields = model.model_fields
        self.model = model
        self._checks = dict(checks)
        # A known field without a check (or spelled by its alias) is pydantic's to validate.
        self._known = frozenset(fields) | {f.alias for f in fields.values() if f.alias}
        self._required = frozenset(n for n, f in fields.items() if f.is_required())
        self._whole = whole
        decorators = model.__pydantic_decorators__
        own = {*decorators.model_validators, *decorators.field_validators, *decorators.validators,
               *decorators.root_validators}
        self.on = (own == set(validators) and dict(model.model_config) == {"extra": "allow"}
                   and all(n in fields and fields[n].alias is None for n in checks)
                   and self._required <= set(checks))

    def passes(self, body: dict[str, Any]) -> bool:
        if not self.on:
            return False
        checks, known = self._checks, self._known
        for field, value in body.items():
            check = checks.get(field)
            if check is None:
                if field in known:
                    return False
            elif not check(value):
                return False  # (an unknown field passes through untouched: extra="allow")
        return self._required <= body.keys() and (self._whole is None or self._whole(body))
