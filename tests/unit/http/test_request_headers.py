"""RequestHeaders.get against Starlette's Headers.get: the same answer for every lookup,
present or absent, in any case, with repeated names (the first wins)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from aigw.http.common import GatewayRequest, RequestHeaders

names = st.sampled_from(["authorization", "content-length", "x-aigw-end-user", "x-api-key", "accept", "é"])
raw = st.lists(st.tuples(names, st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=8)),
               max_size=6)


@given(raw, st.lists(st.sampled_from(["Authorization", "authorization", "X-AIGW-End-User", "missing", "é",
                                      "Content-Length"]), max_size=4), st.sampled_from([None, "", "dflt"]))
def test_get_answers_as_starlettes(items: list[tuple[str, str]], keys: list[str], default: str | None) -> None:
    encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in items]
    ours, theirs = RequestHeaders(raw=encoded), Headers(raw=encoded)
    for key in keys:
        assert ours.get(key, default) == theirs.get(key, default)
        assert ours.get(key) == theirs.get(key)


def test_the_gateways_requests_use_them() -> None:
    scope = {"type": "http", "headers": [(b"x-api-key", b"k")]}
    headers = GatewayRequest(scope).headers
    assert isinstance(headers, RequestHeaders) and headers.get("X-Api-Key") == "k" and headers.get("nope") is None
