"""A CPython of the Lambda runtime's minor version (3.13), to compile the bytecode the assets ship.

Bytecode is only valid for the minor version that wrote it (its magic number), so the synth
machine's own Python (3.11 here) cannot produce it. Looked for, in order:

1. `$AIGW_PYTHON313`: an explicit interpreter (a path or a command line); if it is not a
   working 3.13 that is an error, not a fallback.
2. `python3.13` on PATH, if it runs (a pyenv shim for a version that is not selected does not).
3. Debian 13's own `python3.13`, run through Debian 13's own dynamic loader and libc, extracted
   with `dpkg -x` into a per-user cache (`infra/debian_python.py`); nothing on the system changes.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass

TARGET = (3, 13)
CACHE_TAG = "cpython-313"
ENV_PYTHON = "AIGW_PYTHON313"
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


def find(*, fetch: bool = True) -> Interpreter:
    """The first working CPython 3.13 of the list in the module doc; raise Unavailable if none."""
    explicit = os.environ.get(ENV_PYTHON)
    if explicit:
        found = probe(tuple(shlex.split(explicit)), f"${ENV_PYTHON}")
        if found is None:
            raise Unavailable(f"${ENV_PYTHON}={explicit!r} is not a working CPython 3.13")
        return found
    on_path = shutil.which("python3.13")
    if on_path:
        found = probe((on_path,), f"{on_path} (PATH)")
        if found is not None:
            return found
    from infra import debian_python

    return debian_python.interpreter(fetch=fetch)
