"""Synthesize the stack once per config variant (synth is the slow part) and share it.

Each variant is built by `app.build`, exactly as `cdk synth` builds it, with the context of
`cdk.json` (feature flags included) plus the variant's own. The dependency layer is a
placeholder here (`skip_deps_bundling`) and the code ships as sources (`bytecode=off`);
`test_synth.py` builds the real thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from constructs import IConstruct

from app import build
from infra.settings import ROOT, Settings
from infra.stack import GatewayStack
from scripts.render_dashboard import resolve

CONFIGS = Path(__file__).parent / "configs"


@dataclass
class Synth:
    app: cdk.App
    stack: GatewayStack
    template: Template
    settings: Settings
    outdir: Path

    @property
    def json(self) -> dict[str, Any]:
        return dict(self.template.to_json())

    def resources(self, type_: str, props: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        found = self.template.find_resources(type_, {"Properties": props} if props else None)
        return {logical_id: dict(resource) for logical_id, resource in found.items()}

    def logical_id(self, type_: str, props: dict[str, Any]) -> str:
        found = self.resources(type_, props)
        assert len(found) == 1, f"expected one {type_} with {props}, found {list(found)}"
        return next(iter(found))

    def id_of(self, construct: IConstruct) -> str:
        """The logical id of an L2 construct's resource, as the stack resolves it."""
        child = construct.node.default_child
        assert isinstance(child, cdk.CfnElement)
        return str(self.stack.resolve(self.stack.get_logical_id(child)))

    def asset_dir(self, s3_key: str) -> Path:
        return self.outdir / f"asset.{s3_key.removesuffix('.zip')}"


def synthesize(outdir: Path, config: Path, **context: Any) -> Synth:
    base = json.loads((ROOT / "cdk.json").read_text())["context"]
    app = cdk.App(outdir=str(outdir), context={**base, "config": str(config), "skip_deps_bundling": True,
                                                "bytecode": "off", **context})
    stack = build(app)
    template = Template.from_stack(stack)
    return Synth(app, stack, template, stack.settings, outdir)


@pytest.fixture(scope="session")
def synth_variant(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Synth]:
    cache: dict[str, Synth] = {}

    def get(name: str) -> Synth:
        if name not in cache:
            outdir = tmp_path_factory.mktemp(f"cdk-{name}")
            cache[name] = synthesize(outdir, **VARIANTS[name])
        return cache[name]

    return get


VARIANTS: dict[str, dict[str, Any]] = {
    # the shipped example: openai + anthropic + bedrock, exact cache, semantic off
    "default": {"config": ROOT / "examples" / "aigw.yaml"},
    # semantic cache with standby replicas, Bedrock profiles, every optional knob set
    "semantic": {
        "config": CONFIGS / "semantic.yaml",
        "stack_name": "aigw-test",
        "alarm_email": "ops@example.com",
        "lwa_layer_arn": "arn:aws:lambda:eu-west-1:123456789012:layer:MyAdapter:3",
        "web_acl_arn": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/aigw/abc",
        "log_retention_days": "90",
        "throttle_rate_limit": "25",
        "throttle_burst_limit": "50",
        "secret_prefix": "aigw-test/",
        "kms": "true",
        "gateway_reserved_concurrency": "300",
        "admin_reserved_concurrency": "none",
        "audit_export": "true",
    },
    # nothing configured, but the audit trail on (with AWS-owned and S3-managed keys)
    "empty": {"config": CONFIGS / "empty.yaml", "audit_export": "true", "audit_retention_days": "90"},
}


@pytest.fixture(scope="module")
def default(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("default")


@pytest.fixture(scope="module")
def semantic(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("semantic")


@pytest.fixture(scope="module")
def empty(synth_variant: Callable[[str], Synth]) -> Synth:
    return synth_variant("empty")


# A CloudFormation value as text (Fn::Join joined, Ref -> `${X}`, GetAtt -> `${A.B}`): the
# dashboard renderer's reading of a template, shared.
flatten = resolve


def statements(synth: Synth, role_logical_id: str) -> list[dict[str, Any]]:
    """Every policy statement attached to a role, with values flattened."""
    found: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} in roles:
            found.extend(flatten(policy["Properties"]["PolicyDocument"]["Statement"]))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


GATEWAY_HANDLER = "gateway/run.sh"
ADMIN_HANDLER = "admin.main.handler"


def function(synth: Synth, handler: str) -> tuple[str, dict[str, Any]]:
    """(logical id, properties) of the function with this handler."""
    found = synth.resources("AWS::Lambda::Function", {"Handler": handler})
    assert len(found) == 1
    (logical_id, resource), = found.items()
    return logical_id, resource["Properties"]


def role_id(synth: Synth, handler: str) -> str:
    _, props = function(synth, handler)
    return str(props["Role"]["Fn::GetAtt"][0])
