#!/usr/bin/env python3
"""Write the lock and the two layer sets from pyproject.toml's ranges (infra/deps.py says which).

    pip install uv && python scripts/lock.py            # keep current pins where still allowed
    python scripts/lock.py --upgrade                    # move every pin to the newest allowed

1. requirements.lock: `uv pip compile --universal` over the project and all its extras, with
   hashes: what `scripts/test.sh` installs on any machine.
2. layers/deps/<layer>.txt: the layer's roots resolved for the Lambda target (CPython 3.13,
   manylinux aarch64) under the lock as constraints, so every version is the lock's, minus
   what the layers below already carry.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.deps import LAYER_SETS, LOCK, PYTHON_VERSION, ROOT, UV_PLATFORM, LayerSet, normalize, parse

COMMAND = "python scripts/lock.py"


def _uv() -> str:
    found = shutil.which("uv")
    if found is None:
        sys.exit("uv is not on PATH: pip install uv (into any environment), then run again")
    return found


def _ranges() -> dict[str, str]:
    """Every requirement string of pyproject.toml by distribution name (first one wins)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    ranges: dict[str, str] = {}
    for requirement in requirements:
        name = normalize(requirement.split(";")[0].split("[")[0].split(">")[0].split("<")[0].split("=")[0].strip())
        ranges.setdefault(name, requirement)
    return ranges


def _compile(uv: str, args: list[str], output: Path, upgrade: bool) -> None:
    command = [uv, "pip", "compile", *args, "--generate-hashes", "--quiet", "--custom-compile-command", COMMAND,
               "-o", str(output)]
    if upgrade:
        command.append("--upgrade")
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, "UV_NO_CONFIG": "1"})


def _layer(uv: str, layer: LayerSet, ranges: dict[str, str], upgrade: bool) -> None:
    with tempfile.TemporaryDirectory() as work:
        roots = Path(work) / f"{layer.name}.in"
        roots.write_text("".join(f"{ranges[normalize(name)]}\n" for name in layer.roots))
        resolved = Path(work) / f"{layer.name}.txt"
        _compile(uv, [str(roots), "--constraint", str(LOCK), "--python-version", PYTHON_VERSION,
                      "--python-platform", UV_PLATFORM, "--no-annotate"], resolved, upgrade)
        below = {pin.name for other in LAYER_SETS if other.name in layer.below for pin in parse(other.file.read_text())}
        kept: list[str] = [f"# {layer.description}.\n# requirements.lock resolved for CPython {PYTHON_VERSION} on "
                           f"{UV_PLATFORM}, less the layers below ({', '.join(layer.below) or 'none'}).\n",
                           f"# Written by {COMMAND}; do not edit.\n"]
        block: list[str] = []
        for line in resolved.read_text().splitlines(keepends=True):
            if line.startswith("#"):
                continue
            if not line.startswith(" ") and block:
                kept.extend(_keep(block, below))
                block = []
            block.append(line)
        kept.extend(_keep(block, below))
        layer.file.write_text("".join(kept))


def _keep(block: list[str], below: set[str]) -> list[str]:
    if not block:
        return []
    (pin,) = parse("".join(block))
    return [] if pin.name in below else block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upgrade", action="store_true", help="re-resolve every pin to the newest allowed")
    args = parser.parse_args()
    uv = _uv()
    _compile(uv, ["pyproject.toml", "--universal", "--all-extras", "--python-version", "3.11"], LOCK, args.upgrade)
    ranges = _ranges()
    for layer in LAYER_SETS:  # in order: a layer's `below` are written first
        _layer(uv, layer, ranges, upgrade=False)
    print(f"wrote {LOCK.relative_to(ROOT)} and " + ", ".join(str(s.file.relative_to(ROOT)) for s in LAYER_SETS))


if __name__ == "__main__":
    main()
