"""`mock_schema.sample` gives values a JSON Schema validator accepts: for generated schemas
(hypothesis), for what pydantic and the openai SDK's strict mode emit, and for edge cases."""

from __future__ import annotations

import datetime
import uuid
from enum import StrEnum
from typing import Any, Literal

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter

from aigw.providers.mock_schema import SchemaError, sample

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
PATTERNS = [r"^[a-z]+$", r"^\d{3}-\d{4}$", r"^[A-Z]{2}[0-9]{2,4}$", r"^(red|green|blue)$", r"^sk-[A-Za-z0-9]{8}$",
            r"[aeiou]", r"^\w+@\w+\.com$", r"^[^\s]+$", r"^a.c$", r"^(?:x|y)+z?$"]
FORMATS = ["date-time", "date", "time", "email", "uuid", "ipv4", "ipv6", "uri", "hostname", "duration"]


def _validate(value: Any, schema: Any) -> None:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = list(validator.iter_errors(value))
    assert not errors, f"{value!r} fails {schema!r}: {errors[0].message}"


@st.composite
def strings(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    kind = draw(st.sampled_from(["plain", "format", "pattern"]))
    if kind == "format":
        schema["format"] = draw(st.sampled_from(FORMATS))
    elif kind == "pattern":
        schema["pattern"] = draw(st.sampled_from(PATTERNS))
    else:
        low = draw(st.integers(0, 30))
        if draw(st.booleans()):
            schema["minLength"] = low
        if draw(st.booleans()):
            schema["maxLength"] = low + draw(st.integers(0, 10))
    return schema


@st.composite
def numbers(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["integer", "number"]))
    schema: dict[str, Any] = {"type": kind}
    low = draw(st.integers(-1000, 1000))
    width = draw(st.integers(3, 500))
    if draw(st.booleans()):
        schema["exclusiveMinimum" if draw(st.booleans()) else "minimum"] = low
    if draw(st.booleans()):
        schema["exclusiveMaximum" if draw(st.booleans()) else "maximum"] = low + width
    if draw(st.booleans()):
        schema["multipleOf"] = draw(st.sampled_from([1, 2, 3, 5]) if kind == "integer" else
                                    st.sampled_from([0.5, 0.25, 1, 2]))
        if "maximum" in schema or "exclusiveMaximum" in schema:  # room for a multiple
            key = "maximum" if "maximum" in schema else "exclusiveMaximum"
            schema[key] = low + max(width, 12)
    return schema


LEAVES = st.one_of(
    strings(), numbers(), st.just({"type": "boolean"}), st.just({"type": "null"}), st.just({}),
    st.lists(st.one_of(st.text(max_size=5), st.integers(), st.none()), min_size=1, max_size=4, unique=True).map(
        lambda values: {"enum": values}),
    st.one_of(st.text(max_size=5), st.integers(), st.booleans()).map(lambda value: {"const": value}),
)


def _composites(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    @st.composite
    def objects(draw: st.DrawFn) -> dict[str, Any]:
        properties = draw(st.dictionaries(NAMES, children, max_size=4))
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if properties:
            schema["required"] = draw(st.lists(st.sampled_from(sorted(properties)), unique=True))
        extra = draw(st.sampled_from(["absent", "false", "schema"]))
        if extra == "false":
            schema["additionalProperties"] = False
        elif extra == "schema":
            schema["additionalProperties"] = draw(children)
            if draw(st.booleans()):
                schema["minProperties"] = len(properties) + draw(st.integers(0, 2))
        return schema

    @st.composite
    def arrays(draw: st.DrawFn) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": draw(children)}
        low = draw(st.integers(0, 3))
        if draw(st.booleans()):
            schema["minItems"] = low
        if draw(st.booleans()):
            schema["maxItems"] = low + draw(st.integers(0, 3))
        if draw(st.booleans()):
            schema = {"type": "array", "prefixItems": draw(st.lists(children, min_size=1, max_size=3)),
                      "items": draw(st.sampled_from([False, True]))}
        return schema

    unions = st.lists(children, min_size=1, max_size=3).map(lambda branches: {"anyOf": [*branches, {"type": "null"}]})
    nullable = children.map(lambda s: {"anyOf": [s, {"type": "null"}], "default": None})
    described = children.map(lambda s: {"allOf": [s], "description": "a field"})
    typed_list = st.sampled_from([{"type": ["string", "null"]}, {"type": ["integer", "null"], "minimum": 3}])
    return st.one_of(objects(), arrays(), unions, nullable, described, typed_list)


SCHEMAS = st.recursive(LEAVES, _composites, max_leaves=12)


@given(SCHEMAS, st.booleans())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_schemas(schema: Any, through_defs: bool) -> None:
    if through_defs:  # the same schema, reached through $ref as pydantic writes nested models
        schema = {"$defs": {"Inner": schema}, "type": "object", "properties": {"inner": {"$ref": "#/$defs/Inner"}},
                  "required": ["inner"]}
    value = sample(schema)
    _validate(value, schema)
    assert sample(schema) == value  # deterministic


class Color(StrEnum):
    red = "red"
    green = "green"


class Address(BaseModel):
    street: str
    zip_code: str = Field(pattern=r"^\d{5}$")
    country: Literal["PT", "FR"] = "PT"


class Person(BaseModel):
    id: uuid.UUID
    name: str = Field(min_length=2, max_length=5)
    age: int = Field(ge=18, lt=130)
    score: float = Field(gt=0, le=1)
    born: datetime.date
    seen: datetime.datetime
    color: Color
    address: Address
    previous: list[Address] = Field(min_length=2, max_length=3)
    nickname: str | None = None
    tags: dict[str, int]
    pair: tuple[int, str]
    contact: Address | Color
    email: str = Field(json_schema_extra={"format": "email"})


class Tree(BaseModel):
    label: str
    children: list[Tree]
    parent: Tree | None


@pytest.mark.parametrize("model", [Person, Tree, Address])
def test_pydantic_models_and_their_strict_openai_form(model: type[BaseModel]) -> None:
    from openai.lib._pydantic import to_strict_json_schema

    for schema in (model.model_json_schema(), to_strict_json_schema(model)):
        value = sample(schema)
        model.model_validate(value)  # what `client.beta.chat.completions.parse` does with the content
        _validate(value, schema)


def test_unique_items_get_distinct_values() -> None:
    for items in ({"type": "string"}, {"type": "integer", "minimum": 0, "maximum": 10}, {"enum": ["a", "b", "c"]},
                  {"type": "string", "format": "uuid"}, {"type": "string", "maxLength": 3}):
        schema = {"type": "array", "items": items, "minItems": 3, "uniqueItems": True}
        _validate(sample(schema), schema)
    TypeAdapter(set[int]).validate_python(sample(TypeAdapter(set[int]).json_schema()))


def test_names_make_readable_strings() -> None:
    assert sample({"type": "object", "properties": {"city": {"type": "string"}}}) == {"city": "mock city"}


@pytest.mark.parametrize("schema", [False, {"$ref": "#/$defs/Missing"}, {"$ref": "https://example.com/schema"},
                                    {"type": "object", "properties": {"me": {"$ref": "#"}}, "required": ["me"]},
                                    {"anyOf": [False]}])
def test_unsatisfiable_schemas_raise_schema_error(schema: Any) -> None:
    with pytest.raises(SchemaError):
        sample(schema)
