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


def _widget(synth: Synth, title_start: str) -> dict[str, Any]:
    (found,) = [w for w in _dashboard(synth)["widgets"] if w["properties"].get("title", "").startswith(title_start)]
    return dict(found)


def test_dashboard_covers_spend_tokens_latency_errors_cache_and_rejections(default: Synth) -> None:
    titles = " | ".join(_titles(default)).lower()
    for topic in ("spend by team", "spend by model", "tokens", "latency p50 / p99", "errors by type",
                  "cache hit rate", "budget rejections", "rate-limited", "top 10 teams by spend",
                  "top 10 models by spend", "tightest budgets", "guardrail interventions", "budget alerts",
                  "gateway overhead p50 / p99"):
        assert topic in titles, topic


def test_the_first_row_is_spend_and_budgets_at_a_glance(default: Synth) -> None:
    widgets = sorted(_dashboard(default)["widgets"], key=lambda w: (w["y"], w["x"]))
    first = [w["properties"]["title"] for w in widgets if w["type"] != "text" and w["y"] == widgets[1]["y"]]
    assert [t.split(",")[0].split(":")[0] for t in first] == [
        "Top 10 teams by spend", "Top 10 models by spend", "Tightest budgets"]


def test_top_spenders_are_bars_over_their_own_range(default: Synth) -> None:
    """Metrics Insights reads two weeks at most: the team bar says 14 days; the model bar
    (SEARCH, no such limit) 30. Each bar is one sum over the widget's whole range."""
    detail = ", ".join((f'"{names.METRICS_NAMESPACE}"', *names.METRIC_DIMENSIONS_DETAIL))
    per_model = "{" + ",".join((names.METRICS_NAMESPACE, *names.METRIC_DIMENSIONS_MODEL)) + "}"
    for title, start, expression in (
        ("Top 10 teams by spend, last 14 days", "-P14D",
         f"SELECT SUM({names.METRIC_COST_USD}) FROM SCHEMA({detail}) GROUP BY {names.DIM_TEAM} "
         "ORDER BY SUM() DESC LIMIT 10"),
        ("Top 10 models by spend, last 30 days", "-P30D",
         f"SORT(SEARCH('{per_model} MetricName=\"{names.METRIC_COST_USD}\"', 'Sum', 2592000), SUM, DESC, 10)"),
    ):
        props = _widget(default, title)["properties"]
        assert props["view"] == "bar" and props["start"] == start and props["setPeriodToTimeRange"] is True
        assert props["period"] == int(start[2:-1]) * 86400
        assert props["metrics"] == [[{"expression": expression, "period": props["period"]}]]


def test_log_tables_query_the_gateway_log_group(default: Synth) -> None:
    gateway_logs = default.id_of(default.stack.functions.log_groups["Gateway"])
    tables = [w for w in _dashboard(default)["widgets"] if w["type"] == "log"]
    assert {w["properties"]["title"] for w in tables} == {
        "Tightest budgets: % of the cap used (latest)", "Latest budget alerts"}
    for table in tables:
        query = table["properties"]["query"]
        assert query.startswith(f"SOURCE '${{{gateway_logs}}}' | filter message = \"request\"")
        assert table["properties"]["view"] == "table"
    budgets = _widget(default, "Tightest budgets")["properties"]["query"]
    assert "by budget_scope" in budgets and "sort used_pct desc" in budgets and budgets.endswith("limit 10")


def test_widgets_tile_the_24_column_grid(default: Synth) -> None:
    from scripts.render_dashboard import layout_errors

    body = _dashboard(default)
    assert layout_errors(body) == []
    assert max(w["x"] + w["width"] for w in body["widgets"]) == 24


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
