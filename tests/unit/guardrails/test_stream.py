"""StreamScanner and Restorer under random chunkings (hypothesis)."""

from __future__ import annotations

import random
import string
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.guardrails.patterns import DenyPatternsDetector
from aigw.guardrails.pii import PiiDetector
from aigw.guardrails.redact import Restorer, Vault, redact
from aigw.guardrails.secrets import SecretsDetector
from aigw.guardrails.stream import IntervalChecker, SpanRule, StreamScanner

R = random.Random(3)
AN = string.ascii_letters + string.digits
VALUES = [
    "john.doe@example.com", "(415) 555-2671", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "536-22-8842",
    "192.168.1.20", "AKIAIOSFODNN7EXAMPLE", "sk-proj-" + "".join(R.choice(AN) for _ in range(150)),
    "ghp_" + "".join(R.choice(AN) for _ in range(36)), "project-bluebird",
]
FILLER = ["hello", "the", "report", "is", "ready", "see", "page", "12", "and", "item", "3.1", "thanks", "ok,", "\n"]
RULES = [SpanRule("pii", PiiDetector(), "redact"), SpanRule("secrets", SecretsDetector(), "redact"),
         SpanRule("words", DenyPatternsDetector(patterns=["project-bluebird"]), "redact")]


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in pairwise(points)]


def run(scanner: StreamScanner, chunks: list[str]) -> tuple[str, int]:
    out, most_held = [], 0
    fed = 0
    for chunk in chunks:
        fed += len(chunk)
        released = scanner.feed(chunk)
        out.append(released.text)
        if released.blocked is not None:
            return "".join(out), most_held
        most_held = max(most_held, len(scanner._pending))
    out.append(scanner.flush().text)
    return "".join(out), most_held


texts = st.lists(st.sampled_from(FILLER), min_size=0, max_size=12).flatmap(
    lambda words: st.tuples(st.just(words), st.lists(st.sampled_from(VALUES), min_size=1, max_size=3))
).map(lambda wv: " ".join(wv[0][: len(wv[0]) // 2] + wv[1] + wv[0][len(wv[0]) // 2:]) + ".")


@settings(max_examples=150, deadline=None)
@given(texts, st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_no_value_is_ever_released(text: str, cuts: list[int]) -> None:
    released, _ = run(StreamScanner(RULES), chunked(text, cuts))
    for value in VALUES:
        assert value not in released
    assert "[" in released  # replaced by placeholders


@settings(max_examples=100, deadline=None)
@given(texts, st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_block_reports_and_releases_nothing_of_the_value(text: str, cuts: list[int]) -> None:
    rules = [SpanRule(r.name, r.detector, "block") for r in RULES]
    scanner = StreamScanner(rules)
    released, _ = run(scanner, chunked(text, cuts))
    assert scanner.blocked is not None
    for value in VALUES:
        assert value not in released


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([*FILLER, "a" * 80, "x-1.2", "@", "+"]), max_size=30),
       st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_clean_text_passes_unchanged_and_holds_little(words: list[str], cuts: list[int]) -> None:
    text = " ".join(words)
    released, most_held = run(StreamScanner(RULES), chunked(text, cuts))
    assert released == text
    assert most_held <= 64 + 80  # the bound, plus at most one chunk not yet looked at


def test_a_block_is_reported_when_the_match_completes() -> None:
    scanner = StreamScanner([SpanRule("secrets", SecretsDetector(), "block")])
    assert scanner.feed("key AKIAIOSFODNN7EXAM").blocked is None
    assert scanner.feed("PLE").blocked is None  # could still be followed by more characters
    assert scanner.feed(" and").blocked is not None


def test_a_card_that_grows_is_not_a_card() -> None:
    scanner = StreamScanner([SpanRule("pii", PiiDetector(["credit_card"]), "block")])
    assert scanner.feed("n 4111111111111111").blocked is None
    assert scanner.feed("2345 is an order").blocked is None
    assert scanner.flush().blocked is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["a@b.io", "555-123-4567", "hi", "x", " ", "[", "]", "EMAIL"]), max_size=12),
       st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_restorer_round_trips_through_any_chunking(parts: list[str], cuts: list[int]) -> None:
    original = " ".join(parts)
    pii = PiiDetector(["email"])
    vault = Vault()
    redacted = redact(original, pii.find(original), vault, restorable=True)
    assert "a@b.io" not in redacted
    assert Restorer(vault).restore(redacted) == original
    restorer = Restorer(vault)
    streamed = "".join(restorer.feed(c) for c in chunked(redacted, cuts)) + restorer.flush()
    assert streamed == original


def test_vault_numbers_per_type_and_keeps_non_restorable_placeholders() -> None:
    vault = Vault()
    assert vault.placeholder("email", "a@b.io", restorable=True) == "[EMAIL_1]"
    assert vault.placeholder("email", "c@d.io", restorable=False) == "[EMAIL_2]"
    assert vault.placeholder("email", "a@b.io", restorable=True) == "[EMAIL_1]"
    assert vault.placeholder("credit_card", "4111111111111111", restorable=True) == "[CREDIT_CARD_1]"
    assert Restorer(vault).restore("[EMAIL_1] [EMAIL_2] [EMAIL_9]") == "a@b.io [EMAIL_2] [EMAIL_9]"


async def test_interval_checker_checks_every_n_characters() -> None:
    seen: list[str] = []

    async def check(segment: str) -> tuple[str, None]:
        seen.append(segment)
        return segment.replace("bad", "***"), None

    checker = IntervalChecker(check, interval=20)
    out = [(await checker.feed(w)).text for w in ("hello bad world ", "this is more text ", "end")]
    out.append((await checker.flush()).text)
    assert "".join(out) == "hello *** world this is more text end"
    assert all(len(s) <= 20 for s in seen[:-1]) and len(seen) >= 2
