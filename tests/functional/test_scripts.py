"""scripts/aigw and scripts/dev.sh as a user runs them: an existing virtualenv is used as is,
and a Python that cannot create one is one clear line (the real first-run install needs the
package index; README "Running locally" describes it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "scripts" / script), *args], env={**os.environ, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def fake_venv(tmp_path: Path) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    aigw = venv / "bin" / "aigw"
    aigw.write_text('#!/usr/bin/env bash\necho "aigw $* in $PWD"\n')
    aigw.chmod(0o755)
    return venv


def test_an_existing_virtualenv_is_used_from_any_directory(tmp_path: Path) -> None:
    venv = fake_venv(tmp_path)
    result = run("aigw", "keys", "list", "--json", env={"AIGW_VENV": str(venv)}, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == f"aigw keys list --json in {tmp_path}"
    assert result.stderr == ""  # nothing to install: no output of its own
    dev = run("dev.sh", "--port", "9999", env={"AIGW_VENV": str(venv)}, cwd=tmp_path)
    assert dev.returncode == 0 and dev.stdout.strip() == f"aigw dev --port 9999 in {ROOT}"  # at the checkout's top


def test_no_usable_python_is_one_clear_line(tmp_path: Path) -> None:
    old = tmp_path / "python-old"
    old.write_text('#!/usr/bin/env bash\n[ "$1" = -V ] && echo "Python 3.9.2" && exit 0\nexit 1\n')
    old.chmod(0o755)
    result = run("aigw", "--help", env={"AIGW_VENV": str(tmp_path / "venv"), "PYTHON": str(old)})
    assert result.returncode == 1 and "needs Python 3.11 or newer" in result.stderr and "Python 3.9.2" in result.stderr
    missing = run("aigw", "--help", env={"AIGW_VENV": str(tmp_path / "venv"), "PYTHON": "no-such-python3"})
    assert missing.returncode == 1 and "no-such-python3 not found" in missing.stderr
    assert not (tmp_path / "venv").exists()
