"""The locked dependency sets: one lock for everything, and the two Lambda layers cut from it.

`requirements.lock` (uv, universal: every platform and Python >= 3.11, with hashes) is what
the dev and CI install uses (`scripts/test.sh`). Each layer's file under `layers/deps/` is the
same lock resolved for the Lambda target (CPython 3.13, manylinux aarch64) and cut to what one
function imports; `scripts/lock.py` writes all three, and `tests/infra/test_lock.py` checks that
every layer pin is the lock's pin. Only this module decides what goes where:

- base (both functions): pydantic, boto3, Powertools and what they pull in;
- gateway (the gateway only, on top of base): Starlette, httpx, tiktoken, uvicorn, uvloop,
  httptools, PyYAML and what they pull in beyond base. The admin function carries none of these.
`tests/infra/test_layer_imports.py` runs each function with only its layers importable.

A layer's asset hash is the hash of its locked set (names, versions, hashes) plus the target
platform and the bytecode mode, so the same lock always gives the same layer and a changed lock
always uploads a new one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
LAYER_DIR = ROOT / "layers" / "deps"

PYTHON_VERSION = "3.13"
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): manylinux2014 and 2_28 wheels both load.
PIP_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
UV_PLATFORM = "aarch64-manylinux_2_28"  # the same target, as `uv pip compile --python-platform` names it


@dataclass(frozen=True)
class LayerSet:
    name: str
    roots: tuple[str, ...]  # distribution names, their version ranges taken from pyproject.toml
    description: str
    below: tuple[str, ...] = ()  # layers this one sits on: their packages are left out of it

    @property
    def file(self) -> Path:
        return LAYER_DIR / f"{self.name}.txt"


BASE = LayerSet("base", ("pydantic", "boto3", "aws-lambda-powertools"),
                "aigw base dependencies: pydantic, boto3, Powertools")
GATEWAY = LayerSet("gateway", ("starlette", "httpx", "tiktoken", "uvicorn", "uvloop", "httptools", "pyyaml"),
                   "aigw gateway dependencies: starlette, httpx, tiktoken, uvicorn, uvloop", below=("base",))
LAYER_SETS: tuple[LayerSet, ...] = (BASE, GATEWAY)


@dataclass(frozen=True)
class Pin:
    name: str  # normalized (PEP 503)
    version: str
    marker: str  # "" when unconditional
    hashes: frozenset[str]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(text: str) -> list[Pin]:
    """The pins of a `uv pip compile --generate-hashes` file (continuation lines joined)."""
    pins: list[Pin] = []
    joined = re.sub(r"\\\n\s*", " ", text)
    for line in joined.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        hashes = frozenset(re.findall(r"--hash=(sha256:[0-9a-f]{64})", line))
        requirement = re.sub(r"\s*--hash=\S+", "", line).strip()
        spec, _, marker = requirement.partition(";")
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)", spec.strip())
        if match is None:
            raise ValueError(f"not a pinned requirement: {line!r}")
        pins.append(Pin(normalize(match.group(1)), match.group(2), marker.strip(), hashes))
    return pins


def asset_hash(layer_text: str, *, bytecode_tag: str) -> str:
    """The layer's asset hash: its locked set, the target platform, and how its Python is compiled."""
    pins = sorted((p.name, p.version, p.marker, sorted(p.hashes)) for p in parse(layer_text))
    identity = {"pins": pins, "python": PYTHON_VERSION, "implementation": "cp", "platforms": list(PIP_PLATFORMS),
                "bytecode": bytecode_tag}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
