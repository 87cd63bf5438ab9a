"""The dev key and admin token across runs: the environment wins, then the saved file; the
file is private, re-readable, and sourcing it in a shell gives the same values."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from aigw.local import devenv


def test_lines_round_trip_through_the_file_and_a_shell(tmp_path: Path) -> None:
    key = "sk-aigw-with'quote and space$HOME"
    lines = devenv.shell_lines("http://127.0.0.1:9", key, "aigw-admin-x")
    path = devenv.write_env_file(tmp_path / "state", lines)
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert (tmp_path / "state" / ".gitignore").read_text().splitlines()[-1] == "*"
    saved = devenv.read_env_file(path)
    assert saved["AIGW_DEV_KEY"] == key and saved["AIGW_ADMIN_TOKEN"] == "aigw-admin-x"
    assert "OPENAI_API_KEY" not in saved  # it refers to AIGW_DEV_KEY: the secret is written once
    shell = subprocess.run(["bash", "-c", f"source {path} && printf '%s\\n' \"$OPENAI_API_KEY\" \"$OPENAI_BASE_URL\" "
                            "\"$ANTHROPIC_API_KEY\" \"$AIGW_URL\""], capture_output=True, text=True, check=True,
                           env={"PATH": os.environ["PATH"], "HOME": "/nowhere"})
    assert shell.stdout.splitlines() == [key, "http://127.0.0.1:9/v1", key, "http://127.0.0.1:9"]  # exact


def test_the_environment_wins_then_the_saved_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIGW_DEV_KEY", raising=False)
    monkeypatch.delenv("AIGW_ADMIN_TOKEN", raising=False)
    fresh = devenv.resolve(tmp_path)
    assert fresh.key is None and fresh.admin_token.startswith("aigw-admin-")
    assert devenv.resolve(tmp_path).admin_token != fresh.admin_token  # nothing saved yet: new each time
    devenv.write_env_file(tmp_path, devenv.shell_lines("http://h:1", "sk-aigw-saved", "tok-saved"))
    assert devenv.resolve(tmp_path) == devenv.DevCredentials(key="sk-aigw-saved", admin_token="tok-saved")
    monkeypatch.setenv("AIGW_DEV_KEY", "sk-aigw-env")
    monkeypatch.setenv("AIGW_ADMIN_TOKEN", "tok-env")
    assert devenv.resolve(tmp_path) == devenv.DevCredentials(key="sk-aigw-env", admin_token="tok-env")
    assert devenv.resolve(None).key == "sk-aigw-env"  # --ephemeral reads no file
    (tmp_path / "env").write_text("export AIGW_DEV_KEY='unterminated\nrm -rf /\n")
    monkeypatch.delenv("AIGW_DEV_KEY")
    assert devenv.resolve(tmp_path).key is None  # a damaged file is ignored, never executed
