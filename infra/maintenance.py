"""Scheduled upkeep: reindex what has no vector yet, and delete what is past retention."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.config import DeployConfig
from infra.functions import VectaFunction


class Maintenance(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        reindex: VectaFunction,
        retention: VectaFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.reindex = reindex
        self.retention = retention
        events.Rule(
            self,
            "ReindexSchedule",
            description="VectaDB: embed the events that have no vector yet",
            schedule=events.Schedule.rate(cdk.Duration.minutes(config.schedules.reindex_minutes)),
            targets=[targets.LambdaFunction(reindex.function, retry_attempts=0)],
        )
        events.Rule(
            self,
            "RetentionSchedule",
            description=f"VectaDB: delete events older than {config.retention_days} days",
            schedule=events.Schedule.rate(cdk.Duration.hours(config.schedules.retention_hours)),
            targets=[targets.LambdaFunction(retention.function, retry_attempts=0)],
        )
