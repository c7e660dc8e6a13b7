"""Scheduled reindex: embed the events that have no vector yet (Qdrant was down, time ran out)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vectadb.core.observability import add_counts, deadline_after, instruments
from vectadb.service.api_runtime import get_runtime
from vectadb.service.reindex import reindex

SERVICE = "vectadb-reindex"
RESERVE_SECONDS = 10.0
logger, tracer, metrics = instruments(SERVICE)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime = get_runtime()
    deadline = deadline_after(context.get_remaining_time_in_millis(), RESERVE_SECONDS)
    result = reindex(runtime.store, runtime.semantic, rebuild=bool(event.get("rebuild")), deadline=deadline)
    add_counts(metrics, {"EventsReindexed": result["indexed"], "EventsUnindexed": result["remaining"]})
    return result
