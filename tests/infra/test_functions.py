"""The functions and their layers: runtime, Lambda Web Adapter, environment, the shipped config."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from aigw.config import load_config, load_config_file
from aigw.names import ENV_CONFIG_PATH, ENV_SECRET_PREFIX, TABLES, TIKTOKEN_CACHE_ENV
from infra.settings import ROOT
from tests.infra.conftest import ADMIN_HANDLER, GATEWAY_HANDLER, Synth, flatten, function


def _layer(synth: Synth, description_prefix: str) -> tuple[str, dict[str, object]]:
    found = {logical_id: resource["Properties"] for logical_id, resource in
             synth.resources("AWS::Lambda::LayerVersion").items()
             if str(resource["Properties"].get("Description", "")).startswith(description_prefix)}
    assert len(found) == 1, f"layers starting {description_prefix!r}: {list(found)}"
    return next(iter(found.items()))


def test_both_functions_are_python313_on_arm64_with_tracing(default: Synth) -> None:
    for handler in (GATEWAY_HANDLER, ADMIN_HANDLER):
        default.template.has_resource_properties("AWS::Lambda::Function", {
            "Handler": handler,
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {"LogGroup": Match.any_value()},
        })


def test_gateway_runs_under_lambda_web_adapter_in_stream_mode(default: Synth) -> None:
    _, props = function(default, GATEWAY_HANDLER)
    env = props["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["AWS_LWA_PORT"] == "8080"
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/health"
    assert env["PYTHONPATH"].split(":")[:2] == ["/var/task", "/opt/python"]
    assert props["Timeout"] == 900
    layers = [flatten(layer) for layer in props["Layers"]]
    assert "arn:aws:lambda:${AWS::Region}:753240598075:layer:LambdaAdapterLayerArm64:26" in layers
    ours = {f"${{{default.id_of(layer)}}}" for layer in (
        default.stack.layers.base, default.stack.layers.gateway_dependencies, default.stack.layers.tiktoken,
        default.stack.layers.config)}
    assert set(layers) - ours == {"arn:aws:lambda:${AWS::Region}:753240598075:layer:LambdaAdapterLayerArm64:26"}
    assert len(layers) == 5  # Lambda's maximum: web adapter, base and gateway dependencies, tiktoken, config


def test_web_adapter_layer_is_overridable(semantic: Synth) -> None:
    _, props = function(semantic, GATEWAY_HANDLER)
    assert "arn:aws:lambda:eu-west-1:123456789012:layer:MyAdapter:3" in props["Layers"]
    assert not [layer for layer in map(str, map(flatten, props["Layers"])) if "LambdaAdapterLayer" in layer]


def test_admin_is_a_plain_handler(default: Synth) -> None:
    _, props = function(default, ADMIN_HANDLER)
    env = props["Environment"]["Variables"]
    assert "AWS_LAMBDA_EXEC_WRAPPER" not in env and "PYTHONPATH" not in env
    assert TIKTOKEN_CACHE_ENV not in env
    # the base dependencies and the config only: no uvicorn, uvloop, httpx or tiktoken
    assert sorted(props["Layers"], key=str) == sorted(
        ({"Ref": default.id_of(default.stack.layers.base)}, {"Ref": default.id_of(default.stack.layers.config)}),
        key=str)


def test_environment_names_the_tables_config_and_secrets(default: Synth) -> None:
    for handler in (GATEWAY_HANDLER, ADMIN_HANDLER):
        _, props = function(default, handler)
        env = props["Environment"]["Variables"]
        assert env[ENV_CONFIG_PATH] == "/opt/aigw/config.json"
        assert env[ENV_SECRET_PREFIX] == "aigw/"
        for spec in TABLES:
            assert env[spec.env_var] == {"Ref": default.id_of(default.stack.data.table(spec))}
    _, gateway = function(default, GATEWAY_HANDLER)
    assert gateway["Environment"]["Variables"][TIKTOKEN_CACHE_ENV] == "/opt/tiktoken_cache"


def test_secret_prefix_comes_from_context(semantic: Synth) -> None:
    _, props = function(semantic, GATEWAY_HANDLER)
    assert props["Environment"]["Variables"][ENV_SECRET_PREFIX] == "aigw-test/"
    semantic.template.has_resource_properties("AWS::SecretsManager::Secret", {"Name": "aigw-test/azure-prod"})


def test_config_layer_holds_the_validated_config(default: Synth) -> None:
    _, props = _layer(default, "the validated gateway config")
    content = props["Content"]
    assert isinstance(content, dict)
    shipped = default.asset_dir(content["S3Key"]) / "aigw" / "config.json"
    data = json.loads(shipped.read_text())
    assert load_config(data) == load_config_file(ROOT / "examples" / "aigw.yaml")


def test_tiktoken_layer_ships_the_encodings_at_opt_tiktoken_cache(default: Synth) -> None:
    _, props = _layer(default, "tiktoken encodings")
    content = props["Content"]
    assert isinstance(content, dict)
    shipped = sorted(p.name for p in (default.asset_dir(content["S3Key"]) / "tiktoken_cache").iterdir())
    assert shipped == sorted(p.name for p in (ROOT / "layers" / "tiktoken" / "tiktoken_cache").iterdir())


def test_layers_are_for_python313_arm64(default: Synth) -> None:
    default.template.all_resources_properties("AWS::Lambda::LayerVersion", {
        "CompatibleRuntimes": ["python3.13"], "CompatibleArchitectures": ["arm64"],
    })


def test_function_code_leaves_out_bytecode_and_build_metadata(default: Synth) -> None:
    _, props = function(default, GATEWAY_HANDLER)
    code = default.asset_dir(props["Code"]["S3Key"])
    assert (code / "gateway" / "run.sh").exists() and (code / "aigw" / "names.py").exists()
    assert not list(code.rglob("__pycache__")) and not list(code.rglob("*.egg-info"))


def test_roles_have_no_managed_policies(default: Synth) -> None:
    for handler in (GATEWAY_HANDLER, ADMIN_HANDLER):
        _, props = function(default, handler)
        role = default.json["Resources"][props["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert "ManagedPolicyArns" not in role


def test_reserved_concurrency_bounds_each_function(default: Synth, semantic: Synth) -> None:
    assert function(default, GATEWAY_HANDLER)[1]["ReservedConcurrentExecutions"] == 200
    assert function(default, ADMIN_HANDLER)[1]["ReservedConcurrentExecutions"] == 5
    assert function(semantic, GATEWAY_HANDLER)[1]["ReservedConcurrentExecutions"] == 300
    assert "ReservedConcurrentExecutions" not in function(semantic, ADMIN_HANDLER)[1]  # -c ...=none


def test_with_kms_everything_at_rest_uses_the_stack_key(semantic: Synth, default: Synth) -> None:
    assert semantic.stack.encryption is not None
    key = {"Fn::GetAtt": [semantic.id_of(semantic.stack.encryption.key), "Arn"]}
    semantic.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    semantic.template.all_resources_properties("AWS::DynamoDB::Table", {
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}})
    semantic.template.all_resources_properties("AWS::SecretsManager::Secret", {"KmsKeyId": key})
    semantic.template.all_resources_properties("AWS::Logs::LogGroup", {"KmsKeyId": key})
    semantic.template.all_resources_properties("AWS::SNS::Topic", {"KmsMasterKeyId": key})
    semantic.template.all_resources_properties("AWS::Lambda::Function", {"KmsKeyArn": key})
    default.template.resource_count_is("AWS::KMS::Key", 0)
    for resource in default.resources("AWS::DynamoDB::Table").values():
        assert "KMSMasterKeyId" not in resource["Properties"].get("SSESpecification", {})
