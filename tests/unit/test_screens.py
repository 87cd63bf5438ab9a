"""The screens (aigw/screens.py) against the models they stand in for: whatever a screen passes,
pydantic accepts, over generated bodies near every boundary the models draw; and the bodies
the SDKs send most do pass, so the short path is taken."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from aigw import screens
from aigw.errors import InvalidRequest
from aigw.schemas import CHAT_SCREEN, ChatCompletionRequest, check
from aigw.translate.anthropic_client import MESSAGES_SCREEN, MessagesRequest

# Values on both sides of every range the models use, and of every type they tell apart.
EDGE_NUMBERS = [-3, -2, -1, 0, 1, 2, 3, 127, 128, 129, 256, 257, 9_999_999, 10_000_000, 10_000_001, 2**31, 2**63,
                2**70, -2**70, -2.5, -2.0000001, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.0000001, 1.5, 2.0,
                2.0000001, 2.5, 3.0, float("inf"), float("-inf"), float("nan"), 1e308]
EDGE_OTHERS = [None, True, False, "", "x", "user", "m" * 256, "m" * 257, [], ["a"], ["a", 1], [1], {}, {"x": 1},
               {"include_usage": True}, {"include_usage": 1}, {"user_id": "u"}, {"user_id": 1},
               [{"type": "text", "text": "hi"}]]
scalars = st.one_of(st.none(), st.booleans(), st.sampled_from(EDGE_NUMBERS), st.integers(), st.floats(),
                    st.text(max_size=5), st.sampled_from(["", "x" * 256, "x" * 257, "user", "assistant", "tool"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["type", "text", "include_usage", "user_id", "x"]), inner,
                                        max_size=3), max_leaves=6)

SDK_CHAT_BASE = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
SDK_MESSAGES_BASE = {"model": "claude", "max_tokens": 16, "messages": [{"role": "user", "content": "Hello"}]}
CHAT_FIELDS = [*ChatCompletionRequest.model_fields, "metadata", "logprobs", "model_config", "_private", "schema"]
MESSAGES_FIELDS = [*MessagesRequest.model_fields, "service_tier", "model_config", "_private"]


EDGES = st.one_of(st.sampled_from(EDGE_NUMBERS), values, st.sampled_from(EDGE_OTHERS))


@st.composite
def message(draw: st.DrawFn, roles: list[str]) -> Any:
    """A valid message, or one with a field set to an edge value, or not a message at all."""
    kind = draw(st.integers(0, 9))
    if kind == 9:
        return draw(values)
    body = {"role": draw(st.sampled_from(roles)), "content": draw(st.text(max_size=3))}
    if kind >= 6:
        field = draw(st.sampled_from(["role", "content", "name", "tool_call_id", "reasoning_content", "tool_calls",
                                      "extra_field"]))
        body[field] = draw(st.one_of(EDGES, st.lists(st.fixed_dictionaries(
            {"type": st.just("text"), "text": values}), max_size=2)))
    return body


@st.composite
def bodies(draw: st.DrawFn, fields: list[str], roles: list[str]) -> dict[str, Any]:
    """A valid body's required fields with up to two fields set to edge values; now and then one dropped."""
    body: dict[str, Any] = {"model": "gpt-4o-mini", "max_tokens": draw(st.sampled_from([16, 10_000_000])),
                            "messages": draw(st.lists(message(roles), min_size=1, max_size=3))}
    for _ in range(draw(st.integers(0, 2))):
        body[draw(st.sampled_from(fields))] = draw(EDGES)
    if draw(st.integers(0, 9)) == 9:
        body.pop(draw(st.sampled_from(["model", "messages", "max_tokens"])))
    return body


@pytest.mark.parametrize(("screen", "base"), [(CHAT_SCREEN, SDK_CHAT_BASE), (MESSAGES_SCREEN, SDK_MESSAGES_BASE)],
                         ids=["chat", "messages"])
def test_every_field_at_every_edge(screen: screens.Screen, base: dict[str, Any]) -> None:
    """Each field of the body and of its message, set to each edge value in turn: a range or
    a type the screen drew wider than its model fails here."""
    passed = 0
    for field in [*screen.model.model_fields, "extra_field"]:
        for value in EDGE_NUMBERS + EDGE_OTHERS:
            for body in ({**base, field: value},
                         {**base, "messages": [{**base["messages"][0], field: value}]},
                         {**base, "stream": True, field: value}):
                if screen.passes(body):
                    passed += 1
                    assert accepted(screen.model, body), body
    assert passed > 100  # the screen does take bodies


def accepted(model: type[BaseModel], body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(bodies(CHAT_FIELDS, ["system", "developer", "user", "assistant", "tool", "function", "bot"]))
def test_what_the_chat_screen_passes_pydantic_accepts(body: dict[str, Any]) -> None:
    if CHAT_SCREEN.passes(body):
        assert accepted(ChatCompletionRequest, body), body


@settings(max_examples=1500, deadline=None)
@given(bodies(MESSAGES_FIELDS, ["user", "assistant", "system"]))
def test_what_the_messages_screen_passes_pydantic_accepts(body: dict[str, Any]) -> None:
    if MESSAGES_SCREEN.passes(body):
        assert accepted(MessagesRequest, body), body


SDK_CHAT = [
    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]},
    {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": "Hi", "name": "ann"},
                                          {"role": "assistant", "content": None}],
     "temperature": 0.2, "max_tokens": 64, "stream": True, "stream_options": {"include_usage": True},
     "user": "u-1", "seed": 7, "stop": ["\n"], "metadata": {"trace": "x"}},
    {"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": 1, "n": 1,
     "max_completion_tokens": 10, "presence_penalty": -2, "frequency_penalty": 2.0},
]
SDK_MESSAGES = [
    {"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": [{"role": "user", "content": "Hello"}]},
    {"model": "claude", "max_tokens": 5, "system": "Be brief.", "stream": True, "temperature": 1,
     "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
     "metadata": {"user_id": "u"}, "stop_sequences": ["END"], "top_k": 5},
]


@pytest.mark.parametrize("body", SDK_CHAT)
def test_common_chat_bodies_take_the_short_path(body: dict[str, Any]) -> None:
    assert CHAT_SCREEN.on and CHAT_SCREEN.passes(body)
    assert accepted(ChatCompletionRequest, body)


@pytest.mark.parametrize("body", SDK_MESSAGES)
def test_common_messages_bodies_take_the_short_path(body: dict[str, Any]) -> None:
    assert MESSAGES_SCREEN.on and MESSAGES_SCREEN.passes(body)
    assert accepted(MessagesRequest, body)


def test_what_a_screen_does_not_cover_goes_to_pydantic() -> None:
    """Content parts, tools, a float token count: not the screen's to judge, so pydantic judges
    them, valid or not, with its own error."""
    base = SDK_CHAT[0]
    for body in ({**base, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
                 {**base, "tools": [{"type": "function", "function": {"name": "f"}}]},
                 {**base, "max_tokens": 5.0}, {**base, "tools": None}):
        assert not CHAT_SCREEN.passes(body)
        check(CHAT_SCREEN, body)  # valid: no error
    with pytest.raises(InvalidRequest, match="stream_options is only allowed when stream is true"):
        check(CHAT_SCREEN, {**base, "stream_options": {"include_usage": True}})
    with pytest.raises(InvalidRequest, match=r"messages\.0\.role"):
        check(CHAT_SCREEN, {**base, "messages": [{"role": "bot", "content": "x"}]})


def test_a_screen_turns_itself_off_for_a_model_it_does_not_know() -> None:
    class Guarded(BaseModel):
        model_config = ConfigDict(extra="allow")
        name: str

        @model_validator(mode="after")
        def _no_bob(self) -> Guarded:
            if self.name == "bob":
                raise ValueError("no bob")
            return self

    class Closed(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str

    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        name: str

    assert not screens.Screen(Guarded, {"name": screens.text}).passes({"name": "bob"})
    assert screens.Screen(Guarded, {"name": screens.text}, validators=frozenset({"_no_bob"}),
                          whole=lambda body: body["name"] != "bob").passes({"name": "ann"})
    assert screens.Screen(Open, {"name": screens.text}).passes({"name": "ann", "other": 1})
    assert not screens.Screen(Closed, {"name": screens.text}).on  # extra="forbid": not a config it knows
    assert not screens.Screen(Open, {}).on  # a required field without a check
