from __future__ import annotations

import pytest

from aigw.guardrails.base import GuardrailUnavailable
from aigw.guardrails.patterns import DenyPatternsDetector, check_pattern
from aigw.guardrails.topics import DenyTopicsDetector, TopicSpec
from tests.fakes.embedder import HashEmbedder


def test_words_and_patterns_case_insensitive() -> None:
    d = DenyPatternsDetector(patterns=["project-bluebird", r"\binternal only\b"], words=["secret sauce"])
    text = "PROJECT-BLUEBIRD is Internal Only; the Secret Sauce; secret saucepan; internal onlyx"
    assert [text[f.start:f.end] for f in d.find(text)] == ["PROJECT-BLUEBIRD", "Internal Only", "Secret Sauce"]


@pytest.mark.parametrize("pattern", ["(a+)+", r"(\w*,)*x", "(?:x|y+)*z", "", "a|", "("])
def test_dangerous_or_invalid_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        check_pattern(pattern)


def test_hold_is_the_longest_prefix_of_a_word() -> None:
    d = DenyPatternsDetector(words=["bluebird"])
    assert d.hold("the blue", 64) == len("the ")
    assert d.hold("the cat", 64) == len("the cat")


async def test_topics_by_similarity() -> None:
    topics = [TopicSpec("legal-advice", "requests for legal advice about a specific situation",
                        ("can I sue my landlord for this",))]
    d = DenyTopicsDetector(topics, embedder=HashEmbedder(), threshold=0.5)
    hit = await d.check(["Can I sue my landlord for this?"], "input")
    assert hit.triggered and dict(hit.entities) == {"legal-advice": 1}
    miss = await d.check(["What is the capital of Australia?"], "input")
    assert not miss.triggered and miss.score < 0.5


async def test_topics_need_an_embedder() -> None:
    d = DenyTopicsDetector([TopicSpec("x", "y")], embedder=None)
    with pytest.raises(GuardrailUnavailable):
        await d.check(["hello"], "input")
