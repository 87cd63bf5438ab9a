"""The README's examples for `aigw dev`, run verbatim: the server started as the README says
(`bash scripts/dev.sh`), every bash and Python block of "Running locally", the admin and the
Responses sections run in a second shell at the top of a checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.functional.test_dev_command import free_port

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", re.S | re.M)


def blocks(section: str) -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    body = text.split(f"<!-- section:{section} -->", 1)[1].split(f"<!-- /section:{section} -->", 1)[0]
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(body)]


def test_the_local_examples_run_verbatim(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "scripts").symlink_to(ROOT / "scripts")
    venv = Path(sys.prefix)
    assert (venv / "bin" / "aigw").exists(), "the test environment has no `aigw` console script"
    env = {**os.environ, "AIGW_VENV": str(venv), "AIGW_DEV_KEY": "", "AIGW_ADMIN_TOKEN": "", "AIGW_URL": ""}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"  # `python` is the test's, with the openai SDK
    server = subprocess.Popen(["bash", "scripts/dev.sh", "--port", str(free_port())], cwd=checkout, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        for line in server.stdout:  # the banner ends with a rule after its export lines
            if line.startswith("---") and (checkout / ".aigw" / "env").exists():
                break
        else:
            raise AssertionError("aigw dev printed no banner")
        examples = blocks("local") + blocks("admin") + blocks("responses")
        assert [lang for lang, _ in examples].count("python") >= 2 and len(examples) >= 4
        outputs = []
        for lang, code in examples:
            if lang == "bash":
                command = ["bash", "-c", "set -euo pipefail\n" + code]
            else:
                command = ["bash", "-c", "source .aigw/env && exec python -c \"$0\"", code]
            result = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, f"README example failed:\n{code}\n{result.stdout}\n{result.stderr}"
            outputs.append(result.stdout)
    finally:
        server.terminate()
        server.wait(timeout=20)
    everything = "\n".join(outputs)
    assert "data: [DONE]" in everything and "Mock answer from mock-fast" in everything
    assert "name='mock name'" in everything  # the pydantic example parsed the mock's JSON
    assert '"id":"mock-fast"' in everything.replace(" ", "")  # the new key may use the mock models
    assert re.search(r"^key_research_web\s", everything, re.M) and "budgets of team research (" in everything
    assert re.search(r"^dev\s+local development", everything, re.M)  # `aigw teams list`
