from __future__ import annotations

from pathlib import Path

import pytest

from aigw.config.loader import ConfigError, load_config, parse_config_text
from aigw.guardrails.policy import applicable

ISSUE_YAML = (Path(__file__).parent / "issue_config.yaml").read_text()


def test_the_issue_config_loads_as_written() -> None:
    config = load_config(parse_config_text(ISSUE_YAML))
    by_name = {g.name: g for g in config.guardrails}
    assert list(by_name) == ["pii", "secrets", "injection", "no-legal", "words", "bedrock", "my-service"]
    assert by_name["injection"].sources == ("input",) and by_name["words"].sources == ("input", "output")
    assert by_name["no-legal"].fails_closed is False and by_name["my-service"].fails_closed is True
    assert config.bedrock_guardrails == [(None, "gr-abc123")]


@pytest.mark.parametrize(("guardrails", "policies", "message"), [
    ([{"name": "a", "type": "secrets"}], {"default": ["b"]}, "policies name guardrails that are not defined"),
    ([{"name": "a", "type": "secrets"}, {"name": "a", "type": "pii"}], {}, "unique"),
    ([{"name": "i", "type": "prompt_injection", "action": "redact"}], {}, "cannot redact"),
    ([{"name": "p", "type": "pii", "restore": True}], {}, "restore: true needs action: redact"),
    ([{"name": "w", "type": "deny_patterns", "patterns": ["(a+)+"]}], {}, "nests a repeat"),
    ([{"name": "w", "type": "deny_patterns"}], {}, "needs patterns or words"),
    ([{"name": "p", "type": "pii", "entitys": ["email"]}], {}, "Extra inputs"),
    ([{"name": "p", "type": "nope"}], {}, "does not match any of the expected tags"),
    ([{"name": "h", "type": "webhook", "url": "ftp://x"}], {}, "url"),
])
def test_bad_configs_are_clear_errors(guardrails: list[dict[str, object]], policies: dict[str, object],
                                      message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config({"guardrails": guardrails, "policies": policies})


def test_webhook_credentials_are_config_credentials() -> None:
    hook = {"name": "h", "type": "webhook", "url": "https://g/x", "credentials": "guard"}
    config = load_config({"guardrails": [hook]})
    assert config.credential_names == ["guard"]


def test_policies_union_in_config_order() -> None:
    config = load_config(parse_config_text(ISSUE_YAML + "\n"))
    g, p = config.guardrails, config.policies
    assert applicable(g, p, model="other", team="t", project=None, key_id="k") == ["secrets", "injection"]
    assert applicable(g, p, model="gpt-4o-mini", team="t", project=None, key_id="k") == ["pii", "secrets", "injection"]
    assert applicable(g, p, model="x", team="research", project=None, key_id="k") == [
        "pii", "secrets", "injection", "no-legal"]
    config = load_config({"guardrails": [{"name": n, "type": "secrets"} for n in ("a", "b", "c", "d")],
                          "policies": {"keys": {"key_1": ["d"]}, "projects": {"p1": ["c", "a"]},
                                       "models": {"gpt-4o*": ["b"]}}})
    assert applicable(config.guardrails, config.policies, model="gpt-4o-mini", team=None, project="p1",
                      key_id="key_1") == ["a", "b", "c", "d"]
    assert applicable(config.guardrails, config.policies, model="claude", team=None, project=None,
                      key_id="key_2") == []
