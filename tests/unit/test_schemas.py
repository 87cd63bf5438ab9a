"""The front doors' request models (aigw/schemas.py, and the Anthropic door's models in
aigw/translate/anthropic_client.py): every field the gateway reads is typed strictly, out of
range is a 400 naming the field, and what the fuzzer found as 500s is a 400 here."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from aigw.errors import InvalidRequest
from aigw.schemas import MAX_OUTPUT_TOKENS, ChatCompletionRequest, EmbeddingsRequest, validate
from aigw.translate.anthropic_client import MessagesRequest

CHAT: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES: dict[str, Any] = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def refused(model: type[BaseModel], body: dict[str, Any]) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        validate(model, body)
    assert caught.value.status == 400
    return caught.value


@pytest.mark.parametrize(("extra", "param"), [
    ({"stop": 5}, "stop"),
    ({"stop": ["a", 5]}, "stop.1"),
    ({"stream": "false"}, "stream"),  # "false" would read as true
    ({"n": True}, "n"),
    ({"n": "2"}, "n"),
    ({"max_tokens": 1e20}, "max_tokens"),
    ({"max_tokens": MAX_OUTPUT_TOKENS + 1}, "max_tokens"),
    ({"max_tokens": 64.5}, "max_tokens"),
    ({"max_completion_tokens": 0}, "max_completion_tokens"),
    ({"temperature": "0.5"}, "temperature"),
    ({"top_p": True}, "top_p"),
    ({"presence_penalty": 3}, "presence_penalty"),
    ({"seed": 1.5}, "seed"),
    ({"tools": [{"type": "function"}]}, "tools.0"),
    ({"tools": [{"type": "function", "function": {"name": ""}}]}, "tools.0.function.name"),
    ({"tool_choice": "any"}, "tool_choice"),
    ({"tool_choice": {"type": "function", "function": {}}}, "tool_choice.function.name"),
    ({"response_format": {"type": "json_schema", "json_schema": "x"}}, "response_format.json_schema"),
    ({"parallel_tool_calls": 1}, "parallel_tool_calls"),
    ({"user": 5}, "user"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages.0.content.0.text"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages.0.content.0.text"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages.0.content.0.image_url"),
    ({"messages": [{"role": "user", "content": [5]}]}, "messages.0.content.0"),
    ({"messages": [{"role": "user", "content": [{"text": "no type"}]}]}, "messages.0.content.0.type"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]}, "messages.0.tool_calls.0.function"),
])
def test_chat_fields_are_typed(extra: dict[str, Any], param: str) -> None:
    error = refused(ChatCompletionRequest, {**CHAT, **extra})
    assert error.param == param, error.message
    assert "dictionary or instance" not in error.message  # says "a JSON object", not pydantic's words


@pytest.mark.parametrize("extra", [
    {"stop": "END"}, {"stop": ["a", "b"]}, {"stop": None}, {"max_tokens": 64.0}, {"max_tokens": MAX_OUTPUT_TOKENS},
    {"temperature": 0}, {"n": 2}, {"tool_choice": {"type": "function", "function": {"name": "f"}}},
    {"tools": [{"type": "custom", "custom": {"name": "grammar"}}]},  # not a function tool: passes through
    {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}},
                                                {"type": "some_new_part", "anything": [1]}]}]},
    {"unknown_field": {"kept": True}},
])
def test_chat_bodies_clients_send_pass(extra: dict[str, Any]) -> None:
    validate(ChatCompletionRequest, {**CHAT, **extra})


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "m", "input": [True]}, "input.0"),
    ({"model": "m", "input": [-1]}, "input.0"),
    ({"model": "m", "input": [[2**40]]}, "input.0.0"),
    ({"model": "m", "input": "x", "dimensions": 10**30}, "dimensions"),
    ({"model": "m", "input": []}, None),
])
def test_embeddings_fields_are_typed(body: dict[str, Any], param: str | None) -> None:
    assert refused(EmbeddingsRequest, body).param == param


@pytest.mark.parametrize(("extra", "param"), [
    ({"metadata": "x"}, "metadata"),
    ({"metadata": {"user_id": 5}}, "metadata.user_id"),
    ({"tools": [{"input_schema": {}}]}, "tools.0.name"),
    ({"tool_choice": {"type": "tool"}}, "tool_choice"),
    ({"tool_choice": {"type": "everything"}}, "tool_choice.type"),
    ({"stop_sequences": "END"}, "stop_sequences"),
    ({"max_tokens": 1e20}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"temperature": 1.5}, "temperature"),
    ({"system": [{"type": "text", "text": 5}]}, "system.0.text"),
    ({"system": [5]}, "system.0"),
    ({"thinking": {"type": "enabled", "budget_tokens": "lots"}}, "thinking.budget_tokens"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages.0.content.0.text"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}, "messages.0.content.0.tool_use_id"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [5]}]}]},
     "messages.0.content.0.content.0"),
    ({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "x"}]}]},
     "messages.0.content.0.input"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": "x"}]}]}, "messages.0.content.0.source"),
    ({"messages": [{"role": "system", "content": "hi"}]}, "messages.0.role"),
])
def test_messages_fields_are_typed(extra: dict[str, Any], param: str) -> None:
    assert refused(MessagesRequest, {**MESSAGES, **extra}).param == param


@pytest.mark.parametrize("extra", [
    {"metadata": {"user_id": "u-1"}}, {"system": [{"type": "text", "text": "be brief", "cache_control": {}}]},
    {"tools": [{"name": "web_search", "type": "web_search_20250305"}]},
    {"tool_choice": {"type": "tool", "name": "f"}},
    {"messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "text", "data": "x"}},
                                                {"type": "search_result", "source": "https://x", "content": []}]}]},
])
def test_messages_bodies_clients_send_pass(extra: dict[str, Any]) -> None:
    validate(MessagesRequest, {**MESSAGES, **extra})


def test_the_most_specific_problem_is_reported() -> None:
    body = {**CHAT, "messages": [{"role": "user", "content": [{"type": "text", "text": "ok"},
                                                              {"type": "text", "text": None}]}]}
    error = refused(ChatCompletionRequest, body)
    assert error.message.startswith("messages.0.content.1.text: Input should be a valid string")
