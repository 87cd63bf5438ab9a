"""What the functions load from /opt: dependencies, tokenizer data, the config, the web adapter.

The dependency layer is built without Docker: pip downloads the manylinux aarch64 wheels
for CPython 3.13 into the asset directory (CDK local bundling). The Docker image is only
the fallback CDK requires; it runs when local bundling reports it cannot run at all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
PYTHON_VERSION = "3.13"
# Lambda's python3.13 runs on Amazon Linux 2023 (glibc 2.34): manylinux2014 and 2_28 wheels both load.
PIP_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")

# AWS Lambda Web Adapter, published by AWS in every commercial region (docs/DESIGN.md §8).
WEB_ADAPTER_ACCOUNT = "753240598075"
WEB_ADAPTER_LAYER = "LambdaAdapterLayerArm64"
WEB_ADAPTER_VERSION = 26

CONFIG_FILE_IN_LAYER = "aigw/config.json"
CONFIG_PATH = f"/opt/{CONFIG_FILE_IN_LAYER}"  # what AIGW_CONFIG points at
TIKTOKEN_CACHE_DIR = "/opt/tiktoken_cache"


def pip_command(requirements: Path | str, target: Path | str, *, python: str = sys.executable) -> list[str]:
    """The pip call that builds the layer for arm64 Lambda from any host (no compiler, no Docker)."""
    platforms = [arg for platform in PIP_PLATFORMS for arg in ("--platform", platform)]
    return [
        python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--requirement", str(requirements), "--target", str(target),
        *platforms, "--implementation", "cp", "--python-version", PYTHON_VERSION, "--only-binary=:all:",
    ]


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundling:
    """Builds the dependency layer with the synthesizing Python's pip."""

    def __init__(self, requirements: Path) -> None:
        self._requirements = requirements

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        command = pip_command(self._requirements, Path(output_dir) / "python")
        try:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError:
            return False  # no usable Python here: let CDK try its Docker image
        if result.returncode != 0:
            raise RuntimeError(
                "building the dependency layer failed: " + " ".join(command) + "\n" + result.stderr[-4000:])
        return True


class Layers(Construct):
    """The Lambda layers; `config_json` is the validated config the functions read at start."""

    def __init__(self, scope: Construct, id: str, *, root: Path, config_json: str,
                 skip_deps_bundling: bool = False, web_adapter_layer_arn: str | None = None) -> None:
        super().__init__(scope, id)
        stage = cdk.Stage.of(self)
        assert stage is not None, "Layers must be built inside an App"
        build_dir = Path(stage.outdir) / "aigw-build" / cdk.Names.unique_id(self)

        self.dependencies = lambda_.LayerVersion(
            self, "Dependencies",
            description="aigw runtime dependencies (pip, manylinux aarch64, CPython 3.13)",
            code=_placeholder_code(build_dir) if skip_deps_bundling else _dependencies_code(root / "layers" / "deps"),
            compatible_runtimes=[RUNTIME], compatible_architectures=[ARCHITECTURE],
        )
        if skip_deps_bundling:
            cdk.Annotations.of(self.dependencies).add_info(
                "skip_deps_bundling: the dependency layer is a placeholder; this assembly is not deployable")
        self.tiktoken = lambda_.LayerVersion(
            self, "Tiktoken",
            description=f"tiktoken encodings, read offline from {TIKTOKEN_CACHE_DIR}",
            code=lambda_.Code.from_asset(str(root / "layers" / "tiktoken")),
            compatible_runtimes=[RUNTIME], compatible_architectures=[ARCHITECTURE],
        )
        self.config = lambda_.LayerVersion(
            self, "Config",
            description=f"the validated gateway config at {CONFIG_PATH}",
            code=lambda_.Code.from_asset(str(_write_config(build_dir / "config", config_json))),
            compatible_runtimes=[RUNTIME], compatible_architectures=[ARCHITECTURE],
        )
        arn = web_adapter_layer_arn or (
            f"arn:aws:lambda:{cdk.Stack.of(self).region}:{WEB_ADAPTER_ACCOUNT}:layer:"
            f"{WEB_ADAPTER_LAYER}:{WEB_ADAPTER_VERSION}")
        self.web_adapter = lambda_.LayerVersion.from_layer_version_arn(self, "WebAdapter", arn)


def _dependencies_code(source: Path) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(source),
        exclude=["build", "*.pyc", "__pycache__"],
        bundling=cdk.BundlingOptions(
            image=RUNTIME.bundling_image,
            platform="linux/arm64",
            command=["bash", "-c", "pip install --no-compile -r requirements.txt -t /asset-output/python"],
            local=PipLocalBundling(source / "requirements.txt"),
        ),
    )


def _placeholder_code(build_dir: Path) -> lambda_.Code:
    directory = build_dir / "deps-placeholder"
    (directory / "python").mkdir(parents=True, exist_ok=True)
    (directory / "python" / "PLACEHOLDER.txt").write_text(
        "Synthesized with skip_deps_bundling=true: no dependencies; not deployable.\n", encoding="utf-8")
    return lambda_.Code.from_asset(str(directory))


def _write_config(directory: Path, config_json: str) -> Path:
    file = directory / CONFIG_FILE_IN_LAYER
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(config_json, encoding="utf-8")
    return directory
