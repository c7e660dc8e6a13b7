"""Drain the dead-letter queue: on a schedule (EventBridge) or on demand (any invocation)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vectadb.core.observability import add_counts, instruments
from vectadb.forwarder.forwarder_runtime import ConfigurationError, get_forwarder_runtime
from vectadb.forwarder.redrive import redrive

SERVICE = "vectadb-redrive"
logger, tracer, metrics = instruments(SERVICE)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime = get_forwarder_runtime()
    settings = runtime.settings
    if runtime.sqs is None or not settings.dlq_url:
        raise ConfigurationError("set VECTADB_DLQ_URL: there is no queue to drain")
    deadline = runtime.deadline(context.get_remaining_time_in_millis())
    report = redrive(
        runtime.sqs, settings.dlq_url, runtime.client, runtime.dead_letters, deadline, parser=runtime.parser
    )
    add_counts(
        metrics,
        {
            "EventsReplayed": report.events_replayed,
            "DeadLettersDelivered": report.delivered,
            "DeadLettersKept": report.kept,
            "DeadLettersStillFailing": report.still_failing,
            "EventsToDLQ": report.events_reparked,
        },
    )
    return report.as_dict()
