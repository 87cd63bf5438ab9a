"""The REST API: streaming /v1 and /health, IAM-authorized /admin, logging, throttling, outputs."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from tests.infra.conftest import ADMIN_HANDLER, GATEWAY_HANDLER, Synth, flatten, function


def _method(synth: Synth, path_part: str, http_method: str) -> dict[str, Any]:
    """The method on the resource whose PathPart is `path_part` ("{proxy+}" under v1 or admin)."""
    methods = []
    for method in synth.resources("AWS::ApiGateway::Method", {"HttpMethod": http_method}).values():
        resource_id = method["Properties"]["ResourceId"]["Ref"]
        resource = synth.json["Resources"][resource_id]["Properties"]
        parent = resource["ParentId"]
        parent_part = (synth.json["Resources"][parent["Ref"]]["Properties"]["PathPart"]
                       if "Ref" in parent else "")
        if f"{parent_part}/{resource['PathPart']}".strip("/") == path_part:
            methods.append(method["Properties"])
    assert len(methods) == 1, f"{http_method} {path_part}: {len(methods)} methods"
    return methods[0]


def test_v1_streams_from_the_gateway_function(default: Synth) -> None:
    gateway_id, _ = function(default, GATEWAY_HANDLER)
    method = _method(default, "v1/{proxy+}", "ANY")
    integration = method["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    assert integration["ResponseTransferMode"] == "STREAM"
    assert integration["TimeoutInMillis"] == 15 * 60 * 1000
    uri = flatten(integration["Uri"])
    assert uri == (f"arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2021-11-15/functions/"
                   f"${{{gateway_id}.Arn}}/response-streaming-invocations")
    assert method["AuthorizationType"] == "NONE"  # virtual keys are checked by the gateway itself


def test_health_is_answered_by_the_gateway_through_the_same_stream(default: Synth) -> None:
    integration = _method(default, "health", "GET")["Integration"]
    assert integration["ResponseTransferMode"] == "STREAM"
    assert flatten(integration["Uri"]).endswith("/response-streaming-invocations")


def test_admin_requires_iam_and_is_not_streamed(default: Synth) -> None:
    admin_id, _ = function(default, ADMIN_HANDLER)
    method = _method(default, "admin/{proxy+}", "ANY")
    assert method["AuthorizationType"] == "AWS_IAM"
    integration = method["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    assert "ResponseTransferMode" not in integration
    assert flatten(integration["Uri"]).endswith(f"/2015-03-31/functions/${{{admin_id}.Arn}}/invocations")


def test_only_iam_methods_under_admin(default: Synth) -> None:
    admin_id, _ = function(default, ADMIN_HANDLER)
    for method in default.resources("AWS::ApiGateway::Method").values():
        uri = flatten(method["Properties"]["Integration"].get("Uri", ""))
        if admin_id in str(uri):
            assert method["Properties"]["AuthorizationType"] == "AWS_IAM"


def test_regional_api(default: Synth) -> None:
    default.template.has_resource_properties("AWS::ApiGateway::RestApi", {
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
    })


def test_stage_logs_traces_and_throttles(default: Synth) -> None:
    default.template.has_resource_properties("AWS::ApiGateway::Stage", {
        "StageName": "prod",
        "TracingEnabled": True,
        "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp(r"requestId")},
        "MethodSettings": [Match.object_like({
            "ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200,
            "LoggingLevel": "ERROR", "DataTraceEnabled": False,
        })],
    })
    default.template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    default.template.resource_count_is("AWS::WAFv2::WebACLAssociation", 0)


def test_throttling_retention_and_waf_come_from_context(semantic: Synth) -> None:
    semantic.template.has_resource_properties("AWS::ApiGateway::Stage", {
        "MethodSettings": [Match.object_like({"ThrottlingRateLimit": 25, "ThrottlingBurstLimit": 50})],
    })
    semantic.template.has_resource_properties("AWS::WAFv2::WebACLAssociation", {
        "WebACLArn": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/aigw/abc",
    })
    semantic.template.all_resources_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})


def test_api_gateway_errors_use_the_openai_envelope(default: Synth) -> None:
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX"):
        default.template.has_resource_properties("AWS::ApiGateway::GatewayResponse", {
            "ResponseType": response_type,
            "ResponseTemplates": {"application/json": Match.string_like_regexp(r'^\{"error": \{"message"')},
        })


def test_api_gateway_may_invoke_both_functions(default: Synth) -> None:
    for handler in (GATEWAY_HANDLER, ADMIN_HANDLER):
        logical_id, _ = function(default, handler)
        default.template.has_resource_properties("AWS::Lambda::Permission", {
            "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
            "FunctionName": {"Fn::GetAtt": [logical_id, "Arn"]},
        })


def test_outputs(default: Synth) -> None:
    outputs = {name: flatten(output["Value"]) for name, output in default.json["Outputs"].items()}
    assert outputs["ApiUrl"].startswith("https://") and outputs["ApiUrl"].endswith("/v1")
    assert outputs["AdminUrl"].endswith("/admin")
    assert "console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}#dashboards:name=" in outputs["DashboardUrl"]
    assert outputs["SecretNames"] == "aigw/anthropic aigw/openai"
