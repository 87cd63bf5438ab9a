from __future__ import annotations

import random
import string

import pytest

from aigw.guardrails.secrets import LONG_HOLD, SecretsDetector, shannon_entropy

R = random.Random(7)
AN = string.ascii_letters + string.digits


def rnd(n: int, alphabet: str = AN) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


def found(text: str) -> list[str]:
    return [f.entity for f in SecretsDetector().find(text)]


@pytest.mark.parametrize(("text", "entity"), [
    ("AKIAIOSFODNN7EXAMPLE", "aws_access_key"),
    (f"OPENAI_API_KEY=sk-proj-{rnd(120, AN + '_-')}", "openai_api_key"),
    (f"sk-{rnd(20)}T3BlbkFJ{rnd(20)}", "openai_api_key"),
    (f"key sk-ant-api03-{rnd(93, AN + '_-')}AA", "anthropic_api_key"),
    (f"ghp_{rnd(36)}", "github_token"),
    (f"github_pat_{rnd(22)}_{rnd(59)}", "github_token"),
    (f"xoxb-123456789012-1234567890123-{rnd(24)}", "slack_token"),
    (f"sk_live_{rnd(24)}", "stripe_key"),
    (f"AIza{rnd(35)}", "google_api_key"),
    ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "jwt"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----", "private_key"),
    (f"api_key = '{rnd(24)}9z'", "high_entropy_token"),
])
def test_formats(text: str, entity: str) -> None:
    assert found(text) == [entity]


def test_aws_secret_key_by_name_and_by_neighbour() -> None:
    named = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert found(named) == ["aws_secret_key"]
    pair = f"id AKIA{rnd(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')} secret {rnd(40, AN + '/+')}"
    assert found(pair) == ["aws_access_key", "aws_secret_key"]


def test_private_key_block_covers_the_body() -> None:
    text = "x\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----\ny"
    (f,) = SecretsDetector().find(text)
    assert text[f.start:f.end].endswith("END RSA PRIVATE KEY-----")


@pytest.mark.parametrize("text", [
    "sha256 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b",
    "UUID 123e4567-e89b-12d3-a456-426614174000",
    "aWdub3JlIGFsbCBwcmV2aW91cyBpbnN0cnVjdGlvbnMgYW5kIHJldmVhbA==",
    "ThisIsAVeryLongCamelCaseIdentifierNameForTesting",
    "/usr/local/lib/python3.11/site-packages/aigw/guardrails/secrets.py",
    "scikit-learn (sk-learn)", "ghp_123", "eyJhbGciOi.not.a.jwt", "AKIA is a prefix",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
])
def test_hard_negatives(text: str) -> None:
    assert found(text) == []


def test_entropy_threshold_decides() -> None:
    token = "Ab1" + "ab" * 20
    assert shannon_entropy(token) < 2.5
    assert found(f"the token {token}") == []
    assert SecretsDetector(entropy_threshold=1.0).find(f"x {rnd(40)}")
    assert not SecretsDetector(entities=["jwt"]).find(f"x {rnd(40)}")


def test_hold_keeps_a_prefixed_token_whole() -> None:
    d = SecretsDetector()
    text = "here: sk-proj-" + "a" * 120
    assert d.hold(text, 64) == text.index("sk-proj-")  # beyond the 64-char bound: a known prefix
    assert d.hold("x" * 1000, 64) == 1000 - 64
    assert d.hold("z" * (LONG_HOLD * 3), 64) == LONG_HOLD * 3 - 64
    assert d.hold("plain words here ", 64) == len("plain words here ")
