"""What a CPython of the Lambda runtime's minor version is, and how to tell one (`probe`).

Shared by the finder (`infra/python313.py`) and the Debian 13 route (`infra/debian_python.py`).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

TARGET = (3, 13)
CACHE_TAG = "cpython-313"
_PROBE = ("import sys; v = sys.version_info; "
          "print(v[0], v[1], sys.implementation.cache_tag, sys.version.split()[0])")


class Unavailable(RuntimeError):
    """No CPython 3.13 could be found or fetched; the message says why."""


class RegistryUnreachable(Unavailable):
    """Fetching Debian 13's packages failed because the package registry did not answer."""


@dataclass(frozen=True)
class Interpreter:
    argv: tuple[str, ...]  # the command that starts it (a loader invocation for the Debian build)
    version: str  # e.g. "3.13.5"
    origin: str  # how it was found, for messages


def probe(argv: tuple[str, ...], origin: str) -> Interpreter | None:
    """`argv` as an Interpreter if it runs and is CPython 3.13, else None."""
    try:
        result = subprocess.run([*argv, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = result.stdout.split()
    if result.returncode != 0 or len(parts) != 4:
        return None
    major, minor, tag, version = parts
    if (int(major), int(minor)) != TARGET or tag != CACHE_TAG:
        return None
    return Interpreter(argv=argv, version=version, origin=origin)
