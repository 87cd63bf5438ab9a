"""`aigw dev` as a user runs it: a subprocess with embedded moto, a banner with the dev key
and admin token on stdout, log lines on stderr or in a file, state kept across restarts."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import pytest

DEV_KEY = "sk-aigw-devcommandtest000000000000000000000000000"
EXPORT = re.compile(r"^export (\w+)=(\S+)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dev:
    proc: subprocess.Popen[str]
    url: str
    exports: dict[str, str]
    stdout: list[str]
    stderr: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.exports["AIGW_DEV_KEY"]

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=self.key, max_retries=0)

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "AIGW_URL": self.url, "AIGW_ADMIN_TOKEN": self.exports["AIGW_ADMIN_TOKEN"]}
        return subprocess.run([sys.executable, "-m", "aigw.cli", *argv], env=env, capture_output=True, text=True,
                              timeout=60)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)


def start_dev(args: list[str], env: dict[str, str] | None = None, *, port: int | None = None) -> Dev:
    """Start `aigw dev` and read its banner: stdout ends the banner with a rule after the exports."""
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "aigw.cli", "dev", "--port", str(port), *args],
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stderr is not None
    dev = Dev(proc, f"http://127.0.0.1:{port}", {}, [])
    threading.Thread(target=lambda: dev.stderr.extend(proc.stderr or []), daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=10)
            raise AssertionError(f"aigw dev exited: {''.join(dev.stderr)}")
        dev.stdout.append(line.rstrip("\n"))
        match = EXPORT.match(line.strip())
        if match:
            dev.exports[match.group(1)] = match.group(2)
        elif dev.exports and line.startswith("---"):
            threading.Thread(target=lambda: dev.stdout.extend(proc.stdout or []), daemon=True).start()
            return dev
    proc.kill()
    raise AssertionError("aigw dev printed no banner")


@pytest.fixture
def devs() -> Iterator[list[Dev]]:
    started: list[Dev] = []
    yield started
    for dev in started:
        dev.stop()


def test_defaults_mock_models_a_banner_and_logs_on_stderr(devs: list[Dev], tmp_path: Path) -> None:
    dev = start_dev(["--ephemeral"], {"AIGW_DEV_KEY": "", "AIGW_ADMIN_TOKEN": ""})
    devs.append(dev)
    assert dev.key.startswith("sk-aigw-") and len(dev.key) >= 40
    assert dev.exports["AIGW_ADMIN_TOKEN"].startswith("aigw-admin-") and dev.exports["AIGW_URL"] == dev.url
    assert dev.exports["OPENAI_BASE_URL"] == dev.url + "/v1" and dev.exports["OPENAI_API_KEY"] == '"$AIGW_DEV_KEY"'
    assert sum(dev.key in line for line in dev.stdout) == 1  # printed once
    client = dev.client()
    assert {m.id for m in client.models.list()} == {"mock-fast", "mock-stream", "mock-embed"}
    words = [c.choices[0].delta.content for c in client.chat.completions.create(
        model="mock-stream", messages=[{"role": "user", "content": "count to three"}], stream=True) if c.choices]
    assert len([w for w in words if w]) > 5  # streamed word by word
    reply = client.chat.completions.create(model="mock-fast", messages=[{"role": "user", "content": "hi"}])
    assert reply.usage is not None and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    deadline = time.monotonic() + 5
    while not any('"message":"request"' in line for line in dev.stderr) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any('"message":"request"' in line for line in dev.stderr)  # the log lines are on stderr...
    assert not any(line.startswith("{") for line in dev.stdout)  # ... never mixed into stdout


def test_a_log_file_takes_the_request_lines(devs: list[Dev], tmp_path: Path) -> None:
    log = tmp_path / "logs" / "aigw.jsonl"
    dev = start_dev(["--ephemeral", "--log-file", str(log)])
    devs.append(dev)
    dev.client().chat.completions.create(model="mock-fast", messages=[{"role": "user", "content": "hi"}])
    deadline = time.monotonic() + 5
    while (not log.exists() or '"request"' not in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(r.get("message") == "request" and r["status"] == 200 for r in records)
    assert dev.key not in log.read_text()
    assert not any('"message":"request"' in line for line in dev.stderr + dev.stdout)


def test_config_file_seeded_key_and_local_secret(devs: list[Dev], fake_openai: Any, tmp_path: Path) -> None:
    config = {"models": [{"name": "gpt-4o-mini", "deployments": [
        {"provider": "openai", "model": "gpt-4o-mini", "api_base": fake_openai.base_url, "credentials": "openai"}]}]}
    path = tmp_path / "aigw.json"
    path.write_text(json.dumps(config))
    dev = start_dev(["--config", str(path), "--state-dir", str(tmp_path / "state")],
                    {"AIGW_DEV_KEY": DEV_KEY, "AIGW_SECRET_OPENAI": "sk-local-upstream"})
    devs.append(dev)
    assert dev.key == DEV_KEY
    dev.client().chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert fake_openai.calls[-1].headers["authorization"] == "Bearer sk-local-upstream"
    assert "sk-local-upstream" not in (tmp_path / "state" / "env").read_text()  # provider keys are never saved
    assert not any("sk-local-upstream" in p.read_text() for p in (tmp_path / "state").iterdir() if p.is_file())


def test_state_survives_a_restart_and_a_kill(devs: list[Dev], tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ["--state-dir", str(state)]
    env = {"AIGW_DEV_KEY": "", "AIGW_ADMIN_TOKEN": ""}
    first = start_dev([*args, "--save-interval", "600"], env)  # only the clean stop saves the counters
    devs.append(first)
    assert first.cli("teams", "create", "research", "--budget", "5usd/month").returncode == 0
    created = first.cli("keys", "create", "--team", "research", "--models", "mock-*", "--budget", "1usd/day",
                        "--json")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    team_key = openai.OpenAI(base_url=first.url + "/v1", api_key=key["key"], max_retries=0)
    for _ in range(3):
        team_key.chat.completions.create(model="mock-fast", messages=[{"role": "user", "content": "hello"}])
    spent = json.loads(first.cli("budgets", "show", "key", key["id"], "--json").stdout)["budgets"][0]["spent_usd"]
    assert float(spent) > 0
    first.stop()  # a clean stop (SIGTERM) saves what the last requests spent
    assert first.proc.returncode == 0
    assert oct((state / "env").stat().st_mode)[-3:] == "600" and (state / ".gitignore").read_text().endswith("*\n")

    second = start_dev(args, env)
    devs.append(second)
    assert second.key == first.key and second.exports["AIGW_ADMIN_TOKEN"] == first.exports["AIGW_ADMIN_TOKEN"]
    assert any("restored" in line for line in second.stderr)
    shown = json.loads(second.cli("budgets", "show", "key", key["id"], "--json").stdout)["budgets"][0]
    assert shown["spent_usd"] == spent and shown["reserved_usd"] == "0"  # spend, exactly; nothing left reserved
    usage = json.loads(second.cli("usage", "--by", "team", "--json").stdout)
    assert {r["team"]: r["requests"] for r in usage["rows"]}["research"] == 3
    again = openai.OpenAI(base_url=second.url + "/v1", api_key=key["key"], max_retries=0)
    again.chat.completions.create(model="mock-fast", messages=[{"role": "user", "content": "still here"}])
    second.client().chat.completions.create(model="mock-fast", messages=[{"role": "user", "content": "dev key"}])

    time.sleep(1.5)  # the counters are saved within a second: a kill -9 now loses nothing
    second.stop(signal.SIGKILL)

    third = start_dev([*args, "--save-interval", "600"], env)  # from now on counters are saved only at a clean stop
    devs.append(third)
    usage = json.loads(third.cli("usage", "--by", "team", "--json").stdout)
    assert {r["team"]: r["requests"] for r in usage["rows"]}["research"] == 4
    revoked = third.cli("keys", "revoke", key["id"])
    late = json.loads(third.cli("keys", "create", "--team", "research", "--json").stdout)
    third.stop(signal.SIGKILL)  # admin writes are saved before their answer: kill -9 at once loses neither

    fourth = start_dev(args, env)
    devs.append(fourth)
    assert revoked.returncode == 0
    with pytest.raises(openai.AuthenticationError):
        again.with_options(base_url=fourth.url + "/v1").chat.completions.create(
            model="mock-fast", messages=[{"role": "user", "content": "revoked"}])
    ok = openai.OpenAI(base_url=fourth.url + "/v1", api_key=late["key"], max_retries=0)
    ok.chat.completions.create(model="mock-fast", messages=[{"role": "user", "content": "made just before"}])


def test_ephemeral_starts_empty_and_writes_nothing(devs: list[Dev], tmp_path: Path) -> None:
    dev = start_dev(["--ephemeral", "--state-dir", str(tmp_path / "unused")])
    devs.append(dev)
    assert dev.cli("teams", "create", "gone").returncode == 0
    dev.stop()
    again = start_dev(["--ephemeral", "--state-dir", str(tmp_path / "unused")])
    devs.append(again)
    assert "gone" not in again.cli("teams", "list").stdout and not (tmp_path / "unused").exists()


def test_a_busy_port_and_a_bad_config_fail_with_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "aigw.cli", "dev", "--ephemeral", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in \
        result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - name: x\n    deployments: [{provider: openai, model: no-such-model}]\n")
    result = subprocess.run([sys.executable, "-m", "aigw.cli", "dev", "--config", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "no price for: x -> openai/no-such-model" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_state_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "entities.json").write_text('{"format": "aigw-dev-state/1", "items": [')
    result = subprocess.run([sys.executable, "-m", "aigw.cli", "dev", "--port", str(free_port()), "--state-dir",
                             str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "cannot read" in result.stderr and "--ephemeral" in result.stderr
    assert "Traceback" not in result.stderr


def test_one_state_directory_serves_one_gateway(devs: list[Dev], tmp_path: Path) -> None:
    devs.append(start_dev(["--state-dir", str(tmp_path)]))
    result = subprocess.run([sys.executable, "-m", "aigw.cli", "dev", "--port", str(free_port()), "--state-dir",
                             str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and f"{tmp_path} is in use by aigw dev (pid {devs[0].proc.pid})" in result.stderr
    assert "Traceback" not in result.stderr
