from __future__ import annotations

from typing import Any

import pytest

from aigw.credentials import CredentialStore, CredentialUnavailable, parse_secret


class FakeSecrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads = 0

    def get_secret_value(self, SecretId: str, **_: Any) -> dict[str, Any]:
        self.reads += 1
        if SecretId not in self.values:
            raise KeyError(SecretId)
        return {"SecretString": self.values[SecretId]}


def test_secret_formats() -> None:
    assert parse_secret('{"api_key": "k1", "organization": "org"}') == {"api_key": "k1", "organization": "org"}
    assert parse_secret("  sk-plain  ") == {"api_key": "sk-plain"}


async def test_credentials_are_cached_and_never_shown() -> None:
    secrets = FakeSecrets({"aigw/openai": '{"api_key": "sk-secret-value"}'})
    store = CredentialStore(lambda: secrets, prefix="aigw/")
    credential = await store.get("openai")
    assert credential.api_key == "sk-secret-value"
    await store.get("openai")
    assert secrets.reads == 1
    assert "sk-secret-value" not in repr(credential)


async def test_missing_and_unset_secrets_fail_clearly() -> None:
    store = CredentialStore(lambda: FakeSecrets({"aigw/empty": '{"api_key": "", "placeholder": "x"}'}),
                            prefix="aigw/")
    with pytest.raises(CredentialUnavailable) as absent:
        await store.get("absent")
    assert "'absent' is not available" in (absent.value.detail or "")
    with pytest.raises(CredentialUnavailable) as failure:
        await store.get("empty")
    assert "put-secret-value --secret-id aigw/empty" in (failure.value.detail or "")
    assert failure.value.status == 502
    for error in (absent.value, failure.value):  # the client reads neither the secret's name nor the fix
        assert "aigw/" not in error.message and "absent" not in error.message and "x-request-id" in error.message
