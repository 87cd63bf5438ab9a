"""The fast JSON paths against the standard library's: equal values for any data, and the
standard library's behaviour for whatever the fast encoder or parser refuses."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.fastjson import dumps, dumps_text, loads_strict
from aigw.providers.sse import loads as upstream_loads

# JSON-shaped data as the gateway handles it: any text (emoji, RTL, control characters),
# integers past 64 bits, finite floats, nesting.
scalars = st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) |
                      st.dictionaries(st.text(), inner, max_size=5), max_leaves=30)


def std(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def reference_upstream_loads(data: str | bytes) -> Any:
    """providers/sse.loads as it was before the fast path (the slow path it falls back to)."""
    from aigw.providers.sse import _scrub

    value = json.loads(data, parse_constant=str)
    return _scrub(value)


@settings(max_examples=400, deadline=None)
@given(values)
def test_dumps_writes_the_same_value_as_the_standard_encoder(value: Any) -> None:
    fast = dumps(value)
    assert json.loads(fast) == json.loads(std(value))
    assert dumps_text(value) == fast.decode()


@settings(max_examples=400, deadline=None)
@given(values)
def test_the_fast_parser_reads_what_the_standard_one_reads(value: Any) -> None:
    text = std(value)
    assert loads_strict(text) == json.loads(text)
    assert upstream_loads(text) == reference_upstream_loads(text)
    assert upstream_loads(text.decode()) == reference_upstream_loads(text.decode())


@pytest.mark.parametrize("document", [
    b'{"a":NaN,"b":[Infinity,-Infinity]}',     # not JSON: become strings
    b'{"a":"\\ud800 lone","b":"\\udfff"}',    # lone surrogates: become U+FFFD
    b'{"a":1e400}',                           # overflows to inf, as `json` reads it
    b'[' * 300 + b']' * 300,                  # deeper than the fast parser goes
    b'{"a":1,"a":2}',                         # duplicate keys: the last wins
    b'{"emoji":"\\ud83d\\ude00","raw":"\xf0\x9f\x98\x80"}',
])
def test_documents_the_fast_parser_refuses_or_reads_differently_behave_as_before(document: bytes) -> None:
    assert repr(upstream_loads(document)) == repr(reference_upstream_loads(document))


@pytest.mark.parametrize("document", [b"{not json", b'{"a":', b"\xff\xfe", b""])
def test_invalid_json_is_a_value_error_as_before(document: bytes) -> None:
    with pytest.raises(ValueError):
        reference_upstream_loads(document)
    with pytest.raises(ValueError):
        upstream_loads(document)


def test_what_the_fast_encoder_refuses_takes_the_standard_path() -> None:
    with pytest.raises(UnicodeEncodeError):  # the standard path's own error for a lone surrogate
        dumps({"text": "\ud800"})
    assert dumps({1: "int key"}) == std({1: "int key"})
    for value in ({"x": math.nan}, {"x": [math.inf, -math.inf]}):  # written as `json` writes them
        assert dumps(value) == std(value) and dumps_text(value) == std(value).decode()


def test_log_text_writes_unknown_types_as_their_text() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd!"

    assert json.loads(dumps_text({"value": Odd(), "set": "kept"})) == {"value": "odd!", "set": "kept"}
