"""JsonBody (pydantic-core encoding) against Starlette's JSONResponse: the same JSON value for
any body, the same refusal of NaN and Infinity, the same headers."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from aigw.http.common import JsonBody

bodies = st.recursive(st.none() | st.booleans() | st.integers() | st.text() |
                      st.floats(allow_nan=False, allow_infinity=False),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                      max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(body=bodies)
def test_the_same_json_as_starlettes(body: Any) -> None:
    fast, slow = JsonBody(body, headers={"x-request-id": "r"}), JSONResponse(body, headers={"x-request-id": "r"})
    assert json.loads(fast.body) == json.loads(slow.body)
    fast_headers, slow_headers = dict(fast.raw_headers), dict(slow.raw_headers)
    assert fast_headers.pop(b"content-length") == str(len(fast.body)).encode()
    slow_headers.pop(b"content-length")
    assert fast_headers == slow_headers


header_names = st.sampled_from(["x-request-id", "Content-Type", "content-length", "X-AIGW-Cost-USD", "retry-after",
                                 "content-type"])


@settings(max_examples=300, deadline=None)
@given(headers=st.dictionaries(header_names, st.text("abc/;= 0123456789", max_size=12), max_size=4),
       status=st.sampled_from([100, 101, 199, 200, 201, 204, 304, 400, 429, 500, 503]))
def test_the_same_head_as_starlettes(headers: dict[str, str], status: int) -> None:
    """Every header and its order: the status codes without a length, a caller's own
    Content-Type or Content-Length in any case."""
    body = {"id": "x", "n": [1, 2.5, None]}
    fast, slow = JsonBody(body, status, headers), JSONResponse(body, status, headers)
    assert fast.body == slow.body and fast.status_code == slow.status_code
    assert fast.raw_headers == slow.raw_headers
    assert fast.background is None and dict(fast.headers) == dict(slow.headers)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_as_starlette_refuses_them(value: float) -> None:
    with pytest.raises(ValueError):
        JSONResponse({"x": value})
    with pytest.raises(ValueError):
        JsonBody({"x": value})


def test_text_that_merely_says_nan_is_written() -> None:
    assert json.loads(JsonBody({"text": "NaN and Infinity"}).body) == {"text": "NaN and Infinity"}
