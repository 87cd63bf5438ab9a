"""Exact-key sensitivity: every answer-changing field changes the key; the allow-listed
irrelevant ones (and pure normalizations) do not; namespaces never share a key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aigw.auth.records import KeyRecord
from aigw.cache.keys import IGNORED_FIELDS, exact_key, namespace_for, normalized_request, semantic_query

BASE: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}],
    "temperature": 0,
}
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}

# (description, change) - each must produce a different key from BASE.
ANSWER_CHANGING: list[tuple[str, dict[str, Any]]] = [
    ("model", {"model": "gpt-4o"}),
    ("user text", {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello!"}]}),
    ("system prompt", {"messages": [{"role": "system", "content": "be long"}, {"role": "user", "content": "hello"}]}),
    ("role", {"messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": "hello"}]}),
    ("message name", {"messages": [{"role": "system", "content": "be brief"},
                                   {"role": "user", "content": "hello", "name": "bob"}]}),
    ("extra turn", {"messages": [{"role": "user", "content": "hello"}]}),
    ("temperature", {"temperature": 0.2}),
    ("top_p", {"top_p": 0.5}),
    ("seed", {"seed": 7}),
    ("max_tokens", {"max_tokens": 10}),
    ("max_completion_tokens", {"max_completion_tokens": 10}),
    ("n", {"n": 2}),
    ("stop", {"stop": ["\n"]}),
    ("presence_penalty", {"presence_penalty": 0.5}),
    ("frequency_penalty", {"frequency_penalty": 0.5}),
    ("logit_bias", {"logit_bias": {"50256": -100}}),
    ("logprobs", {"logprobs": True}),
    ("top_logprobs", {"logprobs": True, "top_logprobs": 2}),
    ("tools", {"tools": [TOOL]}),
    ("tool_choice", {"tools": [TOOL], "tool_choice": "required"}),
    ("parallel_tool_calls", {"parallel_tool_calls": False}),
    ("response_format", {"response_format": {"type": "json_object"}}),
    ("reasoning_effort", {"reasoning_effort": "low"}),
    ("modalities", {"modalities": ["text", "audio"]}),
    ("prediction", {"prediction": {"type": "content", "content": "x"}}),
    ("an unknown future field", {"some_new_knob": 1}),
    ("multimodal content", {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [
        {"type": "text", "text": "hello"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}),
]

# Changes that must NOT change the key.
IRRELEVANT: list[tuple[str, dict[str, Any]]] = [
    ("user", {"user": "end-user-42"}),
    ("stream", {"stream": True}),
    ("stream_options", {"stream": True, "stream_options": {"include_usage": True}}),
    ("metadata", {"metadata": {"trace": "abc"}}),
    ("store", {"store": True}),
    ("n = 1 is the default", {"n": 1}),
    ("null is absent", {"seed": None, "tools": None}),
    ("one text part is the text", {"messages": [{"role": "system", "content": "be brief"},
                                                {"role": "user", "content": [{"type": "text", "text": "hello"}]}]}),
    ("null message fields", {"messages": [{"role": "system", "content": "be brief", "name": None},
                                          {"role": "user", "content": "hello"}]}),
]


def key(change: dict[str, Any], namespace: str = "team:a") -> str:
    return exact_key(namespace, {**copy.deepcopy(BASE), **change})


@pytest.mark.parametrize(("what", "change"), ANSWER_CHANGING, ids=[c[0] for c in ANSWER_CHANGING])
def test_every_answer_changing_field_changes_the_key(what: str, change: dict[str, Any]) -> None:
    assert key(change) != key({}), what


def test_answer_changing_fields_give_distinct_keys_from_each_other() -> None:
    # max_completion_tokens alone is the same limit as max_tokens (see below)
    keys = [key(change) for what, change in ANSWER_CHANGING if what != "max_completion_tokens"]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(("what", "change"), IRRELEVANT, ids=[c[0] for c in IRRELEVANT])
def test_irrelevant_fields_do_not_change_the_key(what: str, change: dict[str, Any]) -> None:
    assert key(change) == key({}), what


def test_the_ignore_list_is_exactly_what_is_documented() -> None:
    assert frozenset({"user", "stream", "stream_options", "metadata", "store"}) == IGNORED_FIELDS


def test_key_is_independent_of_field_order() -> None:
    reordered = {"temperature": 0, "messages": BASE["messages"], "model": "gpt-4o-mini"}
    assert exact_key("team:a", reordered) == key({})


def test_max_completion_tokens_alone_is_max_tokens() -> None:
    assert key({"max_completion_tokens": 10}) == key({"max_tokens": 10})
    both = key({"max_completion_tokens": 10, "max_tokens": 10})
    assert both != key({"max_tokens": 10})


def test_namespace_is_part_of_the_key() -> None:
    assert key({}, "team:a") != key({}, "team:b")
    assert key({}, "team:a") != key({}, "key:a")


def test_namespaces_by_mode() -> None:
    record = KeyRecord(key_hash="h", key_id="key_1", team_id="t1", project="p")
    assert namespace_for(record, "team") == "team:t1"
    assert namespace_for(record, "key") == "key:key_1"
    assert namespace_for(record, "project") == "project:t1/p"
    assert namespace_for(record.model_copy(update={"project": None}), "project") == "project:t1/-"


def test_the_body_is_never_mutated() -> None:
    body = copy.deepcopy(BASE) | {"max_completion_tokens": 5, "n": 1}
    before = copy.deepcopy(body)
    normalized_request(body)
    exact_key("team:a", body)
    semantic_query(body)
    assert body == before


# ---- semantic eligibility and scope --------------------------------------------------------------
def test_semantic_query_embeds_the_last_user_text_and_scopes_the_rest() -> None:
    query = semantic_query({**BASE, "messages": [{"role": "system", "content": "be brief"},
                                                 {"role": "user", "content": "  hello\n  there "}]})
    assert query is not None and query.text == "hello there"
    other_system = semantic_query({**BASE, "messages": [{"role": "system", "content": "be rude"},
                                                        {"role": "user", "content": "hello there"}]})
    other_temperature = semantic_query({**BASE, "temperature": 0.5})
    same_scope = semantic_query({**BASE, "messages": [{"role": "system", "content": "be brief"},
                                                      {"role": "user", "content": "totally different"}]})
    assert other_system is not None and other_temperature is not None and same_scope is not None
    assert query.scope == same_scope.scope
    assert len({query.scope, other_system.scope, other_temperature.scope}) == 3


@pytest.mark.parametrize("change", [
    {"tools": [TOOL]},
    {"functions": [{"name": "f"}]},
    {"n": 3},
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
    {"messages": [{"role": "user", "content": "hi"},
                  {"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                                        "function": {"name": "f", "arguments": "{}"}}]},
                  {"role": "tool", "tool_call_id": "c", "content": "42"}, {"role": "user", "content": "and?"}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}]},
    {"messages": [{"role": "user", "content": "   "}]},
], ids=["tools", "functions", "n>1", "last-not-user", "tool-results", "image", "blank"])
def test_requests_that_never_match_semantically(change: dict[str, Any]) -> None:
    assert semantic_query({**BASE, **change}) is None
