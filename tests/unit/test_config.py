from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aigw.config import ConfigError, load_config, load_config_file


def deployment(**extra: Any) -> dict[str, Any]:
    return {"provider": "openai", "model": "gpt-4o-mini", **extra}


def test_prices_resolve_most_specific_first() -> None:
    config = load_config({"models": [
        {"name": "a", "deployments": [deployment()]},
        {"name": "b", "price": {"input_per_mtok": 1, "output_per_mtok": 2}, "deployments": [
            deployment(), deployment(id="special", price={"input_per_mtok": 5, "output_per_mtok": 6})]},
    ]})
    a, b = config.models
    assert a.deployments[0].resolved_price.input_per_mtok == 0.15  # built-in table
    assert b.deployments[0].resolved_price.input_per_mtok == 1  # model price beats the table
    assert b.deployments[1].resolved_price.input_per_mtok == 5  # deployment price beats the model


def test_a_routable_model_without_a_price_is_a_load_error() -> None:
    with pytest.raises(ConfigError, match=r"no price for: private -> openai-compatible/llama"):
        load_config({"models": [{"name": "private", "deployments": [
            {"provider": "openai-compatible", "model": "llama", "api_base": "http://vllm:8000/v1"}]}]})


@pytest.mark.parametrize(("config", "message"), [
    ({"models": [{"name": "a", "deployments": []}]}, "at least 1"),
    ({"models": [{"name": "a", "deployments": [deployment(provider="nope")]}]}, "provider"),
    ({"models": [{"name": "a", "deployments": [deployment(weight=0)]}]}, "weight"),
    ({"models": [{"name": "a", "deployments": [deployment()], "fallbacks": ["missing"]}]}, "not a configured model"),
    ({"models": [{"name": "a", "deployments": [deployment()], "fallbacks": ["a"]}]}, "itself"),
    ({"models": [{"name": "a", "deployments": [deployment()]}, {"name": "a", "deployments": [deployment()]}]},
     "unique"),
    ({"models": [{"name": "a", "deployments": [deployment(), deployment()]}]}, "repeated"),
    ({"models": [{"name": "a", "deployments": [deployment(provider="azure", api_base="https://x")]}]},
     "api_version"),
    ({"models": [{"name": "a", "deployments": [deployment(credentials="Bad Name")]}]}, "credential"),
    ({"modles": []}, "modles"),  # typos fail loudly
])
def test_invalid_configs_fail_with_a_message(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(config)


def test_yaml_file_and_derived_names(tmp_path: Path) -> None:
    path = tmp_path / "aigw.yaml"
    path.write_text("""
models:
  - name: gpt-4o-mini
    deployments:
      - {provider: openai, model: gpt-4o-mini, credentials: openai}
      - {provider: bedrock, model: anthropic.claude-3-5-haiku-20241022-v1:0, region: us-west-2}
cache: {exact: true, semantic: {enabled: true, threshold: 0.9}}
""")
    config = load_config_file(path)
    assert config.credential_names == ["openai"]
    assert config.bedrock_models == [("us-west-2", "anthropic.claude-3-5-haiku-20241022-v1:0")]
    assert config.cache.semantic.threshold == 0.9
    assert config.model("gpt-4o-mini") is config.models[0]



def test_a_copy_finds_its_own_models() -> None:
    """The name index is cached; a copy with other models (the loader's priced copies) must not
    answer with the original's."""
    config = load_config({"models": [{"name": "m", "deployments": [{"provider": "openai", "model": "gpt-4o-mini"}]}]})
    assert config.model("m") is config.models[0]  # the index is built
    repriced = config.models[0].model_copy(update={"max_output_tokens": 7})
    copy = config.model_copy(update={"models": [repriced]})
    assert copy.model("m") is repriced
    assert config.model("m") is config.models[0]
    assert copy.model("other") is None

def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(bad)
