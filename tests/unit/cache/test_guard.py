"""The lexical guard's rules, one by one (no model needed)."""

from __future__ import annotations

import pytest

from aigw.cache.guard import same_question


@pytest.mark.parametrize(("a", "b", "rule"), [
    ("Convert 5 miles to km", "Convert 50 miles to km", "numbers"),
    ("What year did World War I start?", "What year did World War II start?", "numbers"),
    ("Is it safe to swim here?", "Is it not safe to swim here?", "negation"),
    ("Can I park here?", "Can't I park here?", "negation"),
    ("How do I enable 2FA?", "How do I disable 2FA?", "contrasts"),
    ("Sort ascending in SQL", "Sort descending in SQL", "contrasts"),
    ("How do I install Node.js on Windows?", "How do I install Node.js on macOS?", "entities"),
    ("Recipe for chocolate cake", "Recipe for carrot cake", "one swap"),
    ("Convert 10 kilometers to miles", "Convert 10 miles to kilometers", "word order"),
])
def test_answer_changing_differences_are_refused(a: str, b: str, rule: str) -> None:
    assert same_question(a, b) == rule


@pytest.mark.parametrize(("a", "b"), [
    ("What is the capital of France?", "Which city is the capital of France?"),
    ("what's the capital of japan", "What is the capital of Japan?"),
    ("How do I reset my password?", "What are the steps to reset my password?"),
    ("How do I sort a dictionary by value in Python?", "How can I sort a Python dict by its values?"),
    ("How many continents are there?", "How many continents are there on Earth?"),
    ("Summarize the plot of Hamlet.", "Give me a summary of the plot of Hamlet."),
    ("same text", "same text"),
])
def test_paraphrases_pass(a: str, b: str) -> None:
    assert same_question(a, b) is None
