"""The body parser (aigw/jsonbody.py): what it refuses and why, that it reads exactly what
`json` reads for every document it accepts (the fast path's equivalence test), and the
parser's own depth limit, which the module relies on."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aigw.errors import InvalidRequest
from aigw.jsonbody import MAX_DEPTH, PARSER_MAX_DEPTH, parse_object


def refused(body: bytes | str, **kwargs: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_object(body, **kwargs)
    assert caught.value.status == 400
    return caught.value


def nest(depth: int) -> bytes:
    """A value inside `depth` arrays and objects (the top object counts)."""
    return b'{"a":' + b"[" * (depth - 1) + b"1" + b"]" * (depth - 1) + b"}"


def test_depth_up_to_the_limit_is_read_and_one_more_is_refused() -> None:
    assert MAX_DEPTH == PARSER_MAX_DEPTH == 200
    assert parse_object(nest(200))["a"] is not None
    assert parse_object(b'{"a":' + b"[" * 200 + b"]" * 200 + b"}")  # an empty array inside 200: as the parser counts
    error = refused(nest(201))
    assert error.code == "json_too_deep" and "200 levels" in error.message


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 50_000, b"{" + b'"a":[' * 5_000])
def test_nesting_bombs_are_a_400_not_a_recursion_error(body: bytes) -> None:
    assert refused(body).code in ("json_too_deep", "invalid_json")


def test_a_lower_limit_is_enforced_exactly() -> None:
    assert parse_object(nest(32), max_depth=32)
    assert parse_object(b'{"a":' + b"[" * 32 + b"]" * 32 + b"}", max_depth=32)
    assert "32 levels" in refused(nest(33), max_depth=32).message
    wide = json.dumps({"a": [[1]] * 100}).encode()  # many containers, shallow: the walk says yes
    assert parse_object(wide, max_depth=3)["a"][0] == [1]
    with pytest.raises(ValueError):
        parse_object(b"{}", max_depth=PARSER_MAX_DEPTH + 1)


@pytest.mark.parametrize(("literal", "shown"), [("NaN", "NaN"), ("Infinity", "Infinity"),
                                                ("-Infinity", "-Infinity"), ("-NaN", "-NaN")])
def test_non_finite_literals_are_named(literal: str, shown: str) -> None:
    error = refused(f'{{"x": "é", "temperature": {literal}}}')
    assert error.code == "json_not_finite" and f"{shown} (line 1" in error.message


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1E+309", "1" + "0" * 310 + ".0", "9" * 200 + "e200"])
def test_numbers_no_float_can_hold_are_refused(number: str) -> None:
    assert refused(f'{{"a": [1, {{"b": {number}}}]}}').code == "json_not_finite"


@pytest.mark.parametrize("number", ["1e308", "-1.7976931348623157e308", "1e-400", "1" + "0" * 400, "0.000e999"])
def test_large_but_representable_numbers_pass(number: str) -> None:
    value = parse_object(f'{{"a": {number}}}')["a"]
    assert value == json.loads(number) and (not isinstance(value, float) or math.isfinite(value))


def test_text_that_looks_like_a_huge_number_is_only_text() -> None:
    assert parse_object('{"a": "1e400 and 9e999"}') == {"a": "1e400 and 9e999"}


@pytest.mark.parametrize("body", [b'{"a": "\\ud800"}', b'{"a": "x\\udc00"}', b'{"a": "\\ud800\\u0041"}',
                                  b'{"a": "\\ud800\\ud800"}'])
def test_lone_surrogate_escapes_are_refused(body: bytes) -> None:
    assert refused(body).code == "json_lone_surrogate"


def test_surrogate_pairs_are_characters() -> None:
    assert parse_object(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}


@pytest.mark.parametrize("body", [b'{"a": "\xed\xa0\x80"}', b'{"a": "\xff"}', b'\xff\xfe{\x00}\x00'])
def test_bytes_that_are_not_utf8_are_refused(body: bytes) -> None:
    assert refused(body).code == "invalid_json"


@pytest.mark.parametrize(("body", "kind"), [(b"[1]", "an array"), (b'"x"', "a string"), (b"null", "null"),
                                            (b"true", "a boolean"), (b"5", "a number")])
def test_the_top_level_must_be_an_object(body: bytes, kind: str) -> None:
    assert f"not {kind}" in refused(body).message


@pytest.mark.parametrize("body", [b"", b"  \n", b'{"a": 1,}', b'{"a": 1} x', b"\xef\xbb\xbf{}", b'{"a": tru}'])
def test_malformed_bodies_say_so(body: bytes) -> None:
    error = refused(body)
    assert error.code == "invalid_json" and ("not valid JSON" in error.message or "empty" in error.message)


def test_the_subject_of_the_message_is_the_callers() -> None:
    assert refused(b"[]", what="the body").message.startswith("the body ")


# ---- the fast path reads what `json` reads --------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25)


@settings(max_examples=400, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=8), JSON, max_size=5), st.booleans(), st.booleans())
def test_every_accepted_document_reads_as_json_reads_it(value: dict[str, Any], ascii_only: bool,
                                                         pretty: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=2 if pretty else None)
    assert parse_object(text.encode()) == json.loads(text)
