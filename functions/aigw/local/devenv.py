"""The dev key, the admin token and the URLs of a running `aigw dev`, as shell lines.

`aigw dev` prints them once in its banner and, unless `--ephemeral`, writes them to
`<state dir>/env` (mode 0600) so that another shell can `source .aigw/env`, and so that a
restart keeps the same key and token (the key's record, only its hash, is in the saved state).
The official SDKs read `OPENAI_BASE_URL`/`OPENAI_API_KEY` and `ANTHROPIC_BASE_URL`/
`ANTHROPIC_API_KEY`, so after sourcing, `OpenAI()` and `Anthropic()` need no arguments.
"""

from __future__ import annotations

import os
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path

from aigw.names import ENV_ADMIN_TOKEN, ENV_DEV_KEY, ENV_URL

ENV_FILE = "env"


@dataclass(frozen=True)
class DevCredentials:
    key: str | None  # None: generate one (the first run)
    admin_token: str


def resolve(state_dir: Path | None) -> DevCredentials:
    """The environment wins, then what the last run saved, then fresh values."""
    saved = read_env_file(state_dir / ENV_FILE) if state_dir else {}
    key = os.environ.get(ENV_DEV_KEY) or saved.get(ENV_DEV_KEY) or None
    token = os.environ.get(ENV_ADMIN_TOKEN) or saved.get(ENV_ADMIN_TOKEN) or \
        "aigw-admin-" + secrets.token_urlsafe(24)
    return DevCredentials(key=key, admin_token=token)


def shell_lines(url: str, key: str, admin_token: str) -> list[str]:
    """`export` lines, the secrets written once (the SDK variables refer to them)."""
    values = [(ENV_URL, url), (ENV_DEV_KEY, key), (ENV_ADMIN_TOKEN, admin_token), ("OPENAI_BASE_URL", url + "/v1")]
    lines = [f"export {name}={shlex.quote(value)}" for name, value in values]
    lines += [f'export OPENAI_API_KEY="${ENV_DEV_KEY}"', f"export ANTHROPIC_BASE_URL={shlex.quote(url)}",
              f'export ANTHROPIC_API_KEY="${ENV_DEV_KEY}"']
    return lines


def write_env_file(state_dir: Path, lines: list[str]) -> Path:
    path = state_dir / ENV_FILE
    state_dir.mkdir(parents=True, exist_ok=True)
    ignore = state_dir / ".gitignore"
    if not ignore.exists():  # the directory holds the dev key: never commit it
        ignore.write_text("# Written by `aigw dev`: local state and the dev key, not for version control.\n*\n")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("# Written by `aigw dev` at each start: `source` this file in another shell.\n")
        out.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)  # also when the file existed with other permissions
    return path


def read_env_file(path: Path) -> dict[str, str]:
    """NAME -> value of the `export NAME=value` lines with literal values."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        head, _, raw = line.partition("=")
        if not head.startswith("export ") or ("$" in raw and not raw.startswith("'")):
            continue  # not ours, or a reference such as "$AIGW_DEV_KEY" (shlex.quote single-quotes literals)
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            values[name] = value
    return values
