"""Decoding a subscription delivery ``{"awslogs": {"data": ...}}``, for the parser and the redrive.

The redrive meets deliveries again inside Lambda's on-failure destination records: when the parser
itself failed every attempt (or the event grew too old), Lambda writes
``{"requestContext": {...}, "requestPayload": <the delivery>, ...}`` to the dead-letter queue.
"""

from __future__ import annotations

import binascii
import json
import zlib
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent

from vectadb.core import jsoncodec
from vectadb.logparse.parser import Delivery


class UndecodableDelivery(ValueError):
    """Not a CloudWatch Logs subscription delivery; the message says why."""


@dataclass(frozen=True)
class DecodedDelivery:
    message_type: str
    delivery: Delivery
    lines: list[tuple[str, int, str]]


_UNDECODABLE = (
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    binascii.Error,
    zlib.error,
    UnicodeDecodeError,
)


def decode(event: dict[str, Any]) -> DecodedDelivery:
    try:
        data = CloudWatchLogsEvent(event, json_deserializer=jsoncodec.loads).parse_logs_data()
        return DecodedDelivery(
            data.message_type,
            Delivery(data.log_group, data.log_stream, data.get("owner")),
            # The raw entries: a wrapper object per line costs more than the rest of decoding.
            [(e["id"], int(e["timestamp"]), str(e["message"])) for e in data.raw_event["logEvents"]],
        )
    except _UNDECODABLE as exc:
        raise UndecodableDelivery(f"undecodable delivery: {type(exc).__name__}: {str(exc)[:200]}") from None


def from_destination_record(body: str) -> dict[str, Any] | None:
    """The delivery inside a Lambda on-failure destination record, or None for anything else."""
    try:
        record = json.loads(body)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("requestContext"), dict):
        return None
    payload = record.get("requestPayload")
    if isinstance(payload, dict) and isinstance(payload.get("awslogs"), dict):
        return payload
    return None
