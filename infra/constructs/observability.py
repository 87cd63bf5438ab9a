"""The spend dashboard and the alarms (docs/DESIGN.md §6), on the metrics named in `aigw.names`
and the fields of the gateway's request log line (aigw/observability.py).

The runtime emits each request's metrics twice: per (Team, Model, Provider) and per Model
(`METRIC_DIMENSIONS_DETAIL`, `METRIC_DIMENSIONS_MODEL`), plus `ErrorsByType` per ErrorType
(refusals before the pipeline included) and `GuardrailInterventions` per (Guardrail, Action).
Per-model lines are SEARCH expressions over the per-Model set. Per-team lines need a sum over
models and providers, which SEARCH cannot do, so they are Metrics Insights `GROUP BY Team`
queries over the detail set (one query per widget, as CloudWatch requires). An alarm cannot use
SEARCH; the spend alarm is a Metrics Insights query over the per-Model set.

The first row answers "who spends, and how close are the budgets" at a glance, whatever the
dashboard's time range: the two top-10 bars have their own range (Metrics Insights reads at
most two weeks of data, so the team bar covers 14 days; the model bar, a SEARCH, covers 30).
Budgets nearest their cap and the latest budget alerts are Logs Insights tables over the
request lines (`budget_scope`/`budget_used_pct`, `alerts`), so they follow the dashboard's
range; they never add a metric dimension of team or key cardinality.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from aigw.names import (
    DIM_TEAM,
    METRIC_BUDGET_ALERTS,
    METRIC_BUDGET_REJECTIONS,
    METRIC_CACHE_HITS,
    METRIC_CACHE_MISSES,
    METRIC_COST_USD,
    METRIC_DIMENSIONS_DETAIL,
    METRIC_DIMENSIONS_ERROR,
    METRIC_DIMENSIONS_GUARDRAIL,
    METRIC_DIMENSIONS_MODEL,
    METRIC_ERRORS_BY_TYPE,
    METRIC_FALLBACKS,
    METRIC_GATEWAY_OVERHEAD,
    METRIC_GUARDRAIL_INTERVENTIONS,
    METRIC_INPUT_TOKENS,
    METRIC_LATENCY,
    METRIC_OUTPUT_TOKENS,
    METRIC_RATE_LIMITED,
    METRIC_REQUESTS,
    METRIC_TIME_TO_FIRST_TOKEN,
    METRICS_NAMESPACE,
)
from infra.access import BUDGET_ALERT_DETAIL_TYPE

FIVE_MINUTES = cdk.Duration.minutes(5)
ONE_HOUR = cdk.Duration.hours(1)
TOP = 10  # teams and models on the top-N bars and lines
TEAM_TOP_DAYS = 14  # Metrics Insights queries at most two weeks of data
MODEL_TOP_DAYS = 30
REQUEST_LINE = 'filter message = "request"'  # the one line per request, refusals included (audit.REQUEST_FILTER)
API_5XX_RATE_THRESHOLD = 0.05  # share of requests
GATEWAY_ERRORS_THRESHOLD = 5  # function errors (crashes, timeouts) per 5 minutes


def search(metric: str, statistic: str, dimensions: tuple[str, ...] = METRIC_DIMENSIONS_MODEL,
           period: cdk.Duration = FIVE_MINUTES) -> str:
    """A SEARCH over one exact dimension set: one line per value combination."""
    schema = ",".join((METRICS_NAMESPACE, *dimensions))
    return f"SEARCH('{{{schema}}} MetricName=\"{metric}\"', '{statistic}', {int(period.to_seconds())})"


def insights_by_team(metric: str, limit: int = TOP) -> str:
    """Metrics Insights: `metric` summed per team over models and providers, largest first."""
    schema = ", ".join((f'"{METRICS_NAMESPACE}"', *METRIC_DIMENSIONS_DETAIL))
    return (f"SELECT SUM({metric}) FROM SCHEMA({schema}) GROUP BY {DIM_TEAM} "
            f"ORDER BY SUM() DESC LIMIT {limit}")


def top_by_model(metric: str, days: int = MODEL_TOP_DAYS, limit: int = TOP) -> str:
    """The `limit` models with the largest `metric` summed over `days` (metric math SORT over a SEARCH)."""
    return f"SORT({search(metric, 'Sum', period=cdk.Duration.days(days))}, SUM, DESC, {limit})"


# Logs Insights over the gateway's log group: the request line's fields (aigw/observability.py
# request_record, plus the budget stage's budget_scope/budget_used_pct and alerts).
TIGHTEST_BUDGETS_QUERY = (
    f"{REQUEST_LINE} and ispresent(budget_used_pct)",
    "stats latest(budget_used_pct) as used_pct, count(*) as requests by budget_scope",
    "sort used_pct desc",
    f"limit {TOP}",
)
BUDGET_ALERTS_QUERY = (
    f"{REQUEST_LINE} and ispresent(alerts.0)",
    "fields @timestamp, team, alerts.0 as alert, alerts.1 as also",
    "sort @timestamp desc",
    "limit 20",
)


def insights_total(metric: str) -> str:
    """Metrics Insights: `metric` summed over every model (the per-Model set counts each request once)."""
    schema = ", ".join((f'"{METRICS_NAMESPACE}"', *METRIC_DIMENSIONS_MODEL))
    return f"SELECT SUM({metric}) FROM SCHEMA({schema})"


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        api_name: str,
        stage_name: str,
        gateway: lambda_.Function,
        gateway_logs: logs.ILogGroup,
        admin: lambda_.Function,
        spend_alarm_usd_per_hour: float,
        alarm_email: str | None = None,
        encryption_key: kms.IKey | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(self, "Alarms", display_name="aigw alarms", enforce_ssl=True, master_key=encryption_key)
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))

        # Budget threshold alerts: the gateway puts one event per threshold per period on the default
        # bus; this rule turns each into a message on the alarm topic (email, or Slack via AWS Chatbot).
        self.budget_alerts = events.Rule(
            self, "BudgetAlerts", description="aigw budget threshold alerts to the alarm topic",
            event_pattern=events.EventPattern(detail_type=[BUDGET_ALERT_DETAIL_TYPE]),
            targets=[targets.SnsTopic(self.topic, message=events.RuleTargetInput.from_text(
                f"aigw budget alert: {events.EventField.from_path('$.detail.scope')} "
                f"{events.EventField.from_path('$.detail.id')} crossed "
                f"{events.EventField.from_path('$.detail.threshold')}% of its "
                f"{events.EventField.from_path('$.detail.period')} budget: spent "
                f"{events.EventField.from_path('$.detail.spent')} of "
                f"{events.EventField.from_path('$.detail.limit')}."))],
        )

        api_dimensions = {"ApiName": api_name, "Stage": stage_name}

        def api_metric(name: str, statistic: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name=name, dimensions_map=api_dimensions,
                                     statistic=statistic, period=FIVE_MINUTES)

        self.alarms = [
            self._alarm("Api5xxRate", api_metric("5XXError", "Average"), threshold=API_5XX_RATE_THRESHOLD,
                        periods=3, description="More than 5% of API requests ended in a 5xx for 15 minutes"),
            self._alarm("GatewayErrors", gateway.metric_errors(period=FIVE_MINUTES),
                        threshold=GATEWAY_ERRORS_THRESHOLD, periods=1,
                        description="The gateway function crashed or timed out repeatedly"),
            self._alarm("GatewayThrottles", gateway.metric_throttles(period=FIVE_MINUTES), threshold=1, periods=1,
                        description="Lambda throttled the gateway function (concurrency limit reached)"),
            self._alarm("AdminErrors", admin.metric_errors(period=FIVE_MINUTES), threshold=1, periods=1,
                        description="The admin function failed"),
            self._alarm("SpendPerHour",
                        cloudwatch.MathExpression(expression=insights_total(METRIC_COST_USD), using_metrics={},
                                                  period=ONE_HOUR, label="USD per hour"),
                        threshold=spend_alarm_usd_per_hour, periods=1,
                        description=f"Spend through the gateway exceeded ${spend_alarm_usd_per_hour:g} in an hour"),
        ]

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=cdk.Duration.days(1))
        log_groups = [gateway_logs.log_group_name]
        cache_hits = f"SUM({search(METRIC_CACHE_HITS, 'Sum')})"
        cache_misses = f"SUM({search(METRIC_CACHE_MISSES, 'Sum')})"
        rows: list[list[cloudwatch.IWidget]] = [
            [cloudwatch.TextWidget(width=24, height=3, markdown=(
                "## aigw: spend, budgets, guardrails, errors, latency\n"
                f"The top-{TOP} bars have their own range ({TEAM_TOP_DAYS} days for teams, the most Metrics Insights "
                f"reads; {MODEL_TOP_DAYS} days for models). The Logs Insights tables follow the dashboard's range. "
                "Exact month-to-date spend: `aigw usage --by team` (`GET /admin/usage`)."))],
            [_top(f"Top {TOP} teams by spend, last {TEAM_TOP_DAYS} days (USD)",
                  insights_by_team(METRIC_COST_USD), TEAM_TOP_DAYS),
             _top(f"Top {TOP} models by spend, last {MODEL_TOP_DAYS} days (USD)",
                  top_by_model(METRIC_COST_USD), MODEL_TOP_DAYS),
             _table("Tightest budgets: % of the cap used (latest)", log_groups, TIGHTEST_BUDGETS_QUERY)],
            [_graph(f"Spend by team, top {TOP} (USD per hour)",
                    [_insights(insights_by_team(METRIC_COST_USD), ONE_HOUR)]),
             _graph("Spend by model (USD per hour)", [_search(METRIC_COST_USD, "Sum", period=ONE_HOUR)]),
             _graph("Budget alerts sent", [_insights(f"SUM({search(METRIC_BUDGET_ALERTS, 'Sum')})", FIVE_MINUTES,
                                                     label="thresholds crossed")])],
            [_graph("Errors by type (refusals before the pipeline included)",
                    [_search(METRIC_ERRORS_BY_TYPE, "Sum", dimensions=METRIC_DIMENSIONS_ERROR)]),
             _graph("Guardrail interventions by guardrail and action",
                    [_search(METRIC_GUARDRAIL_INTERVENTIONS, "Sum", dimensions=METRIC_DIMENSIONS_GUARDRAIL)]),
             _table("Latest budget alerts", log_groups, BUDGET_ALERTS_QUERY)],
            [_graph("Latency p50 / p99 by model (ms)",
                    [_search(METRIC_LATENCY, "p50"), _search(METRIC_LATENCY, "p99")]),
             _graph("Gateway overhead p50 / p99 (ms)",
                    [_search(METRIC_GATEWAY_OVERHEAD, "p50"), _search(METRIC_GATEWAY_OVERHEAD, "p99")]),
             _graph("Time to first token p50 / p99 (ms)",
                    [_search(METRIC_TIME_TO_FIRST_TOKEN, "p50"), _search(METRIC_TIME_TO_FIRST_TOKEN, "p99")])],
            [_graph("Requests by model", [_search(METRIC_REQUESTS, "Sum")]),
             _graph("Input tokens by model", [_search(METRIC_INPUT_TOKENS, "Sum")]),
             _graph("Output tokens by model", [_search(METRIC_OUTPUT_TOKENS, "Sum")])],
            [_graph("Budget rejections by team",
                    [_insights(insights_by_team(METRIC_BUDGET_REJECTIONS), FIVE_MINUTES)]),
             _graph("Rate-limited requests by team", [_insights(insights_by_team(METRIC_RATE_LIMITED), FIVE_MINUTES)]),
             _graph("Output tokens by team", [_insights(insights_by_team(METRIC_OUTPUT_TOKENS), FIVE_MINUTES,
                                                        label="output")])],
            [_graph("Cache hit rate (%)", [cloudwatch.MathExpression(
                expression=f"100 * {cache_hits} / ({cache_hits} + {cache_misses})", using_metrics={},
                period=FIVE_MINUTES, label="hit rate")], left_max=100),
             _graph("Fallbacks by model", [_search(METRIC_FALLBACKS, "Sum")]),
             _graph("API Gateway: requests, 4xx, 5xx", [
                 api_metric("Count", "Sum"), api_metric("4XXError", "Sum"), api_metric("5XXError", "Sum")])],
            [_graph("Gateway function: errors, throttles, concurrency", [
                gateway.metric_errors(period=FIVE_MINUTES), gateway.metric_throttles(period=FIVE_MINUTES),
                gateway.metric("ConcurrentExecutions", statistic="Maximum", period=FIVE_MINUTES)]),
             _graph("Gateway function duration p50 / p99 (ms)", [
                 gateway.metric_duration(statistic="p50", period=FIVE_MINUTES),
                 gateway.metric_duration(statistic="p99", period=FIVE_MINUTES)]),
             cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=8, height=6)],
        ]
        for row in rows:
            self.dashboard.add_widgets(*row)

    def _alarm(self, id: str, metric: cloudwatch.IMetric, *, threshold: float, periods: int,
               description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, id, metric=metric, threshold=threshold, evaluation_periods=periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm


def _search(metric: str, statistic: str, *, dimensions: tuple[str, ...] = METRIC_DIMENSIONS_MODEL,
            period: cdk.Duration = FIVE_MINUTES) -> cloudwatch.MathExpression:
    return cloudwatch.MathExpression(expression=search(metric, statistic, dimensions, period), using_metrics={},
                                     period=period, label="")


def _insights(query: str, period: cdk.Duration, label: str = "") -> cloudwatch.MathExpression:
    return cloudwatch.MathExpression(expression=query, using_metrics={}, period=period, label=label)


def _graph(title: str, metrics: list[cloudwatch.IMetric], *, left_max: float | None = None) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=8, height=6,
                                  left_y_axis=cloudwatch.YAxisProps(min=0, max=left_max))


def _top(title: str, expression: str, days: int) -> cloudwatch.GraphWidget:
    """A bar per series, each the sum over the widget's own range (not the dashboard's)."""
    period = cdk.Duration.days(days)
    return cloudwatch.GraphWidget(title=title, left=[_insights(expression, period)], width=8, height=6,
                                  view=cloudwatch.GraphWidgetView.BAR, start=f"-P{days}D",
                                  set_period_to_time_range=True, period=period,
                                  left_y_axis=cloudwatch.YAxisProps(min=0))


def _table(title: str, log_groups: list[str], query: tuple[str, ...]) -> cloudwatch.LogQueryWidget:
    return cloudwatch.LogQueryWidget(title=title, log_group_names=log_groups, query_lines=list(query),
                                     view=cloudwatch.LogQueryVisualizationType.TABLE, width=8, height=6)
