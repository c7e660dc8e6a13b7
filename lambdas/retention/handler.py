"""Scheduled retention: delete events older than VECTADB_RETENTION_DAYS from SurrealDB and Qdrant."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vectadb.core.observability import add_counts, deadline_after, instruments
from vectadb.service import retention
from vectadb.service.api_runtime import get_runtime

SERVICE = "vectadb-retention"
RESERVE_SECONDS = 10.0
logger, tracer, metrics = instruments(SERVICE)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime = get_runtime()
    deadline = deadline_after(context.get_remaining_time_in_millis(), RESERVE_SECONDS)
    report = retention.purge(
        runtime.store, runtime.semantic, runtime.settings.retention_days, deadline=deadline
    )
    counts = {"EventsExpired": report["events_deleted"], "TracesExpired": report["traces_deleted"]}
    add_counts(metrics, counts)
    return report
