"""What can go wrong on the wire, as data a test draws with hypothesis."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from hypothesis import strategies as st

FaultKind = Literal["none", "close", "reset", "stall", "garbage", "usage", "echo"]
EchoForm = Literal["full", "masked", "prefix", "last4-masked", "quoted-json"]


@dataclass(frozen=True)
class Fault:
    kind: FaultKind = "none"
    at: int = 0  # frame index, taken modulo the number of frames (+1 for "close": after the last)
    garbage: str = ""  # a "data:" payload that is no JSON, or a line that is no SSE field
    garbage_is_data: bool = True
    usage_value: Any = None  # what replaces every usage count
    echo_form: EchoForm = "full"
    echo_status: int = 401
    mid_frame: bool = False  # reset: half of the next frame is sent first


# Token counts no real upstream bills (JSON allows the numbers; Python's json writes NaN/Infinity).
INVALID_USAGE = st.sampled_from([-1_000_000, -1, math.nan, math.inf, -math.inf, 1e300, 10**30, 2.5, "12", None,
                                 True, [], {"n": 1}])
GARBAGE_DATA = st.sampled_from(["{not json", "[1, 2", "\"a string\"", "42", "null", "[]", "\x00\x01\x02", "{}}"])
GARBAGE_LINES = st.sampled_from(["garbage", "x-field: 1", "retry: 5", "id: 7", ": comment"])


def faults(*, stream: bool) -> st.SearchStrategy[Fault]:
    at = st.integers(min_value=0, max_value=40)
    kinds = [
        st.builds(Fault, kind=st.just("none")),
        st.builds(Fault, kind=st.just("close"), at=at),
        st.builds(Fault, kind=st.just("reset"), at=at, mid_frame=st.booleans()),
        st.builds(Fault, kind=st.just("stall"), at=at),
        st.builds(Fault, kind=st.just("usage"), usage_value=INVALID_USAGE),
        st.builds(Fault, kind=st.just("echo"), echo_form=st.sampled_from(["full", "masked", "prefix", "last4-masked",
                                                                           "quoted-json"]),
                  echo_status=st.sampled_from([401, 403, 400, 429, 500])),
    ]
    if stream:
        kinds.append(st.builds(Fault, kind=st.just("garbage"), at=at, garbage=GARBAGE_DATA,
                               garbage_is_data=st.just(True)))
        kinds.append(st.builds(Fault, kind=st.just("garbage"), at=at, garbage=GARBAGE_LINES,
                               garbage_is_data=st.just(False)))
    else:
        kinds.append(st.builds(Fault, kind=st.just("garbage"), garbage=GARBAGE_DATA))
    return st.one_of(kinds)


def echo(secret: str, form: EchoForm) -> tuple[str, str]:
    """(the text an upstream writes, the fragment of the secret in it that must never leave)."""
    if form == "full":
        return f"Incorrect API key provided: {secret}.", secret
    if form == "masked":
        fragment = f"{secret[:3]}...{secret[-4:]}"
        return f"Incorrect API key provided: {fragment}. You can find your API key in your account.", fragment
    if form == "prefix":
        fragment = secret[:12]
        return f"key {fragment} is not authorized for this model", fragment
    if form == "last4-masked":
        fragment = f"{secret[:8]}****{secret[-4:]}"
        return f"Invalid API key: {fragment}", fragment
    return f'invalid credentials {{"x-api-key": "{secret}"}}', secret
