"""The real thing: `cdk synth` with the npm CLI, the real pip-built layers, bytecode, no Docker.

Slow (pip downloads the arm64 wheels from PyPI), so it runs once. Skipped only on a machine
without `node_modules/.bin/cdk` outside CI; under CI (`CI` set) a missing CLI is a failure.

The bytecode needs a CPython 3.13 (`infra/python313.py`: on these Debian 12 machines, Debian 13's,
fetched once into a cache). The synth then runs with `bytecode=required`. Only when the Debian
package registry does not answer (or, outside CI, when no 3.13 can be had at all) does it run
with `bytecode=auto`, and the bytecode test is skipped with a warning saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from infra import python313
from infra.settings import ROOT
from tests.infra.conftest import flatten

CDK = ROOT / "node_modules" / ".bin" / "cdk"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


PYC_MAGIC_313 = (3571).to_bytes(2, "little") + b"\r\n"  # importlib.util.MAGIC_NUMBER of every CPython 3.13
UNCHECKED_HASH = 1  # PEP 552 flags: hash-based, source never checked


@pytest.fixture(scope="module")
def interpreter() -> python313.Interpreter | None:
    try:
        return python313.find()
    except python313.RegistryUnreachable as exc:
        warnings.warn(f"no bytecode test: the Debian package registry is unreachable ({exc})", stacklevel=1)
        return None
    except python313.Unavailable as exc:
        if os.environ.get("CI"):
            raise  # CI machines are Debian: a 3.13 must be had there
        warnings.warn(f"no bytecode test: no CPython 3.13 on this machine ({exc})", stacklevel=1)
        return None


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory, interpreter: python313.Interpreter | None) -> Path:
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
         "-c", f"bytecode={'required' if interpreter is not None else 'auto'}",
         "--quiet", "--no-notices", "--no-version-reporting"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    print(f"cdk synth took {time.monotonic() - started:.1f}s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return outdir


def _template(assembly: Path) -> dict[str, object]:
    return json.loads((assembly / "aigw.template.json").read_text())


def _resources(assembly: Path) -> dict[str, dict[str, object]]:
    resources = _template(assembly)["Resources"]
    assert isinstance(resources, dict)
    return resources


def _asset(assembly: Path, content: dict[str, str]) -> Path:
    return assembly / f"asset.{content['S3Key'].removesuffix('.zip')}"


def _layer_dir(assembly: Path, description_prefix: str) -> Path:
    (layer,) = [r["Properties"] for r in _resources(assembly).values() if r["Type"] == "AWS::Lambda::LayerVersion"
                and r["Properties"]["Description"].startswith(description_prefix)]  # type: ignore[index]
    return _asset(assembly, layer["Content"])  # type: ignore[index]


def _function_dirs(assembly: Path, handler: str) -> tuple[Path, list[Path]]:
    """(code asset, local layer assets) of the function with this handler."""
    resources = _resources(assembly)
    (props,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"
                and r["Properties"]["Handler"] == handler]  # type: ignore[index]
    layers = [_asset(assembly, resources[layer["Ref"]]["Properties"]["Content"])  # type: ignore[index]
              for layer in props["Layers"] if isinstance(layer, dict) and "Ref" in layer]  # type: ignore[index]
    return _asset(assembly, props["Code"]), layers  # type: ignore[index]


def _size_mb(directory: Path) -> float:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 1e6


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
def test_dependency_layers_are_built_for_arm64_cpython313(assembly: Path) -> None:
    base = _layer_dir(assembly, "aigw base dependencies") / "python"
    gateway = _layer_dir(assembly, "aigw gateway dependencies") / "python"
    for layer, package in ((base, "pydantic_core"), (gateway, "tiktoken"), (gateway, "yaml"), (gateway, "uvloop")):
        binaries = [p.name for p in (layer / package).rglob("*.so")]
        assert binaries, f"no compiled module in {package}"
        assert all("cpython-313-aarch64-linux-gnu" in name for name in binaries), binaries
    for package in ("pydantic", "boto3", "aws_lambda_powertools"):
        assert (base / package / "__init__.py").exists(), package
    for package in ("starlette", "httpx", "uvicorn", "uvloop", "httptools", "tiktoken"):
        assert (gateway / package / "__init__.py").exists(), package
        assert not (base / package).exists(), f"{package} is in the base layer the admin function loads"
    assert not {p.name for p in base.iterdir()} & {p.name for p in gateway.iterdir()} - {"bin"}


@pytest.mark.synth
def test_each_function_carries_only_what_it_imports(assembly: Path) -> None:
    sizes = {}
    for name, handler in (("gateway", "gateway/run.sh"), ("admin", "admin.main.handler")):
        code, layers = _function_dirs(assembly, handler)
        sizes[name] = {directory.name[6:18]: round(_size_mb(directory), 1) for directory in (code, *layers)}
        names = {p.name for layer in layers for p in (layer / "python").glob("*")}
        if name == "admin":
            assert not names & {"starlette", "uvicorn", "uvloop", "tiktoken", "httpx", "httptools", "yaml", "regex"}
    print(f"unzipped MB per asset: {json.dumps(sizes)}")
    assert sum(sizes["admin"].values()) < sum(sizes["gateway"].values()) - 20


@pytest.mark.synth
def test_every_python_asset_has_cpython313_unchecked_hash_bytecode(
        assembly: Path, interpreter: python313.Interpreter | None) -> None:
    if interpreter is None:
        pytest.skip("no CPython 3.13 could be had (see the warning): the assets ship sources only")
    for label, directory in (("base layer", _layer_dir(assembly, "aigw base dependencies")),
                             ("gateway layer", _layer_dir(assembly, "aigw gateway dependencies")),
                             ("function code", _function_dirs(assembly, "gateway/run.sh")[0])):
        sources = [p for p in directory.rglob("*.py")]
        assert len(sources) > 50, label
        missing = [p for p in sources if not (p.parent / "__pycache__" / f"{p.stem}.cpython-313.pyc").exists()]
        assert not missing, f"{label}: {len(missing)} of {len(sources)} modules without bytecode, e.g. {missing[:3]}"
        for pyc in list(directory.rglob("*.cpython-313.pyc"))[:200]:
            header = pyc.read_bytes()[:8]
            assert header[:4] == PYC_MAGIC_313 and int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, pyc
        assert not [p for p in directory.rglob("*.pyc") if ".cpython-313." not in p.name], label


@pytest.mark.synth
def test_config_layer_and_nag_report(assembly: Path) -> None:
    config = _layer_dir(assembly, "the validated gateway config") / "aigw" / "config.json"
    assert json.loads(config.read_text())["models"]
    report = json.loads((assembly / "validation-report.json").read_text())
    assert all(plugin.get("conclusion") != "failure" for plugin in report.get("pluginReports", []))
