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

from infra import debian_python
from infra.interpreter import CACHE_TAG, TARGET, Interpreter, RegistryUnreachable, Unavailable, probe

__all__ = ["CACHE_TAG", "ENV_PYTHON", "TARGET", "Interpreter", "RegistryUnreachable", "Unavailable", "find", "probe"]

ENV_PYTHON = "AIGW_PYTHON313"


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
    return debian_python.interpreter(fetch=fetch)
