from __future__ import annotations

import socket
from typing import Any

import pytest

from aigw import tokens


def test_encodings_load_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("tiktoken tried to reach the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    tokens.get_encoding.cache_clear()
    assert tokens.encoding_file("o200k_base").is_file()
    assert tokens.count_text("hello world", "gpt-4o") == 2
    assert tokens.count_text("hello world", "gpt-4") == 2


def test_encoding_choice() -> None:
    assert tokens.encoding_name_for("gpt-4o-mini") == "o200k_base"
    assert tokens.encoding_name_for("o3-mini") == "o200k_base"
    assert tokens.encoding_name_for("gpt-3.5-turbo") == "cl100k_base"
    assert tokens.encoding_name_for("claude-3-5-haiku") == "cl100k_base"


def test_chat_prompt_count_matches_openai_recipe() -> None:
    # OpenAI's published example: these messages are 129 prompt tokens on gpt-4o-class models
    # counted with the recipe (3 per message + 3 priming); our count must equal the recipe.
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello!", "name": "alice"},
    ]
    encode = tokens.get_encoding("o200k_base").encode
    expected = 3 + (3 + len(encode("system")) + len(encode("You are a helpful assistant."))) + (
        3 + len(encode("user")) + len(encode("Hello!")) + 1 + len(encode("alice")))
    assert tokens.count_chat_prompt_tokens(messages, "gpt-4o") == expected


def test_tools_images_and_tool_calls_count() -> None:
    base = [{"role": "user", "content": "weather?"}]
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    plain = tokens.count_chat_prompt_tokens(base, "gpt-4o")
    assert tokens.count_chat_prompt_tokens(base, "gpt-4o", tools=[tool]) > plain
    image = [{"role": "user", "content": [{"type": "text", "text": "weather?"},
                                          {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}]}]
    # an image the gateway cannot see the size of: the tile rule's maximum (8 tiles on gpt-4o)
    assert tokens.count_chat_prompt_tokens(image, "gpt-4o") == plain + 85 + 8 * 170
    calls = [{"role": "assistant", "content": None,
              "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]
    assert tokens.count_chat_prompt_tokens(calls, "gpt-4o") > 3 + 3


def test_missing_encoding_fails_instead_of_downloading(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens.get_encoding.cache_clear()
    try:
        with pytest.raises(tokens.TokenizerUnavailable):
            tokens.get_encoding("cl100k_base")
    finally:
        tokens.get_encoding.cache_clear()


def test_response_schemas_count_and_offer_a_tool() -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    plain = tokens.profile_chat(body)
    schema = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {
        "city": {"type": "string"}}}}}
    structured = tokens.profile_chat({**body, "response_format": schema})
    assert structured.text_tokens > plain.text_tokens + 10 and structured.tools and not plain.tools


def test_hostile_shapes_never_raise() -> None:
    for body in ({"messages": "x"}, {"messages": [None, 5, {"content": 7}]}, {"messages": [{"content": [1, None]}]},
                 {"tools": "x", "messages": []}, {"response_format": {"type": "json_schema"}}):
        assert tokens.profile_chat(body).text_tokens >= tokens.REPLY_PRIMING
    assert tokens.profile_embeddings({"input": [1, 2, 3]}).text_tokens == 3
    assert tokens.profile_embeddings({"input": [[1, 2], "two words"]}).text_tokens == 4
    assert tokens.requested_output_tokens({"max_tokens": 1e400}) is None  # inf: not a limit
    assert tokens.requested_output_tokens({"max_tokens": True}) is None
    assert tokens.requested_output_tokens({"max_completion_tokens": 50, "max_tokens": 9}) == 50
    assert tokens.choices({"n": 3}) == 3 and tokens.choices({"n": "3"}) == 1


def test_text_size_is_a_cheap_upper_walk() -> None:
    big = "word " * 20_000
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": big}]}]}
    assert tokens.text_chars(body) >= len(big) > tokens.LARGE_PROMPT_CHARS
    assert tokens.text_chars({"input": ["ab", "cd"]}) == 4
