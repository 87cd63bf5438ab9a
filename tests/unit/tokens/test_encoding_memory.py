"""The encodings drop tiktoken's Python copy of the merge ranks (memory); counting must be
exactly what a complete tiktoken encoding gives."""

from __future__ import annotations

import functools
import pickle

import pytest
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from aigw import tokens
from aigw.names import TIKTOKEN_CACHE_ENV

NAMES = ("o200k_base", "cl100k_base")


@functools.cache
def _complete(name: str) -> tiktoken.Encoding:
    """A tiktoken encoding built the ordinary way, ranks kept, from the same shipped file."""
    import os

    import tiktoken_ext.openai_public as public

    os.environ[TIKTOKEN_CACHE_ENV] = str(tokens.cache_dir())
    return tiktoken.Encoding(**getattr(public, name)())


@pytest.mark.parametrize("name", NAMES)
def test_the_python_ranks_are_gone(name: str) -> None:
    encoding = tokens.get_encoding(name)
    assert not hasattr(encoding, "_mergeable_ranks")
    # tiktoken pickles a registered encoding by its name, so that still works
    assert pickle.loads(pickle.dumps(encoding)).encode("hello world") == _complete(name).encode("hello world")
    assert encoding.n_vocab == _complete(name).n_vocab


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=200) | st.sampled_from(["hello world", "<|endoftext|> x", "日本語のテキスト 🙂",
                                                      "def f(x):\n    return x ** 2\n"]),
       name=st.sampled_from(NAMES))
def test_counts_equal_a_complete_encoding(text: str, name: str) -> None:
    ours = tokens.get_encoding(name)
    reference = _complete(name)
    assert ours.encode(text, disallowed_special=()) == reference.encode(text, disallowed_special=())
    assert tokens.count_text(text, name) == len(reference.encode(text, disallowed_special=()))
    ids = reference.encode(text, disallowed_special=())
    assert ours.decode(ids) == reference.decode(ids)
