"""Credential values and the partial forms upstreams quote never survive an error text."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from aigw.errors import GatewayError, UpstreamError
from aigw.providers.base import Credential
from aigw.providers.redact import REDACTED, Redactor

KEY_CHARS = string.ascii_letters + string.digits + "-_"
PREFIXES = st.sampled_from(["sk-", "sk-proj-", "sk-ant-api03-", "AIza", "", "gsk_", "AKIA"])
BODIES = st.text(alphabet=KEY_CHARS, min_size=24, max_size=80)
TEMPLATES = st.sampled_from([
    "Incorrect API key provided: {}.",
    "invalid x-api-key {}",
    '{{"error": {{"message": "bad key \\"{}\\""}}}}',
    "API key not valid: {}, please pass a valid API key",
    "key={}&other=1",
])


def forms(secret: str) -> list[str]:
    """What providers write instead of the whole key."""
    return [secret, f"{secret[:3]}...{secret[-4:]}", f"{secret[:8]}****{secret[-4:]}", secret[:12],
            f"{secret[:7]}…{secret[-4:]}", f"sk-...{secret[-4:]}", f"****{secret[-4:]}"]


@settings(max_examples=300)
@given(prefix=PREFIXES, body=BODIES, template=TEMPLATES, form=st.integers(0, 6))
def test_every_form_of_a_registered_value_is_redacted(prefix: str, body: str, template: str, form: int) -> None:
    secret = prefix + body
    redactor = Redactor()
    redactor.add([secret])
    fragment = forms(secret)[form]
    out = redactor.redact(template.format(fragment))
    assert fragment not in out and REDACTED in out
    assert secret[-4:] not in out or len(secret) < 24


@given(text=st.text(alphabet=string.ascii_letters + " .,:", max_size=200))
def test_text_without_a_credential_is_left_alone(text: str) -> None:
    redactor = Redactor()
    redactor.add(["sk-proj-9fQ2xLr7TzWm3KbVn8YcPd4HsGj6Ae1U"])
    assert redactor.redact(text) == text


def test_short_values_are_not_scrubbed_everywhere() -> None:
    redactor = Redactor()
    redactor.add(["us-east", "1", ""])
    assert redactor.redact("region us-east-1 is up") == "region us-east-1 is up"


def test_gateway_errors_redact_message_code_param_and_detail() -> None:
    secret = "sk-proj-Zz81kLmQ0wErTyUiOpAsDfGhJkL0987654321"
    Credential({"api_key": secret})  # a loaded credential registers itself
    error = UpstreamError(f"Incorrect API key provided: sk-proj-****{secret[-4:]}", status=401,
                          code=secret, param=secret[:10], detail=f"upstream said {secret}")
    for text in (error.message, str(error), error.code, error.param, error.detail,
                 str(error.openai_body()), str(error.anthropic_body())):
        assert text is not None and secret not in text and secret[-4:] not in text
    assert secret not in GatewayError(f"x {secret}").message
