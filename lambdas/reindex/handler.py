"""Scheduled reindex: embed the events that have no vector yet (Qdrant was down, time ran out)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from vectadb.reindexing import reindex
from vectadb.runtime import get_runtime

SERVICE = "vectadb-reindex"
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
    result = reindex(runtime.store, runtime.semantic, rebuild=bool(event.get("rebuild")), deadline=deadline)
    metrics.add_metric(name="EventsReindexed", unit=MetricUnit.Count, value=result["indexed"])
    metrics.add_metric(name="EventsUnindexed", unit=MetricUnit.Count, value=result["remaining"])
    return result
