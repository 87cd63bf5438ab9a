"""`aigw dev` as a user runs it: a subprocess with embedded moto, a seeded key, a config
whose `openai` credential comes from AIGW_SECRET_OPENAI through local Secrets Manager."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

DEV_KEY = "sk-aigw-devcommandtest000000000000000000000000000"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_dev(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "aigw.cli", "dev", "--port", str(port), *args],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"aigw dev exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("aigw dev did not start")


@pytest.fixture
def stop() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def test_defaults_mock_models_and_a_printed_key(stop: list[Any]) -> None:
    proc, url = start_dev([], {"AIGW_DEV_KEY": ""})
    stop.append(proc)
    assert proc.stdout is not None
    key = proc.stdout.readline().strip()
    assert key.startswith("sk-aigw-") and len(key) >= 40
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    assert {m.id for m in client.models.list()} == {"mock-fast", "mock-stream", "mock-embed"}
    words = [c.choices[0].delta.content for c in client.chat.completions.create(
        model="mock-stream", messages=[{"role": "user", "content": "count to three"}], stream=True) if c.choices]
    assert len([w for w in words if w]) > 5  # streamed word by word
    reply = client.chat.completions.create(model="mock-fast", messages=[{"role": "user", "content": "hi"}])
    assert reply.usage is not None and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0


def test_config_file_seeded_key_and_local_secret(stop: list[Any], fake_openai: Any, tmp_path: Path) -> None:
    config = {"models": [{"name": "gpt-4o-mini", "deployments": [
        {"provider": "openai", "model": "gpt-4o-mini", "api_base": fake_openai.base_url, "credentials": "openai"}]}]}
    path = tmp_path / "aigw.json"
    path.write_text(json.dumps(config))
    proc, url = start_dev(["--config", str(path)], {"AIGW_DEV_KEY": DEV_KEY, "AIGW_SECRET_OPENAI": "sk-local-upstream"})
    stop.append(proc)
    assert proc.stdout is not None and proc.stdout.readline().strip() == DEV_KEY
    client = openai.OpenAI(base_url=url + "/v1", api_key=DEV_KEY, max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert fake_openai.calls[-1].headers["authorization"] == "Bearer sk-local-upstream"


def test_bad_config_fails_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - name: x\n    deployments: [{provider: openai, model: no-such-model}]\n")
    result = subprocess.run([sys.executable, "-m", "aigw.cli", "dev", "--config", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "no price for: x -> openai/no-such-model" in result.stderr
    assert "Traceback" not in result.stderr
