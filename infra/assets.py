"""Lambda code assets built on the synth machine: the locked dependency layers and the function code.

Both are built without Docker (CDK local bundling) and compiled to bytecode (`infra/bytecode.py`);
CDK's Docker image is used only with `-c bytecode=docker`, or when local bundling cannot run at
all. Their asset hashes are CUSTOM: a layer's is its locked set plus platform plus bytecode mode
(`infra/deps.py`), the code's is CDK's own fingerprint of the sources plus the bytecode mode.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from infra import deps
from infra.bytecode import Bytecode, docker_compile_command

RUNTIME = lambda_.Runtime.PYTHON_3_13
CODE_EXCLUDE = ["__pycache__", "*.pyc", "*.egg-info", ".pytest_cache", ".mypy_cache"]
LAYER_RUNTIME_PATH = "/opt/python"
CODE_RUNTIME_PATH = "/var/task"


def pip_command(requirements: Path | str, target: Path | str, *, python: str = sys.executable) -> list[str]:
    """The pip call that installs exactly one locked layer set for arm64 Lambda from any host.

    Hash-checking (the file carries hashes) and `--no-deps`: what is installed is the file, no more.
    """
    platforms = [arg for platform in deps.PIP_PLATFORMS for arg in ("--platform", platform)]
    return [
        python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile", "--no-deps",
        "--require-hashes", "--requirement", str(requirements), "--target", str(target),
        *platforms, "--implementation", "cp", "--python-version", deps.PYTHON_VERSION, "--only-binary=:all:",
    ]


@jsii.implements(cdk.ILocalBundling)
class LayerBundling:
    """pip-installs one locked set into `python/`, then compiles it."""

    def __init__(self, layer: deps.LayerSet, bytecode: Bytecode) -> None:
        self._layer = layer
        self._bytecode = bytecode

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        if not self._bytecode.local:
            return False
        target = Path(output_dir) / "python"
        command = pip_command(self._layer.file, target)
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError:
            return False  # no usable Python here: let CDK try its Docker image
        if result.returncode != 0:
            raise RuntimeError(f"building the {self._layer.name} layer failed: " + " ".join(command) + "\n"
                               + result.stderr[-4000:])
        self._bytecode.compile(target, runtime_path=LAYER_RUNTIME_PATH, label=f"layer:{self._layer.name}")
        return True


@jsii.implements(cdk.ILocalBundling)
class CodeBundling:
    """Copies the function sources (less CODE_EXCLUDE), then compiles them."""

    def __init__(self, source: Path, bytecode: Bytecode) -> None:
        self._source = source
        self._bytecode = bytecode

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        if not self._bytecode.local:
            return False
        shutil.copytree(self._source, output_dir, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*CODE_EXCLUDE))
        self._bytecode.compile(Path(output_dir), runtime_path=CODE_RUNTIME_PATH, label="code")
        return True


def layer_code(layer: deps.LayerSet, bytecode: Bytecode) -> lambda_.Code:
    name = layer.file.name
    compile_layer = docker_compile_command("/asset-output/python", LAYER_RUNTIME_PATH)
    return lambda_.Code.from_asset(
        str(layer.file.parent),
        asset_hash=deps.asset_hash(layer.file.read_text(), bytecode_tag=bytecode.tag),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(
            image=RUNTIME.bundling_image,
            platform="linux/arm64",
            command=["bash", "-c", f"pip install --no-compile --no-deps --require-hashes -r {name} "
                     f"-t /asset-output/python && {compile_layer}"],
            local=LayerBundling(layer, bytecode),
        ),
    )


def function_code(source: Path, bytecode: Bytecode) -> lambda_.Code:
    """The `functions/` tree; plain sources when bytecode is off (nothing to build)."""
    if bytecode.mode == "off":
        return lambda_.Code.from_asset(str(source), exclude=CODE_EXCLUDE)
    fingerprint = cdk.FileSystem.fingerprint(str(source), exclude=CODE_EXCLUDE)
    return lambda_.Code.from_asset(
        str(source),
        asset_hash=hashlib.sha256(f"{fingerprint}:{bytecode.tag}".encode()).hexdigest(),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(
            image=RUNTIME.bundling_image,
            platform="linux/arm64",
            command=["bash", "-c", "cp -r /asset-input/. /asset-output/ && find /asset-output -name __pycache__ -prune "
                     f"-exec rm -rf {{}} + && {docker_compile_command('/asset-output', CODE_RUNTIME_PATH)}"],
            local=CodeBundling(source, bytecode),
        ),
    )
