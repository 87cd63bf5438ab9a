"""The one input: the config file, validated with the runtime's models, plus CDK context knobs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aigw.config import ConfigError, load_config
from infra.settings import ROOT, Settings, SettingsError


class _Context:
    def __init__(self, **values: Any) -> None:
        self._values = values

    def try_get_context(self, key: str) -> Any:
        return self._values.get(key)


def _settings(tmp_path: Path, config: str = "models: []\n", **context: Any) -> Settings:
    path = tmp_path / "aigw.yaml"
    path.write_text(config)
    return Settings.from_context(_Context(config=str(path), **context))


def test_defaults_read_the_example_config() -> None:
    settings = Settings.from_context(_Context())
    assert settings.config_path.name == "aigw.yaml" and settings.config.model("gpt-4o-mini") is not None
    assert settings.skip_deps_bundling is False and settings.secret_prefix == "aigw/"


def test_context_values_arrive_as_strings_from_the_cli(tmp_path: Path) -> None:
    settings = _settings(tmp_path, skip_deps_bundling="true", log_retention_days="7", throttle_rate_limit="12.5",
                         alarm_email="", web_acl_arn=None)
    assert settings.skip_deps_bundling is True
    assert settings.log_retention_days == 7 and settings.throttle_rate_limit == 12.5
    assert settings.alarm_email is None and settings.web_acl_arn is None


@pytest.mark.parametrize(("key", "value"), [
    ("skip_deps_bundling", "maybe"), ("log_retention_days", "31"), ("throttle_rate_limit", "fast"),
    ("gateway_memory_mb", "64"), ("stack_name", "1bad"), ("spend_alarm_usd_per_hour", "0"),
])
def test_bad_context_values_fail_with_the_key_named(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        _settings(tmp_path, **{key: value})


def test_an_invalid_config_fails_with_the_loaders_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no price for"):
        _settings(tmp_path, "models:\n  - name: x\n    deployments: [{provider: openai, model: unknown-model}]\n")
    with pytest.raises(ConfigError, match="cannot read config"):
        Settings.from_context(_Context(config=str(tmp_path / "missing.yaml")))


def test_titan_is_granted_only_when_the_semantic_cache_embeds_with_it(tmp_path: Path) -> None:
    on = "cache: {semantic: {enabled: true}}\n"
    assert _settings(tmp_path, on).bedrock_models == [(None, "amazon.titan-embed-text-v2:0")]
    assert _settings(tmp_path, on).vector_collection
    assert _settings(tmp_path, "cache: {semantic: {enabled: true, backend: local}}\n").bedrock_models == []
    assert not _settings(tmp_path, "cache: {semantic: {enabled: true, backend: local}}\n").vector_collection
    assert _settings(tmp_path, "cache: {semantic: {enabled: false}}\n").bedrock_models == []
    per_team = "cache: {teams: {research: {semantic: true}}, semantic: {region: us-west-2}}\n"
    assert _settings(tmp_path, per_team).bedrock_models == [("us-west-2", "amazon.titan-embed-text-v2:0")]


def test_the_shipped_json_loads_back_to_the_same_config() -> None:
    config = Settings.from_context(_Context()).config
    assert load_config(json.loads(config.model_dump_json())) == config


def test_app_py_exits_with_the_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - name: m\n    deployments: [{provider: nope, model: x}]\n")
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"config": str(bad)}), "CDK_OUTDIR": str(tmp_path / "out")}
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 1
    assert "aigw: invalid config: models.0.deployments.0.provider" in result.stderr
    assert "Traceback" not in result.stderr


def test_reserved_concurrency_defaults_leave_the_account_room(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert (settings.gateway_reserved_concurrency, settings.admin_reserved_concurrency) == (200, 5)
    assert settings.account_concurrency - 200 - 5 >= 100  # Lambda keeps 100 unreserved
    off = _settings(tmp_path, gateway_reserved_concurrency="none", admin_reserved_concurrency="OFF")
    assert (off.gateway_reserved_concurrency, off.admin_reserved_concurrency) == (None, None)
    assert _settings(tmp_path, gateway_reserved_concurrency="850").gateway_reserved_concurrency == 850


@pytest.mark.parametrize(("context", "message"), [
    ({"gateway_reserved_concurrency": "0"}, "at least 1"),
    ({"admin_reserved_concurrency": "-3"}, "at least 1"),
    ({"gateway_reserved_concurrency": "900"}, "at most 900"),
    ({"gateway_reserved_concurrency": "5000", "account_concurrency": "5000"}, "at most 4900"),
    ({"gateway_reserved_concurrency": "many"}, "a number"),
    ({"bytecode": "sometimes"}, "bytecode: one of auto, required, off, docker"),
    ({"kms": "maybe"}, "kms: true or false"),
])
def test_bad_concurrency_bytecode_and_kms_values_are_refused(tmp_path: Path, context: dict[str, str],
                                                             message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        _settings(tmp_path, **context)


def test_bytecode_and_kms_from_context(tmp_path: Path) -> None:
    assert _settings(tmp_path).bytecode == "auto" and _settings(tmp_path).kms is False
    settings = _settings(tmp_path, bytecode="required", kms="true", account_concurrency="3000",
                         gateway_reserved_concurrency="2000")
    assert (settings.bytecode, settings.kms, settings.gateway_reserved_concurrency) == ("required", True, 2000)
