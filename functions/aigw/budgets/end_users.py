"""End users: the application's user behind a key (`ctx.end_user`, set by the front doors from
`x-aigw-end-user`, OpenAI's `safety_identifier` / `user`, or Anthropic's `metadata.user_id`).

Usage: the settlement adds a request with an end user to the monthly usage aggregates under
the dimension `user`, id `<team>:<end user>` (an application's user ids are its own: "alice"
of two teams is two users), so `aigw usage --by user` lists spend per end user and team. Never
a metric dimension: one CloudWatch metric per end user would cost money per user (DESIGN §8).

Rate limits: a key's `end_user_rpm` / `end_user_tpm` apply to each end user of the key apart,
so one application user cannot exhaust the key (or its team). They are one more rate window
in admission's one TransactWriteItems (scope `end_user`, id `<key id>:<end user>`): no extra
round trip, refused as `rate_limit_exceeded` naming the end user, with the window's
Retry-After (under a minute). A request without an end user is not limited by them.
"""

from __future__ import annotations

from aigw.auth.records import KeyRecord
from aigw.budgets.scopes import END_USER, ScopeRef, escape, unescape
from aigw.budgets.spec import Limits

USAGE_DIMENSION = "user"


def usage_id(team: str, end_user: str) -> str:
    """The end user's id in the usage aggregates (team ids never contain ':')."""
    return f"{team}:{escape(end_user)}"


def parse_usage_id(ident: str) -> tuple[str, str]:
    """(team, end user) from `usage_id`."""
    team, _, user = ident.partition(":")
    return team, unescape(user)


def end_user_scope(key: KeyRecord, end_user: str | None) -> tuple[ScopeRef, Limits] | None:
    """The request's end-user rate scope, if the key limits its end users and one is named."""
    if not end_user or (key.end_user_rpm is None and key.end_user_tpm is None):
        return None
    return ScopeRef(END_USER, f"{key.key_id}:{escape(end_user)}"), Limits(rpm=key.end_user_rpm,
                                                                          tpm=key.end_user_tpm)


def with_end_user(scopes: dict[ScopeRef, Limits], key: KeyRecord,
                  end_user: str | None) -> dict[ScopeRef, Limits]:
    """`scopes` with the end user's first (the narrowest scope is the one a refusal names)."""
    found = end_user_scope(key, end_user)
    if found is None:
        return scopes
    ref, limits = found
    return {ref: limits, **scopes}
