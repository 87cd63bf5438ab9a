"""One source of truth for versions: the lock, the layer sets cut from it, and their asset hashes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from packaging.markers import default_environment
from packaging.requirements import Requirement

from infra import deps
from infra.assets import layer_code
from infra.bytecode import Bytecode

LOCK_PINS = {pin.name: pin for pin in deps.parse(deps.LOCK.read_text()) if not pin.marker}
# Lambda's python3.13 on arm64 Linux, for the markers of the layer sets
LAMBDA_ENV = {**default_environment(), "python_version": "3.13", "python_full_version": "3.13.5",
              "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64",
              "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def _lock_versions(name: str) -> set[str]:
    return {pin.version for pin in deps.parse(deps.LOCK.read_text()) if pin.name == name}


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((deps.ROOT / "pyproject.toml").read_text())["project"]
    strings = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        strings.extend(extra)
    return [Requirement(s) for s in strings if deps.normalize(Requirement(s).name) != "aigw"]


def test_every_pyproject_range_is_satisfied_by_the_lock() -> None:
    """A raised floor in pyproject.toml without `python scripts/lock.py` fails here, not in CI's install."""
    for requirement in _pyproject_requirements():
        versions = _lock_versions(deps.normalize(requirement.name))
        assert versions, f"{requirement.name} is in pyproject.toml but not in requirements.lock"
        assert any(requirement.specifier.contains(v, prereleases=True) for v in versions), (str(requirement), versions)


def test_every_lock_pin_has_hashes() -> None:
    pins = deps.parse(deps.LOCK.read_text())
    assert len(pins) > 80 and all(pin.hashes for pin in pins)


@pytest.mark.parametrize("layer", deps.LAYER_SETS, ids=lambda layer: layer.name)
def test_layer_sets_are_the_locks_pins_for_lambda(layer: deps.LayerSet) -> None:
    pins = deps.parse(layer.file.read_text())
    assert pins
    for pin in pins:
        assert pin.marker == "" or Requirement(f"x; {pin.marker}").marker.evaluate(LAMBDA_ENV)  # type: ignore[union-attr]
        assert pin.version in _lock_versions(pin.name), f"{layer.name}: {pin.name}=={pin.version} is not the lock's"
        locked = {p.hashes for p in deps.parse(deps.LOCK.read_text()) if (p.name, p.version) == (pin.name, pin.version)}
        assert any(pin.hashes <= hashes for hashes in locked), f"{pin.name}: hashes not from the lock"
    names = {pin.name for pin in pins}
    assert {deps.normalize(root) for root in layer.roots} <= names


def test_the_gateway_layer_leaves_out_what_base_carries_and_base_has_no_server() -> None:
    base = {pin.name for pin in deps.parse(deps.BASE.file.read_text())}
    gateway = {pin.name for pin in deps.parse(deps.GATEWAY.file.read_text())}
    assert not base & gateway
    assert not base & {"uvicorn", "uvloop", "httptools", "tiktoken", "httpx", "regex", "pyyaml"}


def _layer_s3_key(layer: deps.LayerSet) -> str:
    app = cdk.App(context={"aws:cdk:bundling-stacks": []})  # hashes only: no pip, no compile
    stack = cdk.Stack(app, "S")
    lambda_.LayerVersion(stack, "L", code=layer_code(layer, Bytecode("off")))
    (layer_version,) = Template.from_stack(stack).find_resources("AWS::Lambda::LayerVersion").values()
    props = layer_version["Properties"]
    return str(props["Content"]["S3Key"])


def test_asset_hash_follows_the_locked_set_platform_and_bytecode(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    text = deps.BASE.file.read_text()
    compiled = "cpython-313-unchecked-hash"
    same = deps.asset_hash(text, bytecode_tag=compiled)
    assert same == deps.asset_hash(text, bytecode_tag=compiled)
    assert same != deps.asset_hash(text, bytecode_tag="sources-only")
    assert same != deps.asset_hash(text.replace("pydantic==", "pydantic==9", 1), bytecode_tag=compiled)
    monkeypatch.setattr(deps, "PIP_PLATFORMS", ("manylinux2014_x86_64",))
    assert same != deps.asset_hash(text, bytecode_tag=compiled)
    monkeypatch.undo()
    # comments and line wrapping are not part of the set
    assert same == deps.asset_hash("# a comment\n" + text, bytecode_tag=compiled)


def test_cdk_asset_ids_follow_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = deps.BASE.file.read_text()
    monkeypatch.setattr(deps, "LAYER_DIR", tmp_path)
    layer = deps.LayerSet("base", deps.BASE.roots, deps.BASE.description)
    layer.file.write_text(text)
    first = _layer_s3_key(layer)
    assert _layer_s3_key(layer) == first
    (tmp_path / "unrelated.txt").write_text("the asset directory's other files do not matter")
    assert _layer_s3_key(layer) == first
    layer.file.write_text(text.replace("six==1.17.0", "six==1.16.0"))
    assert _layer_s3_key(layer) != first


def test_every_runtime_dependency_is_in_a_lambda_layer() -> None:
    """A dependency added to [project].dependencies must ship to Lambda too (infra/deps.py LAYER_SETS)."""
    project = tomllib.loads((deps.ROOT / "pyproject.toml").read_text())["project"]
    runtime = {deps.normalize(Requirement(r).name) for r in project["dependencies"]}
    shipped = {deps.normalize(root) for layer in deps.LAYER_SETS for root in layer.roots}
    assert runtime <= shipped, f"not in any layer: {sorted(runtime - shipped)}"
