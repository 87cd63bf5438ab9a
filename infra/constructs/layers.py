"""What the functions load from /opt: dependencies, tokenizer data, the config, the web adapter.

Two dependency layers cut from the one lock (`infra/deps.py`): `base` for both functions and
`gateway` on top of it for the gateway only, so the admin function carries no uvicorn, uvloop,
tiktoken or httpx. Both are pip-built without Docker and ship CPython 3.13 bytecode
(`infra/assets.py`, `infra/bytecode.py`).
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import deps
from infra.assets import RUNTIME, layer_code, pip_command
from infra.bytecode import Bytecode

__all__ = ["ARCHITECTURE", "CONFIG_PATH", "RUNTIME", "TIKTOKEN_CACHE_DIR", "Layers", "pip_command"]

ARCHITECTURE = lambda_.Architecture.ARM_64
PYTHON_VERSION = deps.PYTHON_VERSION
PIP_PLATFORMS = deps.PIP_PLATFORMS

# AWS Lambda Web Adapter, published by AWS in every commercial region (docs/DESIGN.md §8).
WEB_ADAPTER_ACCOUNT = "753240598075"
WEB_ADAPTER_LAYER = "LambdaAdapterLayerArm64"
WEB_ADAPTER_VERSION = 26

CONFIG_FILE_IN_LAYER = "aigw/config.json"
CONFIG_PATH = f"/opt/{CONFIG_FILE_IN_LAYER}"  # what AIGW_CONFIG points at
TIKTOKEN_CACHE_DIR = "/opt/tiktoken_cache"


class Layers(Construct):
    """The Lambda layers; `config_json` is the validated config the functions read at start."""

    def __init__(self, scope: Construct, id: str, *, root: Path, config_json: str, bytecode: Bytecode,
                 skip_deps_bundling: bool = False, web_adapter_layer_arn: str | None = None) -> None:
        super().__init__(scope, id)
        stage = cdk.Stage.of(self)
        assert stage is not None, "Layers must be built inside an App"
        build_dir = Path(stage.outdir) / "aigw-build" / cdk.Names.unique_id(self)

        self.dependencies: dict[str, lambda_.LayerVersion] = {}
        for layer in deps.LAYER_SETS:
            version = lambda_.LayerVersion(
                self, "Dependencies" if layer is deps.BASE else f"{layer.name.title()}Dependencies",
                description=f"{layer.description} (locked; CPython 3.13, manylinux aarch64)",
                code=_placeholder_code(build_dir, layer.name) if skip_deps_bundling else layer_code(layer, bytecode),
                compatible_runtimes=[RUNTIME], compatible_architectures=[ARCHITECTURE],
            )
            if skip_deps_bundling:
                cdk.Annotations.of(version).add_info(
                    "skip_deps_bundling: the dependency layer is a placeholder; this assembly is not deployable")
            self.dependencies[layer.name] = version
        self.base = self.dependencies[deps.BASE.name]
        self.gateway_dependencies = self.dependencies[deps.GATEWAY.name]
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


def _placeholder_code(build_dir: Path, name: str) -> lambda_.Code:
    directory = build_dir / f"deps-placeholder-{name}"
    (directory / "python").mkdir(parents=True, exist_ok=True)
    (directory / "python" / "PLACEHOLDER.txt").write_text(
        f"Synthesized with skip_deps_bundling=true: no {name} dependencies; not deployable.\n", encoding="utf-8")
    return lambda_.Code.from_asset(str(directory))


def _write_config(directory: Path, config_json: str) -> Path:
    file = directory / CONFIG_FILE_IN_LAYER
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(config_json, encoding="utf-8")
    return directory
