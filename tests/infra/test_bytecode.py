"""Finding a CPython 3.13 and what happens without one (no network here: the synth test fetches)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk.assertions import Annotations, Match

from infra import bytecode, debian_python, python313
from infra.bytecode import Bytecode, BytecodeError
from infra.settings import ROOT
from tests.infra.conftest import GATEWAY_HANDLER, function, synthesize


def _fake_python(tmp_path: Path, answer: str) -> Path:
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\necho '{answer}'\n")
    script.chmod(0o755)
    return script


def test_probe_accepts_only_cpython_313(tmp_path: Path) -> None:
    assert python313.probe((sys.executable,), "this one") is None or sys.version_info[:2] == (3, 13)
    found = python313.probe((str(_fake_python(tmp_path, "3 13 cpython-313 3.13.9")),), "fake")
    assert found is not None and found.version == "3.13.9"
    assert python313.probe((str(_fake_python(tmp_path, "3 12 cpython-312 3.12.1")),), "fake") is None
    assert python313.probe((str(tmp_path / "missing"),), "none") is None


def test_an_explicit_interpreter_that_is_not_313_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(python313.ENV_PYTHON, sys.executable)
    if sys.version_info[:2] != (3, 13):
        with pytest.raises(python313.Unavailable, match=r"not a working CPython 3\.13"):
            python313.find()


def test_mirror_comes_from_the_machines_own_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    (parts / "debian.sources").write_text("Types: deb\n# a comment\nURIs: http://mirror.example/debian\n"
                                          "Suites: bookworm\nComponents: main\n")
    monkeypatch.setattr(debian_python, "APT_SOURCES", (parts, tmp_path / "sources.list"))
    assert debian_python.mirror() == "http://mirror.example/debian"
    (parts / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://other.example/debian/ bookworm main\n")
    assert debian_python.mirror() == "http://other.example/debian"
    (tmp_path / "sources.list").write_text("deb http://archive.example/ubuntu noble main\n")
    with pytest.raises(python313.Unavailable, match="no Debian mirror"):
        debian_python.mirror()


def test_an_unreachable_registry_is_told_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """apt-get update exits 0 with only warnings when the mirror is down: the missing lists tell."""
    if not (Path("/usr/bin/apt-get").exists() and Path("/usr/bin/dpkg").exists()):
        pytest.skip("not a Debian machine")
    keyring = tmp_path / "keyring.gpg"
    keyring.write_bytes(b"")
    monkeypatch.setattr(debian_python, "KEYRINGS", (keyring,))
    monkeypatch.setattr(debian_python, "mirror", lambda: "http://mirror.invalid/debian")
    down = "W: Failed to fetch http://mirror.invalid/debian/dists/trixie/InRelease  Could not resolve 'mirror.invalid'"
    monkeypatch.setattr(debian_python, "_apt", lambda command, cwd: subprocess.CompletedProcess(command, 0, "", down))
    with pytest.raises(python313.RegistryUnreachable, match="did not answer"):
        debian_python._fetch(tmp_path / "root", "amd64")
    broken = "E: The repository does not have a Release file."
    monkeypatch.setattr(debian_python, "_apt",
                        lambda command, cwd: subprocess.CompletedProcess(command, 100, "", broken))
    with pytest.raises(python313.Unavailable) as raised:
        debian_python._fetch(tmp_path / "root", "amd64")
    assert not isinstance(raised.value, python313.RegistryUnreachable)


def _no_python(reason: python313.Unavailable) -> object:
    def find() -> python313.Interpreter:
        raise reason
    return find


def test_modes_without_an_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bytecode, "find", _no_python(python313.RegistryUnreachable("registry down")))
    auto = Bytecode.resolve("auto")
    assert auto.tag == "sources-only" and auto.registry_unreachable
    assert "registry down" in (auto.warning() or "") and "sources only" in (auto.warning() or "")
    with pytest.raises(BytecodeError, match="bytecode=required"):
        Bytecode.resolve("required")
    assert Bytecode.resolve("off").warning() is None and Bytecode.resolve("off").tag == "sources-only"
    docker = Bytecode.resolve("docker")
    assert docker.tag == "docker-cpython-313-unchecked-hash" and not docker.local


def test_auto_without_an_interpreter_warns_and_ships_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bytecode, "find", _no_python(python313.Unavailable("no dpkg here")))
    synth = synthesize(tmp_path / "out", ROOT / "examples" / "aigw.yaml", bytecode="auto")
    warnings = Annotations.from_stack(synth.stack).find_warning("*", Match.string_like_regexp("no CPython 3.13"))
    assert len(warnings) == 1 and "no dpkg here" in str(warnings[0].entry.data)
    code = synth.asset_dir(function(synth, GATEWAY_HANDLER)[1]["Code"]["S3Key"])
    assert (code / "aigw" / "gateway.py").exists() and not list(code.rglob("*.pyc"))
