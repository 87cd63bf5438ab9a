"""The real thing: `cdk synth` with the npm CLI, the real pip-built layer, and no Docker.

Slow (pip downloads the arm64 wheels from PyPI), so it runs once. Skipped only on a machine
without `node_modules/.bin/cdk` outside CI; under CI (`CI` set) a missing CLI is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.settings import ROOT
from tests.infra.conftest import flatten

CDK = ROOT / "node_modules" / ".bin" / "cdk"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CDK.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CDK} is missing: scripts/test.sh installs it (npm install aws-cdk@2.1148)")
        pytest.skip(f"{CDK} is missing and CI is not set: run `npm install --no-save aws-cdk@2.1148`")
    outdir = tmp_path_factory.mktemp("cdk-synth")
    python = VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    env.update(AWS_EC2_METADATA_DISABLED="true", CDK_DISABLE_CLI_TELEMETRY="true", CDK_DOCKER="/nonexistent/docker")
    started = time.monotonic()
    result = subprocess.run(
        [str(CDK), "synth", "--app", f"{python} app.py", "-c", "config=examples/aigw.yaml", "-o", str(outdir),
         "--quiet", "--no-notices", "--no-version-reporting"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    print(f"cdk synth took {time.monotonic() - started:.1f}s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return outdir


def _template(assembly: Path) -> dict[str, object]:
    return json.loads((assembly / "aigw.template.json").read_text())


def _layer_dir(assembly: Path, description_prefix: str) -> Path:
    resources = _template(assembly)["Resources"]
    assert isinstance(resources, dict)
    (layer,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::LayerVersion"
                and r["Properties"]["Description"].startswith(description_prefix)]
    return assembly / f"asset.{layer['Content']['S3Key'].removesuffix('.zip')}"


@pytest.mark.synth
def test_cdk_synth_writes_the_streaming_integration(assembly: Path) -> None:
    resources = _template(assembly)["Resources"]
    assert isinstance(resources, dict)
    streamed = [r["Properties"]["Integration"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method"
                and r["Properties"]["Integration"].get("ResponseTransferMode") == "STREAM"]
    assert len(streamed) == 2  # /v1/{proxy+} and /health
    for integration in streamed:
        assert integration["TimeoutInMillis"] == 900_000
        assert str(flatten(integration["Uri"])).endswith("/response-streaming-invocations")


@pytest.mark.synth
def test_dependency_layer_is_built_for_arm64_cpython313(assembly: Path) -> None:
    python = _layer_dir(assembly, "aigw runtime dependencies") / "python"
    for package in ("pydantic_core", "tiktoken", "yaml"):
        binaries = [p.name for p in (python / package).glob("*.so")]
        assert binaries, f"no compiled module in {package}"
        assert all("cpython-313-aarch64-linux-gnu" in name for name in binaries), binaries
    for package in ("pydantic", "httpx", "boto3", "aws_lambda_powertools", "starlette", "uvicorn"):
        assert (python / package / "__init__.py").exists(), package
    assert not list(python.rglob("__pycache__"))  # --no-compile: the host's bytecode would be useless


@pytest.mark.synth
def test_config_layer_and_nag_report(assembly: Path) -> None:
    config = _layer_dir(assembly, "the validated gateway config") / "aigw" / "config.json"
    assert json.loads(config.read_text())["models"]
    report = json.loads((assembly / "validation-report.json").read_text())
    assert all(plugin.get("conclusion") != "failure" for plugin in report.get("pluginReports", []))
