"""The spend dashboard and the alarms (docs/DESIGN.md §6), on the metrics named in `aigw.names`.

The runtime emits each request's metrics twice: per (Team, Model, Provider) and per Model
(`METRIC_DIMENSIONS_DETAIL`, `METRIC_DIMENSIONS_MODEL`), plus `ErrorsByType` per ErrorType.
Per-model lines are SEARCH expressions over the per-Model set. Per-team lines need a sum over
models and providers, which SEARCH cannot do, so they are Metrics Insights `GROUP BY Team`
queries over the detail set (one query per widget, as CloudWatch requires). An alarm cannot use
SEARCH; the spend alarm is a Metrics Insights query over the per-Model set.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from aigw.names import (
    DIM_TEAM,
    METRIC_BUDGET_REJECTIONS,
    METRIC_CACHE_HITS,
    METRIC_CACHE_MISSES,
    METRIC_COST_USD,
    METRIC_DIMENSIONS_DETAIL,
    METRIC_DIMENSIONS_ERROR,
    METRIC_DIMENSIONS_MODEL,
    METRIC_ERRORS_BY_TYPE,
    METRIC_FALLBACKS,
    METRIC_GATEWAY_OVERHEAD,
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
API_5XX_RATE_THRESHOLD = 0.05  # share of requests
GATEWAY_ERRORS_THRESHOLD = 5  # function errors (crashes, timeouts) per 5 minutes


def search(metric: str, statistic: str, dimensions: tuple[str, ...] = METRIC_DIMENSIONS_MODEL,
           period: cdk.Duration = FIVE_MINUTES) -> str:
    """A SEARCH over one exact dimension set: one line per value combination."""
    schema = ",".join((METRICS_NAMESPACE, *dimensions))
    return f"SEARCH('{{{schema}}} MetricName=\"{metric}\"', '{statistic}', {int(period.to_seconds())})"


def insights_by_team(metric: str, limit: int = 20) -> str:
    """Metrics Insights: `metric` summed per team over models and providers, largest first."""
    schema = ", ".join((f'"{METRICS_NAMESPACE}"', *METRIC_DIMENSIONS_DETAIL))
    return (f"SELECT SUM({metric}) FROM SCHEMA({schema}) GROUP BY {DIM_TEAM} "
            f"ORDER BY SUM() DESC LIMIT {limit}")


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
        self.dashboard.add_widgets(
            _graph("Spend by team (USD per hour)", [_insights(insights_by_team(METRIC_COST_USD), ONE_HOUR)]),
            _graph("Spend by model (USD per hour)", [_search(METRIC_COST_USD, "Sum", period=ONE_HOUR)]),
            _graph("Requests by model", [_search(METRIC_REQUESTS, "Sum")]),
        )
        self.dashboard.add_widgets(
            _graph("Input tokens by model", [_search(METRIC_INPUT_TOKENS, "Sum")]),
            _graph("Output tokens by model", [_search(METRIC_OUTPUT_TOKENS, "Sum")]),
            _graph("Tokens by team", [_insights(insights_by_team(METRIC_OUTPUT_TOKENS), FIVE_MINUTES,
                                                label="output")]),
        )
        self.dashboard.add_widgets(
            _graph("Latency p50 / p99 by model (ms)",
                   [_search(METRIC_LATENCY, "p50"), _search(METRIC_LATENCY, "p99")]),
            _graph("Time to first token p50 / p99 (ms)",
                   [_search(METRIC_TIME_TO_FIRST_TOKEN, "p50"), _search(METRIC_TIME_TO_FIRST_TOKEN, "p99")]),
            _graph("Gateway overhead p50 / p99 (ms)",
                   [_search(METRIC_GATEWAY_OVERHEAD, "p50"), _search(METRIC_GATEWAY_OVERHEAD, "p99")]),
        )
        cache_hits = f"SUM({search(METRIC_CACHE_HITS, 'Sum')})"
        cache_misses = f"SUM({search(METRIC_CACHE_MISSES, 'Sum')})"
        self.dashboard.add_widgets(
            _graph("Errors by type", [_search(METRIC_ERRORS_BY_TYPE, "Sum", dimensions=METRIC_DIMENSIONS_ERROR)]),
            _graph("Cache hit rate (%)", [cloudwatch.MathExpression(
                expression=f"100 * {cache_hits} / ({cache_hits} + {cache_misses})", using_metrics={},
                period=FIVE_MINUTES, label="hit rate")], left_max=100),
            _graph("Fallbacks by model", [_search(METRIC_FALLBACKS, "Sum")]),
        )
        self.dashboard.add_widgets(
            _graph("Budget rejections by team", [_insights(insights_by_team(METRIC_BUDGET_REJECTIONS), FIVE_MINUTES)]),
            _graph("Rate-limited requests by team", [_insights(insights_by_team(METRIC_RATE_LIMITED), FIVE_MINUTES)]),
            _graph("API Gateway: requests, 4xx, 5xx", [
                api_metric("Count", "Sum"), api_metric("4XXError", "Sum"), api_metric("5XXError", "Sum")]),
        )
        self.dashboard.add_widgets(
            _graph("Gateway function: errors, throttles, concurrency", [
                gateway.metric_errors(period=FIVE_MINUTES), gateway.metric_throttles(period=FIVE_MINUTES),
                gateway.metric("ConcurrentExecutions", statistic="Maximum", period=FIVE_MINUTES)]),
            _graph("Gateway function duration p50 / p99 (ms)", [
                gateway.metric_duration(statistic="p50", period=FIVE_MINUTES),
                gateway.metric_duration(statistic="p99", period=FIVE_MINUTES)]),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=8, height=6),
        )

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
