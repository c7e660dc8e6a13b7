"""Scheduled retention: delete events older than VECTADB_RETENTION_DAYS from SurrealDB and Qdrant."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vectadb import retention
from vectadb.runtime import get_runtime

SERVICE = "vectadb-retention"
RESERVE_SECONDS = 10.0
logger = Logger(service=SERVICE)
copy_config_to_registered_loggers(source_logger=logger, include={"vectadb"})
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="VectaDB", service=SERVICE)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime = get_runtime()
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - RESERVE_SECONDS
    report = retention.purge(
        runtime.store, runtime.semantic, runtime.settings.retention_days, deadline=deadline
    )
    metrics.add_metric(name="EventsExpired", unit=MetricUnit.Count, value=report["events_deleted"])
    metrics.add_metric(name="TracesExpired", unit=MetricUnit.Count, value=report["traces_deleted"])
    return report
