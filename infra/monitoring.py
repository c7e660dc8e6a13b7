"""Alarms to an SNS topic, and a dashboard of the pipeline.

The dashboard follows an event from the log line to the store: lines received by the parser,
events parsed (by JSON, regex rule or fallback), sent to the API, stored, and the ones that went
wrong (rejected by the API, parked in the DLQ, still unindexed).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import VectaFunction

NAMESPACE = "VectaDB"
API_P99_THRESHOLD_MS = 5000
PERIOD = cdk.Duration.minutes(5)


def emf(service: str, name: str, label: str | None = None) -> cloudwatch.Metric:
    """A Powertools (EMF) metric: namespace VectaDB, dimension service."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic="Sum",
        period=PERIOD,
        label=label or name,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_email: str | None,
        functions: dict[str, VectaFunction],
        api: apigw.RestApi,
        dead_letters: sqs.IQueue,
        services: dict[str, ecs.BaseService],
    ) -> None:
        super().__init__(scope, construct_id)
        key = kms.Key(
            self,
            "TopicKey",
            description="VectaDB: alarm topic encryption",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        # CloudWatch alarms publish to an encrypted topic only when they may use its key.
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.topic = sns.Topic(
            self, "Alarms", display_name="VectaDB alarms", master_key=key, enforce_ssl=True
        )
        # enforce_ssl makes a topic policy, and a topic policy replaces the default one: without
        # this statement CloudWatch could not publish, and no alarm would ever be delivered.
        stack = cdk.Stack.of(self)
        alarms_arn = f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": alarms_arn},
                },
            )
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        action = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(
            name: str, metric: cloudwatch.IMetric, threshold: float, description: str, **kw: Any
        ) -> None:
            created = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=threshold,
                evaluation_periods=kw.pop("evaluation_periods", 1),
                comparison_operator=kw.pop(
                    "comparison_operator", cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
                ),
                treat_missing_data=kw.pop("treat_missing_data", cloudwatch.TreatMissingData.NOT_BREACHING),
                alarm_description=description,
                **kw,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms.append(created)

        alarm(
            "DeadLettersVisible",
            dead_letters.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            0,
            "Events are parked in the DLQ: the redrive function replays them; look at its logs",
        )
        for name, fn in functions.items():
            alarm(
                f"{name}Errors",
                fn.function.metric_errors(period=PERIOD),
                0,
                f"The {name} function failed",
            )
            alarm(
                f"{name}Throttles",
                fn.function.metric_throttles(period=PERIOD),
                0,
                f"The {name} function was throttled (concurrency limit)",
            )
        alarm(
            "Api5xx",
            api.metric_server_error(period=PERIOD, statistic="Sum"),
            0,
            "The API answered 5xx",
        )
        alarm(
            "ApiLatencyP99",
            api.metric_latency(period=PERIOD, statistic="p99"),
            API_P99_THRESHOLD_MS,
            f"The API's p99 latency is over {API_P99_THRESHOLD_MS} ms",
            evaluation_periods=3,
        )
        for name, service in services.items():
            running = cloudwatch.Metric(
                namespace="ECS/ContainerInsights",
                metric_name="RunningTaskCount",
                dimensions_map={
                    "ClusterName": service.cluster.cluster_name,
                    "ServiceName": service.service_name,
                },
                statistic="Minimum",
                period=cdk.Duration.minutes(1),
            )
            alarm(
                f"{name}NotRunning",
                running,
                1,
                f"{name} has no running task: the API cannot store or search",
                evaluation_periods=3,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            )

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"{cdk.Stack.of(self).stack_name}-pipeline"
        )
        parser, ingest = "vectadb-parser", "vectadb-ingest"
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Events in: lines received, parsed, sent",
                left=[
                    emf(parser, "LinesReceived"),
                    emf(parser, "EventsParsedJson", "parsed (JSON)"),
                    emf(parser, "EventsParsedRegex", "parsed (rules)"),
                    emf(parser, "EventsParsedFallback", "parsed (fallback)"),
                    emf(parser, "EventsParsedPlatform", "parsed (Lambda platform)"),
                    emf(parser, "EventsSent"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Stored, duplicate and indexed",
                left=[
                    emf(ingest, "EventsStored"),
                    emf(ingest, "EventsDuplicate"),
                    emf(ingest, "EventsIndexed"),
                    emf(ingest, "EventsConflicting", "duplicates that differ (first copy kept)"),
                    emf(ingest, "EventsReplaced", "replaced (on_conflict=replace)"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Failed: rejected, parked, replayed",
                left=[
                    emf(ingest, "EventsRejected"),
                    emf(parser, "EventsToDLQ", "parked by the parser"),
                    emf("vectadb-redrive", "EventsReplayed"),
                    emf("vectadb-redrive", "EventsToDLQ", "parked again on replay"),
                    emf("vectadb-reindex", "EventsUnindexed"),
                ],
                right=[
                    dead_letters.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum", label="DLQ messages"
                    )
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="API: requests, errors, latency",
                left=[
                    api.metric_count(period=PERIOD, statistic="Sum"),
                    api.metric_client_error(period=PERIOD, statistic="Sum"),
                    api.metric_server_error(period=PERIOD, statistic="Sum"),
                ],
                right=[api.metric_latency(period=PERIOD, statistic="p99", label="p99 latency (ms)")],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Functions: errors and throttles",
                left=[
                    fn.function.metric_errors(period=PERIOD, label=f"{n} errors")
                    for n, fn in functions.items()
                ],
                right=[
                    fn.function.metric_throttles(period=PERIOD, label=f"{n} throttles")
                    for n, fn in functions.items()
                ],
                width=24,
            ),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24),
        )
