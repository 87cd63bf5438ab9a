"""`aigw teams|keys|budgets|usage`: the admin API from the command line.

The gateway is `--url`, else $AIGW_URL, else the local `aigw dev` (http://127.0.0.1:8080).
Locally the CLI sends $AIGW_ADMIN_TOKEN; against a deployed gateway it signs with SigV4.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from decimal import Decimal
from typing import Any

from aigw.cli import CliError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise CliError(f"cannot read the duration {text!r}: write e.g. 30d, 12h, 90m, 2w")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def parse_budgets(texts: list[str] | None, alerts: str | None = None) -> list[dict[str, Any]]:
    """`--budget` values, each with the `--alert` thresholds (percent) if given."""
    from aigw.budgets.spec import Budget, merge_budgets, parse_alerts, parse_budget

    if alerts is not None and not texts:
        raise CliError("--alert needs a --budget to apply to (e.g. --budget 500usd/month --alert 50,80,100)")
    try:
        percents = parse_alerts(alerts) if alerts is not None else []
        budgets = merge_budgets([Budget.model_validate({**parse_budget(t).model_dump(), "alert_at_percent": percents})
                                 for t in texts or []])
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return [b.model_dump(mode="json", exclude_none=True, exclude={"alert_at_percent"} if not b.alert_at_percent
                         else None) for b in budgets]


# Fields that hold epoch seconds in the admin API; the CLI prints them as ISO 8601 (UTC).
TIME_FIELDS = frozenset({"created_at", "updated_at", "expires_at", "resets_at", "rotated_at", "previous_valid_until"})


def iso(value: Any) -> Any:
    """Epoch seconds as ISO 8601 in UTC (`2026-11-25T14:03:00Z`); anything else unchanged."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))
    if isinstance(value, str):
        try:
            return iso(float(value))
        except ValueError:
            return value
    return value


def with_iso_times(data: Any) -> Any:
    """A copy of an admin API answer with every TIME_FIELDS value in ISO 8601."""
    if isinstance(data, dict):
        return {k: iso(v) if k in TIME_FIELDS and v is not None else with_iso_times(v) for k, v in data.items()}
    if isinstance(data, list):
        return [with_iso_times(v) for v in data]
    return data


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], *, out: Any = None) -> None:
    """Print rows as an aligned text table (columns: (key, header))."""
    out = out or sys.stdout
    if not rows:
        print("(none)", file=out)
        return
    cells = [[_cell(iso(row.get(key)) if key in TIME_FIELDS else row.get(key)) for key, _ in columns]
             for row in rows]
    widths = [max(len(header), *(len(c[i]) for c in cells)) for i, (_, header) in enumerate(columns)]
    print("  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True)).rstrip(), file=out)
    for row_cells in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row_cells, widths, strict=True)).rstrip(), file=out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value) or "-"
    return str(value)


def _budgets_text(budgets: list[dict[str, Any]]) -> str:
    parts = []
    for b in budgets:
        if b.get("limit_usd") is not None:
            parts.append(f"{b['limit_usd']}usd/{b['period']}")
        if b.get("limit_tokens") is not None:
            parts.append(f"{b['limit_tokens']}tokens/{b['period']}")
    return ",".join(parts) or "-"


def _client(args: argparse.Namespace) -> Any:
    from aigw.cli.admin_client import AdminClient

    return AdminClient(args.url)


def _print_json(data: Any) -> None:
    print(json.dumps(with_iso_times(data), indent=2, default=str))


def _scope_label(result: dict[str, Any]) -> str:
    """`global`, or `team research`: the global scope has no id worth printing."""
    return result["scope"] if result["scope"] == "global" else f"{result['scope']} {result['id']}"


# ---- teams --------------------------------------------------------------------------------------
def teams_create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"id": args.id, "budgets": parse_budgets(args.budget, args.alert)}
    for field in ("name", "rpm", "tpm"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    team = _client(args).request("POST", "/admin/teams", body=body)
    print(f"team {team['id']} ready (budgets: {_budgets_text(team['budgets'])}, rpm: {team['rpm'] or '-'}, "
          f"tpm: {team['tpm'] or '-'})")
    return 0


def teams_list(args: argparse.Namespace) -> int:
    teams = _client(args).request("GET", "/admin/teams")["teams"]
    if args.json:
        _print_json(teams)
        return 0
    for team in teams:
        team["budgets_text"] = _budgets_text(team["budgets"])
    table(teams, [("id", "TEAM"), ("name", "NAME"), ("budgets_text", "BUDGETS"), ("rpm", "RPM"), ("tpm", "TPM"),
                  ("created_at", "CREATED")])
    return 0


# ---- keys ---------------------------------------------------------------------------------------
def keys_create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"team": args.team, "budgets": parse_budgets(args.budget, args.alert)}
    if args.models:
        body["models"] = [m.strip() for m in args.models.split(",") if m.strip()]
    for field in ("project", "name", "rpm", "tpm", "end_user_rpm", "end_user_tpm"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    if args.expires:
        body["expires_in_s"] = parse_duration(args.expires)
    if args.id:
        body["id"] = args.id
    headers = {"idempotency-key": args.idempotency_key} if args.idempotency_key else None
    key = _client(args).request("POST", "/admin/keys", body=body, headers=headers)
    if args.json:
        _print_json(key)  # "key" is the secret, or null when this create had already been done
        return 0
    if not key.get("key"):
        print(f"key {key['id']} already exists (an earlier run of this create); its secret is shown only once: "
              f"rotate it with `aigw keys rotate {key['id']}` if it was lost", file=sys.stderr)
        return 0
    print(f"created key {key['id']} for team {key['team']} (prefix {key['prefix']}); "
          "store it now, it is not shown again:", file=sys.stderr)
    print(key["key"])
    return 0


_KEY_COLUMNS = [("id", "ID"), ("prefix", "PREFIX"), ("team", "TEAM"), ("project", "PROJECT"), ("name", "NAME"),
                ("status", "STATUS"), ("models", "MODELS"), ("budgets_text", "BUDGETS"), ("rpm", "RPM"),
                ("tpm", "TPM"), ("expires_at", "EXPIRES")]


def keys_list(args: argparse.Namespace) -> int:
    keys = _client(args).request("GET", "/admin/keys", query={"team": args.team})["keys"]
    if args.json:
        _print_json(keys)
        return 0
    for key in keys:
        key["budgets_text"] = _budgets_text(key["budgets"])
    table(sorted(keys, key=lambda k: (k["team"], k["id"])), _KEY_COLUMNS)
    return 0


def keys_show(args: argparse.Namespace) -> int:
    _print_json(_client(args).request("GET", f"/admin/keys/{args.id}"))
    return 0


def keys_revoke(args: argparse.Namespace) -> int:
    key = _client(args).request("POST", f"/admin/keys/{args.id}/revoke")
    print(f"key {key['id']} revoked (gateways stop accepting it within their key cache TTL, 30 s by default)")
    return 0


def keys_rotate(args: argparse.Namespace) -> int:
    grace = parse_duration(args.grace) if args.grace else 86_400.0
    key = _client(args).request("POST", f"/admin/keys/{args.id}/rotate", body={"grace_s": grace})
    if args.json:
        _print_json(key)
        return 0
    until = iso(key["previous_valid_until"])
    print(f"rotated key {key['id']} (new prefix {key['prefix']}); the old secret works until {until}. "
          "New secret, shown once:", file=sys.stderr)
    print(key["key"])
    return 0


# ---- budgets and usage ----------------------------------------------------------------------------
def _scope_path(args: argparse.Namespace) -> str:
    scope_id = args.id or ("global" if args.scope == "global" else None)
    if scope_id is None:
        raise CliError(f"give the {args.scope} id: aigw budgets {args.action} {args.scope} <id>")
    return f"/admin/budgets/{args.scope}/{scope_id}"


def budgets_set(args: argparse.Namespace) -> int:
    if not args.budget and not args.clear:
        raise CliError("give at least one --budget (e.g. --budget 50usd/month), or --clear")
    result = _client(args).request("PUT", _scope_path(args), body={"budgets": parse_budgets(args.budget, args.alert)})
    print(f"budgets of {_scope_label(result)}: {_budgets_text(result['budgets'])}")
    return 0


def budgets_show(args: argparse.Namespace) -> int:
    result = _client(args).request("GET", _scope_path(args))
    if args.json:
        _print_json(result)
        return 0
    window = result["rate_window"]
    print(f"budgets of {_scope_label(result)} (rpm: {result['rpm'] or '-'}, tpm: {result['tpm'] or '-'}; "
          f"this minute: {window['requests']} requests, {window['tokens']} tokens)")
    table(result["budgets"], [("period", "PERIOD"), ("period_key", "CURRENT"), ("limit_usd", "LIMIT_USD"),
                              ("spent_usd", "SPENT_USD"), ("reserved_usd", "RESERVED_USD"),
                              ("remaining_usd", "REMAINING_USD"), ("limit_tokens", "LIMIT_TOKENS"),
                              ("spent_tokens", "SPENT_TOKENS"), ("remaining_tokens", "REMAINING_TOKENS"),
                              ("resets_at", "RESETS")])
    return 0


def usage(args: argparse.Namespace) -> int:
    result = _client(args).request("GET", "/admin/usage", query={"by": args.by, "period": args.period})
    if args.json:
        _print_json(result)
        return 0
    rows = result["rows"]
    team = [("team", "TEAM")] if result["by"] == "user" else []  # an end user is one of a team's
    table(rows, [(result["by"], result["by"].upper()), *team, ("requests", "REQUESTS"),
                 ("input_tokens", "INPUT_TOKENS"), ("output_tokens", "OUTPUT_TOKENS"), ("cost_usd", "COST_USD")])
    total = result["total"]
    print(f"period {result['period']}: {total['requests']} requests, ${Decimal(total['cost_usd']):f} in total")
    return 0


# ---- argparse -----------------------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser, *, json_flag: bool = False) -> None:
    parser.add_argument("--url", default=None, help="the gateway (default: $AIGW_URL, else http://127.0.0.1:8080)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--budget", action="append", metavar="AMOUNT/PERIOD",
                        help="e.g. 50usd/month or 2000000tokens/day (repeatable; periods day|week|month|total)")
    parser.add_argument("--rpm", type=int, help="requests per minute")
    parser.add_argument("--tpm", type=int, help="tokens per minute")
    _alert(parser)


def _alert(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alert", metavar="PERCENTS",
                        help="alert once per period when spend reaches these percents of each --budget: 50,80,100")


def register(subparsers: Any) -> None:
    teams = subparsers.add_parser("teams", help="create and list teams").add_subparsers(dest="action",
                                                                                       metavar="ACTION", required=True)
    p = teams.add_parser("create", help="create a team")
    p.add_argument("id")
    p.add_argument("--name")
    _limits(p)
    _common(p)
    p.set_defaults(handler=teams_create)
    p = teams.add_parser("list", help="list teams")
    _common(p, json_flag=True)
    p.set_defaults(handler=teams_list)

    keys = subparsers.add_parser("keys", help="create, list, show, revoke and rotate virtual keys").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = keys.add_parser("create", help="create a key (printed once, on its own line)")
    p.add_argument("--team", required=True)
    p.add_argument("--id", help="choose the key's id (key_...): makes the create safe to repeat")
    p.add_argument("--json", action="store_true", help="print the created key as JSON (secret included)")
    p.add_argument("--project")
    p.add_argument("--name")
    p.add_argument("--models", help="allowed models, comma-separated names or patterns: 'gpt-4o*,claude-*'")
    p.add_argument("--expires", help="lifetime, e.g. 30d, 12h")
    p.add_argument("--idempotency-key", help="makes the create safe to retry")
    _limits(p)
    p.add_argument("--end-user-rpm", type=int, help="requests per minute of each end user of the key")
    p.add_argument("--end-user-tpm", type=int, help="tokens per minute of each end user of the key")
    _common(p)
    p.set_defaults(handler=keys_create)
    p = keys.add_parser("list", help="list keys (never their secrets)")
    p.add_argument("--team")
    _common(p, json_flag=True)
    p.set_defaults(handler=keys_list)
    for name, handler, text in (("show", keys_show, "show a key"), ("revoke", keys_revoke, "revoke a key")):
        p = keys.add_parser(name, help=text)
        p.add_argument("id")
        _common(p)
        p.set_defaults(handler=handler)
    p = keys.add_parser("rotate", help="issue a new secret; the old one keeps working for --grace")
    p.add_argument("id")
    p.add_argument("--grace", default="24h", help="how long the old secret still works (default 24h)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON (new secret included)")
    _common(p)
    p.set_defaults(handler=keys_rotate)

    budgets = subparsers.add_parser("budgets", help="set and show budgets").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    p = budgets.add_parser("set", help="replace the budgets of a scope")
    p.add_argument("scope", choices=["key", "project", "team", "global"])
    p.add_argument("id", nargs="?")
    p.add_argument("--budget", action="append", metavar="AMOUNT/PERIOD", help="e.g. 50usd/month (repeatable)")
    p.add_argument("--clear", action="store_true", help="remove every budget of the scope")
    _alert(p)
    _common(p)
    p.set_defaults(handler=budgets_set)
    p = budgets.add_parser("show", help="budgets with spend, reservations and what remains")
    p.add_argument("scope", choices=["key", "project", "team", "global"])
    p.add_argument("id", nargs="?")
    _common(p, json_flag=True)
    p.set_defaults(handler=budgets_show)

    p = subparsers.add_parser("usage", help="spend and tokens by team, key, model or end user")
    p.add_argument("--by", choices=["team", "key", "model", "user"], default="team")
    p.add_argument("--period", help="a month: 2026-11 (default: this month, UTC)")
    _common(p, json_flag=True)
    p.set_defaults(handler=usage)
