"""What `aigw keys show` lists: the guardrails a key always gets, and what model policies add."""

from __future__ import annotations

from aigw.auth.records import KeyRecord
from aigw.config import load_config
from aigw.guardrails.policy import guardrails_of

CONFIG = load_config({
    "guardrails": [{"name": "secrets", "type": "secrets", "action": "block"},
                   {"name": "pii", "type": "pii", "action": "redact"},
                   {"name": "words", "type": "deny_patterns", "patterns": ["x"], "action": "block"},
                   {"name": "mine", "type": "deny_patterns", "patterns": ["y"], "action": "monitor"}],
    "policies": {"default": ["secrets"], "models": {"gpt-4o*": ["pii"]}, "teams": {"research": ["words"]},
                 "keys": {"key_abc": ["mine"]}}})


def test_a_key_lists_its_team_key_and_model_guardrails_in_config_order() -> None:
    of = guardrails_of(CONFIG)
    research = KeyRecord(key_hash="h", key_id="key_abc", team_id="research")
    assert of(research) == {"always": ["secrets", "words", "mine"], "by_model": {"gpt-4o*": ["pii"]}}
    other = KeyRecord(key_hash="h2", key_id="key_def", team_id="sales")
    assert of(other) == {"always": ["secrets"], "by_model": {"gpt-4o*": ["pii"]}}
