"""Replay the dead-letter queue: transient messages are sent again, the others are kept and counted.

A transient message is deleted only once each of its events is stored by the API or parked again
(as permanent when the API now refuses it, as a new transient message when it still cannot be
delivered); so the conservation invariant holds through a replay. Permanent and undecodable
messages, and anything that is not a VectaDB message, are never deleted here.

Lambda's own on-failure destination records (the parser failed every attempt) carry the original
delivery: it is parsed and forwarded like a new one, and the record is deleted once each of its
events is stored or parked as a VectaDB message.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from vectadb.forwarder.client import ApiClient
from vectadb.forwarder.deadletters import DeadLetters, read_message
from vectadb.forwarder.delivery import UndecodableDelivery, decode, from_destination_record
from vectadb.forwarder.pipeline import forward
from vectadb.logparse.parser import LogParser

logger = logging.getLogger(__name__)


class StillFailing(Exception):
    """Nothing of the message could be delivered: it stays in the queue for a later run."""


@dataclass
class Replay:
    kind: str
    delivered: bool  # the message can be deleted
    events: int = 0
    accepted: int = 0
    reparked: int = 0


@dataclass
class RedriveReport:
    messages: int = 0
    delivered: int = 0
    kept: int = 0
    still_failing: int = 0
    events_replayed: int = 0
    events_reparked: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def replay(
    body: str,
    client: ApiClient,
    dead_letters: DeadLetters,
    deadline: float,
    parser: LogParser | None = None,
) -> Replay:
    try:
        message = read_message(body)
    except ValueError:
        payload = from_destination_record(body)
        if payload is not None and parser is not None:
            return replay_delivery(payload, parser, client, dead_letters, deadline)
        logger.warning("kept a message that is not a VectaDB dead letter")
        return Replay("unknown", delivered=False)
    if message["kind"] != "transient":
        return Replay(message["kind"], delivered=False)
    events = [item["event"] for item in message.get("items", [])]
    result = client.send(events, deadline)
    if result.accepted == 0 and all(f.kind == "transient" for f in result.failures) and result.failures:
        raise StillFailing(result.failures[0].reason)
    reparked = 0
    for failure in result.failures:
        reason = f"{failure.reason} (on replay)"
        reparked += dead_letters.park(
            failure.kind, reason, message.get("origin", {}), failure.events, failure.errors
        ).events
    return Replay(
        "transient", delivered=True, events=len(events), accepted=result.accepted, reparked=reparked
    )


def replay_delivery(
    payload: dict[str, Any], parser: LogParser, client: ApiClient, dead_letters: DeadLetters, deadline: float
) -> Replay:
    """A delivery from a destination record: forwarded as new; what fails is parked as ours."""
    try:
        decoded = decode(payload)
    except UndecodableDelivery as exc:
        dead_letters.park_raw(str(exc), json.dumps(payload, default=str))
        return Replay("destination", delivered=True)
    if decoded.message_type != "DATA_MESSAGE":
        return Replay("destination", delivered=True)
    report = forward(decoded.delivery, decoded.lines, parser, client, dead_letters, deadline)
    return Replay(
        "destination", delivered=True, events=report.events, accepted=report.accepted, reparked=report.parked
    )


def _record(message: dict[str, Any]) -> dict[str, Any]:
    """A message from ReceiveMessage in the shape of an SQS event record, for the batch processor."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
    }


def redrive(
    sqs: Any,
    queue_url: str,
    client: ApiClient,
    dead_letters: DeadLetters,
    deadline: float,
    *,
    parser: LogParser | None = None,
    visibility_timeout: int = 300,
) -> RedriveReport:
    """Drain ``queue_url`` until it has nothing visible or the deadline comes."""
    report = RedriveReport()
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handle(record: SQSRecord) -> Replay:
        return replay(record.body, client, dead_letters, deadline, parser)

    held: list[str] = []  # receipt handles of the messages this run keeps
    while time.monotonic() < deadline:
        received = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=visibility_timeout,
            MessageAttributeNames=["All"],
        )
        messages = received.get("Messages", [])
        if not messages:
            break
        report.messages += len(messages)
        with processor(records=[_record(m) for m in messages], handler=handle):
            outcomes = processor.process()
        for status, outcome, record in outcomes:  # record: the dict given to the processor
            if status == "success" and outcome.delivered:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"])
                report.delivered += 1
                report.events_replayed += outcome.accepted
                report.events_reparked += outcome.reparked
                continue
            if status == "success":
                report.kept += 1
            else:
                report.still_failing += 1
            held.append(record["receiptHandle"])
    # Hidden only while this run drains; visible again for the next run and for people.
    for receipt in held:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    logger.info("redrive: %s", json.dumps(report.as_dict()))
    return report
