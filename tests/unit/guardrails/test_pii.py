from __future__ import annotations

import pytest

from aigw.guardrails.pii import PiiDetector, card_issuer_ok, iban_ok, luhn_ok, ssn_ok


def entities(text: str, **kw: object) -> list[tuple[str, str]]:
    return [(f.entity, text[f.start:f.end]) for f in PiiDetector(**kw).find(text)]  # type: ignore[arg-type]


def test_validators() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert card_issuer_ok("378282246310005") and not card_issuer_ok("9111111111111111")
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")
    assert not iban_ok("DE8937040044053201300")  # wrong length for DE
    assert ssn_ok("536", "22", "8842")
    for area, group, serial in [("000", "12", "3456"), ("666", "12", "3456"), ("912", "34", "5678"),
                                ("123", "00", "4567"), ("123", "45", "0000"), ("078", "05", "1120")]:
        assert not ssn_ok(area, group, serial)


@pytest.mark.parametrize(("text", "want"), [
    ("write to john.doe@example.com today", [("email", "john.doe@example.com")]),
    ("call (415) 555-2671 now", [("phone", "(415) 555-2671")]),
    ("+44 20 7946 0958", [("phone", "+44 20 7946 0958")]),
    ("card 4111 1111 1111 1111.", [("credit_card", "4111 1111 1111 1111")]),
    ("IBAN DE89 3704 0044 0532 0130 00", [("iban", "DE89 3704 0044 0532 0130 00")]),
    ("ssn 536-22-8842", [("us_ssn", "536-22-8842")]),
    ("hosts 192.168.1.20 and 2001:db8::8a2e:370:7334", [("ip_address", "192.168.1.20"),
                                                        ("ip_address", "2001:db8::8a2e:370:7334")]),
])
def test_positives(text: str, want: list[tuple[str, str]]) -> None:
    assert entities(text) == want


@pytest.mark.parametrize("text", [
    "Order #4111111111111112 shipped", "order number 1234567890123456", "UUID 123e4567-e89b-12d3-a456-426614174000",
    "upgrade to v1.2.3.4", "version 10.0.0.1", "Python 3.11.4", "md5 d41d8cd98f00b204e9800998ecf8427e",
    "meeting 2024-03-15 10:30", "timestamp 2023-11-05 14:30:00", "due 15/03/2024", "MAC 00:1A:2B:3C:4D:5E",
    "std::vector<int>", "000-12-3456", "999.999.999.999", "icon@2x.png", "GB00WEST12345698765432",
])
def test_hard_negatives(text: str) -> None:
    assert entities(text) == []


def test_entities_filter() -> None:
    text = "mail a@b.io, card 4111111111111111"
    assert entities(text, entities=["email"]) == [("email", "a@b.io")]
    with pytest.raises(ValueError, match="unknown PII"):
        PiiDetector(["passport"])


def test_hold_keeps_only_a_possible_match() -> None:
    d = PiiDetector()
    assert d.hold("hello world. ", 64) == len("hello world. ")  # nothing in progress
    text = "my number is 415-555-26"
    assert d.hold(text, 64) == text.index("415")
    text = "write to john.do"
    assert d.hold(text, 64) == text.index("john")
    assert d.hold("x" * 200, 64) == 200 - 64  # bounded


def test_linear_time_on_adversarial_input() -> None:
    import time

    d = PiiDetector()
    for text in ("1-" * 50_000, "a@" * 50_000, "1." * 50_000, ("DE89" + " 1" * 20) * 2_000, ":" * 100_000):
        started = time.perf_counter()
        d.find(text)
        assert time.perf_counter() - started < 2.0, text[:10]
