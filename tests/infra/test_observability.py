"""Dashboard, alarms, SNS topic: built on the metric names the runtime emits (aigw.names)."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from aigw import names
from tests.infra.conftest import Synth, flatten


def _dashboard(synth: Synth) -> dict[str, Any]:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    return dict(json.loads(body))


def _expressions(synth: Synth) -> list[str]:
    expressions = []
    for widget in _dashboard(synth)["widgets"]:
        for metric in widget.get("properties", {}).get("metrics", []):
            for item in metric:
                if isinstance(item, dict) and "expression" in item:
                    expressions.append(item["expression"])
    return expressions


def _titles(synth: Synth) -> list[str]:
    return [w["properties"].get("title", "") for w in _dashboard(synth)["widgets"]]


def test_dashboard_covers_spend_tokens_latency_errors_cache_and_rejections(default: Synth) -> None:
    titles = " | ".join(_titles(default)).lower()
    for topic in ("spend by team", "spend by model", "tokens", "latency p50 / p99", "errors by type",
                  "cache hit rate", "budget rejections", "rate-limited"):
        assert topic in titles, topic


def test_per_model_lines_search_the_per_model_dimension_set(default: Synth) -> None:
    expressions = _expressions(default)
    schema = "{" + ",".join((names.METRICS_NAMESPACE, *names.METRIC_DIMENSIONS_MODEL)) + "}"
    for metric, stat in ((names.METRIC_COST_USD, "Sum"), (names.METRIC_LATENCY, "p50"), (names.METRIC_LATENCY, "p99"),
                         (names.METRIC_INPUT_TOKENS, "Sum"), (names.METRIC_OUTPUT_TOKENS, "Sum")):
        assert any(f"SEARCH('{schema} MetricName=\"{metric}\"', '{stat}'" in e for e in expressions), (metric, stat)
    errors = "{" + ",".join((names.METRICS_NAMESPACE, *names.METRIC_DIMENSIONS_ERROR)) + "}"
    assert any(f"SEARCH('{errors} MetricName=\"{names.METRIC_ERRORS_BY_TYPE}\"'" in e for e in expressions)


def test_per_team_lines_group_the_detail_set_by_team(default: Synth) -> None:
    expressions = _expressions(default)
    schema = ", ".join((f'"{names.METRICS_NAMESPACE}"', *names.METRIC_DIMENSIONS_DETAIL))
    for metric in (names.METRIC_COST_USD, names.METRIC_BUDGET_REJECTIONS, names.METRIC_RATE_LIMITED):
        assert f"SELECT SUM({metric}) FROM SCHEMA({schema}) GROUP BY {names.DIM_TEAM} ORDER BY SUM() DESC LIMIT 10" \
            in expressions


def test_cache_hit_rate_is_hits_over_lookups(default: Synth) -> None:
    (rate,) = [e for e in _expressions(default) if e.startswith("100 * ")]
    assert names.METRIC_CACHE_HITS in rate and names.METRIC_CACHE_MISSES in rate


def test_alarms_notify_the_topic(default: Synth) -> None:
    topic_id = next(iter(default.resources("AWS::SNS::Topic")))
    alarms = default.resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 5
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"


def test_error_rate_alarm_on_api_5xx(default: Synth) -> None:
    default.template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "Namespace": "AWS/ApiGateway", "MetricName": "5XXError", "Statistic": "Average", "Threshold": 0.05,
        "Dimensions": Match.array_with([{"Name": "Stage", "Value": "prod"}]),
    })


def test_lambda_error_and_throttle_alarms(default: Synth) -> None:
    for metric in ("Errors", "Throttles"):
        default.template.has_resource_properties("AWS::CloudWatch::Alarm", {
            "Namespace": "AWS/Lambda", "MetricName": metric})


def test_spend_alarm_sums_cost_over_models(default: Synth) -> None:
    default.template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "Threshold": 50,
        "Metrics": [Match.object_like({
            "Expression": f'SELECT SUM({names.METRIC_COST_USD}) FROM SCHEMA("{names.METRICS_NAMESPACE}", '
                          f'{", ".join(names.METRIC_DIMENSIONS_MODEL)})',
            "Period": 3600,
        })],
    })


def test_topic_requires_tls_and_email_is_optional(default: Synth, semantic: Synth) -> None:
    default.template.has_resource_properties("AWS::SNS::TopicPolicy", {
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])},
    })
    default.template.resource_count_is("AWS::SNS::Subscription", 0)
    semantic.template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": "ops@example.com"})


def test_function_and_access_logs_have_retention(default: Synth) -> None:
    log_groups = default.resources("AWS::Logs::LogGroup")
    assert len(log_groups) == 3  # gateway, admin, API access logs
    default.template.all_resources_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
