"""CloudWatch Logs subscription deliveries -> agent events -> the ingestion API.

CloudWatch invokes this function asynchronously with ``{"awslogs": {"data": base64(gzip(json))}}``.
A delivery that cannot be decoded is parked raw in the dead-letter queue instead of raising, since
a raise would only replay the same poison. The function raises only when the dead-letter queue
itself cannot be written: then Lambda's retries and its on-failure destination keep the delivery.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from vectadb.core.observability import add_counts, instruments
from vectadb.forwarder.delivery import UndecodableDelivery, decode
from vectadb.forwarder.forwarder_runtime import get_forwarder_runtime
from vectadb.forwarder.pipeline import forward

SERVICE = "vectadb-parser"
logger, tracer, metrics = instruments(SERVICE)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime = get_forwarder_runtime()
    settings = runtime.settings
    deadline = runtime.deadline(context.get_remaining_time_in_millis())
    try:
        decoded = decode(event)
    except UndecodableDelivery as exc:
        reason = str(exc)
        logger.error(reason)
        runtime.dead_letters.park_raw(reason, json.dumps(event, default=str))
        add_counts(metrics, {"DeliveriesUndecodable": 1})
        return {"status": "undecodable", "reason": reason}
    if decoded.message_type == "CONTROL_MESSAGE":
        logger.info("control message acknowledged")
        return {"status": "control"}
    delivery, lines = decoded.delivery, decoded.lines
    logger.append_keys(log_group=delivery.log_group, log_stream=delivery.log_stream)
    report = forward(
        delivery,
        lines,
        runtime.parser,
        runtime.client,
        runtime.dead_letters,
        deadline,
        max_events=settings.batch_max_events,
        max_bytes=settings.batch_max_bytes,
    )
    counts = {
        "LinesReceived": report.lines,
        "LinesDropped": report.dropped,
        "LinesFiltered": report.filtered,
        "SecretsRedacted": report.redacted,
        "EventsSent": report.accepted,
        "EventsFailed": report.parked,
        "EventsToDLQ": report.parked,
        "SendRetries": report.retries,
    }
    counts |= {f"EventsParsed{method.title()}": n for method, n in report.parsed.items()}
    add_counts(metrics, counts)
    if report.parked:
        logger.warning("events parked in the dead-letter queue", extra=report.as_dict())
    return {"status": "ok", **report.as_dict()}
