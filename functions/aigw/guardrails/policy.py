"""Which guardrails apply to a request: the union of every matching scope, in config order.

Scopes: `default` (everyone), `models` (the public model name the client asked for; keys may
be fnmatch patterns), `teams`, `projects`, `keys` (key ids). The result is ordered as the
guardrails are listed under `guardrails:`, so redaction by an earlier one is what a later one
sees. Nothing the client sends (headers, body fields) is an input here: a request cannot turn
a guardrail off.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from typing import Any

from aigw.guardrails.config import GuardrailConfig, PoliciesConfig


def applicable(guardrails: Sequence[GuardrailConfig], policies: PoliciesConfig, *, model: str, team: str | None,
               project: str | None, key_id: str | None) -> list[str]:
    wanted: set[str] = set(policies.default)
    for pattern, names in policies.models.items():
        if pattern == model or fnmatch.fnmatchcase(model, pattern):
            wanted.update(names)
    if team is not None:
        wanted.update(policies.teams.get(team, ()))
    if project is not None:
        wanted.update(policies.projects.get(project, ()))
    if key_id is not None:
        wanted.update(policies.keys.get(key_id, ()))
    return [g.name for g in guardrails if g.name in wanted]


def key_guardrails(guardrails: Sequence[GuardrailConfig], policies: PoliciesConfig, *, team: str,
                   project: str | None, key_id: str) -> dict[str, Any]:
    """What `aigw keys show` lists: the guardrails every request of the key gets, and those a
    model pattern adds (`by_model`)."""
    always = applicable(guardrails, policies, model="\x00", team=team, project=project, key_id=key_id)
    by_model = {}
    for pattern in policies.models:
        names = applicable(guardrails, policies, model=pattern, team=team, project=project, key_id=key_id)
        extra = [n for n in names if n not in always]
        if extra:
            by_model[pattern] = extra
    return {"always": always, "by_model": by_model}


def guardrails_of(config: Any) -> Callable[[Any], dict[str, Any]]:
    """Which guardrails apply to a key record, from a gateway config (for the admin views)."""

    def of(record: Any) -> dict[str, Any]:
        return key_guardrails(config.guardrails, config.policies, team=record.team_id, project=record.project,
                              key_id=record.key_id)

    return of
