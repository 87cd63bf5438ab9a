"""Bytecode for the Lambda runtime's Python in every asset that ships Python sources.

Lambda's `/opt` and `/var/task` are read-only, so an asset without `.pyc` is compiled again at
every cold start (docs/DESIGN.md §8). Each `.py` gets `__pycache__/<name>.cpython-313.pyc`, written
by a CPython 3.13 (`infra/python313.py`) in `unchecked-hash` mode: the loader uses it without
comparing the source's mtime (zip archives do not keep one worth trusting) or hashing the source.
Tracebacks name the file where Lambda sees it (`/opt/python/...`, `/var/task/...`).

`Bytecode` is decided once per synth: whether compilation happens is part of every asset hash,
so a sources-only build and a compiled one can never share an upload.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from infra.python313 import CACHE_TAG, Interpreter, RegistryUnreachable, Unavailable, find
from infra.settings import BytecodeMode

# Runs inside the 3.13 interpreter: compile the listed files, report counts (a file a package
# ships that does not compile, e.g. a Python 2 test fixture, is skipped and counted, as compileall does).
_DRIVER = r"""
import json, py_compile, sys
listing, prefix_from, prefix_to = sys.argv[1:4]
done = failed = 0
for line in open(listing, encoding="utf-8"):
    path = line.rstrip("\n")
    try:
        py_compile.compile(path, dfile=prefix_to + path[len(prefix_from):], doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        done += 1
    except (py_compile.PyCompileError, SyntaxError, UnicodeDecodeError, ValueError):
        failed += 1
print(json.dumps({"compiled": done, "failed": failed}))
"""


class BytecodeError(RuntimeError):
    """Compilation was required and could not run."""


@dataclass
class Bytecode:
    """How this synth treats Python assets; `tag` goes into every asset hash."""

    mode: BytecodeMode
    interpreter: Interpreter | None = None
    reason: str = ""  # why there is no interpreter (auto mode), for the warning
    registry_unreachable: bool = False
    stats: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def resolve(cls, mode: BytecodeMode) -> Bytecode:
        """Find the interpreter now (asset hashes depend on it); raise BytecodeError if required and none."""
        if mode in ("off", "docker"):
            return cls(mode)
        try:
            return cls(mode, interpreter=find())
        except Unavailable as exc:
            if mode == "required":
                raise BytecodeError(f"bytecode=required but no CPython 3.13 is available: {exc}") from exc
            return cls(mode, reason=str(exc), registry_unreachable=isinstance(exc, RegistryUnreachable))

    @property
    def tag(self) -> str:
        if self.interpreter is not None:
            return f"{CACHE_TAG}-unchecked-hash"
        return f"docker-{CACHE_TAG}-unchecked-hash" if self.mode == "docker" else "sources-only"

    @property
    def local(self) -> bool:
        """Local bundling produces what `tag` promises (docker mode leaves it to CDK's image)."""
        return self.mode != "docker"

    def warning(self) -> str | None:
        if self.mode != "auto" or self.interpreter is not None:
            return None
        return ("no CPython 3.13 to compile bytecode with, so the assets ship sources only and every cold start "
                f"compiles them (about 0.5 s more); {self.reason}. Set AIGW_PYTHON313, or -c bytecode=docker.")

    def compile(self, directory: Path, *, runtime_path: str, label: str) -> dict[str, int]:
        """Compile every .py under `directory` as if it lived at `runtime_path` on Lambda."""
        if self.interpreter is None:
            return {"compiled": 0, "failed": 0}
        stats = compile_tree(self.interpreter, directory, runtime_path=runtime_path)
        self.stats[label] = stats
        return stats


def docker_compile_command(target: str, runtime_path: str) -> str:
    """The same compilation inside CDK's bundling image (which is python3.13)."""
    return f"python -m compileall -q -j 0 --invalidation-mode unchecked-hash -d {runtime_path} {target}"


def compile_tree(interpreter: Interpreter, directory: Path, *, runtime_path: str,
                 workers: int | None = None) -> dict[str, int]:
    sources = sorted(str(p) for p in directory.rglob("*.py") if "__pycache__" not in p.parts)
    if not sources:
        return {"compiled": 0, "failed": 0}
    workers = max(1, min(workers or os.cpu_count() or 1, 4, len(sources)))
    totals = {"compiled": 0, "failed": 0}
    with tempfile.TemporaryDirectory(prefix="aigw-pyc-") as work:
        processes = []
        for index in range(workers):
            listing = Path(work) / f"files-{index}.txt"
            listing.write_text("".join(f"{path}\n" for path in sources[index::workers]), encoding="utf-8")
            processes.append(subprocess.Popen(
                [*interpreter.argv, "-I", "-c", _DRIVER, str(listing), str(directory), runtime_path],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for process in processes:
            out, err = process.communicate(timeout=900)
            if process.returncode != 0:
                raise BytecodeError(f"compiling {directory} with {interpreter.origin} failed: {err[-2000:]}")
            for key, value in json.loads(out.strip().splitlines()[-1]).items():
                totals[key] += int(value)
    return totals


def main(argv: list[str] | None = None) -> int:
    """`python -m infra.bytecode DIR RUNTIME_PATH`: compile one tree by hand (and fetch the interpreter)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m infra.bytecode DIR RUNTIME_PATH", file=sys.stderr)
        return 2
    stats = compile_tree(find(), Path(args[0]).resolve(), runtime_path=args[1])
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
