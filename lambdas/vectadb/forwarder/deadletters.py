"""The dead-letter queue: what could not be delivered, with why, in messages that SQS accepts.

A message body is JSON:

    {"v": 1, "kind": "transient" | "permanent" | "undecodable", "reason": "...",
     "origin": {"log_group": ..., "log_stream": ..., "owner": ...}, "parked_at": "<RFC 3339>",
     "items": [{"event": {...}, "error": {...} | null}, ...],      # transient and permanent
     "raw": "<the delivery as received>"}                          # undecodable

``transient`` messages are replayed by the redrive function; ``permanent`` and ``undecodable`` ones
are kept for a person to look at. Items are split over as many messages as the size limit needs.
When a message cannot be written the caller must raise: Lambda's retries and its on-failure
destination then keep the delivery.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from vectadb.core.errors import VectaError

VERSION = 1


class DeadLetterError(VectaError):
    code = "dead_letter_failed"


class QueueClient(Protocol):
    def send_message(self, **kwargs: Any) -> Any: ...


@dataclass
class Parked:
    messages: int = 0
    events: int = 0


class DeadLetters:
    def __init__(
        self, sqs: QueueClient | None, queue_url: str | None, max_message_bytes: int = 1_000_000
    ) -> None:
        self._sqs = sqs
        self.queue_url = queue_url
        self.max_message_bytes = max_message_bytes

    def _send(self, body: str, kind: str, reason: str) -> None:
        if self._sqs is None or not self.queue_url:
            raise DeadLetterError("no dead-letter queue is configured (VECTADB_DLQ_URL)")
        try:
            self._sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=body,
                MessageAttributes={
                    "kind": {"DataType": "String", "StringValue": kind},
                    "reason": {"DataType": "String", "StringValue": reason[:256] or "-"},
                },
            )
        except Exception as exc:
            raise DeadLetterError(f"the dead-letter queue refused a message: {type(exc).__name__}") from exc

    def park(
        self,
        kind: str,
        reason: str,
        origin: dict[str, Any],
        events: Sequence[dict[str, Any]],
        errors: Sequence[dict[str, Any] | None] = (),
    ) -> Parked:
        """Park ``events`` (with their per-event ``errors``), as few messages as the size limit allows."""
        head = {"v": VERSION, "kind": kind, "reason": reason, "origin": origin, "parked_at": _now()}
        empty = len(json.dumps({**head, "items": []}, ensure_ascii=False).encode())
        parked = Parked()
        items: list[str] = []
        size = empty
        for index, event in enumerate(events):
            error = errors[index] if index < len(errors) else None
            item = json.dumps({"event": event, "error": error}, separators=(",", ":"), ensure_ascii=False)
            cost = len(item.encode()) + 1
            if empty + cost > self.max_message_bytes:
                raise DeadLetterError(
                    f"one event is {cost} bytes, over the dead-letter message limit "
                    f"of {self.max_message_bytes}"
                )
            if items and size + cost > self.max_message_bytes:
                self._flush(head, items, kind, reason, parked)
                items, size = [], empty
            items.append(item)
            size += cost
        if items:
            self._flush(head, items, kind, reason, parked)
        return parked

    def _flush(self, head: dict[str, Any], items: list[str], kind: str, reason: str, parked: Parked) -> None:
        body = json.dumps(head, ensure_ascii=False)[:-1] + ',"items":[' + ",".join(items) + "]}"
        self._send(body, kind, reason)
        parked.messages += 1
        parked.events += len(items)

    def park_raw(self, reason: str, raw: str, origin: dict[str, Any] | None = None) -> Parked:
        """A delivery that could not be decoded, kept exactly as it came."""
        body = json.dumps(
            {
                "v": VERSION,
                "kind": "undecodable",
                "reason": reason,
                "origin": origin or {},
                "parked_at": _now(),
                "raw": raw,
            },
            ensure_ascii=False,
        )
        if len(body.encode()) > self.max_message_bytes:
            raise DeadLetterError(f"an undecodable delivery of {len(raw)} bytes is over the message limit")
        self._send(body, "undecodable", reason)
        return Parked(messages=1, events=0)


def read_message(body: str) -> dict[str, Any]:
    """A parked message; raises ValueError when it is not one."""
    data = json.loads(body)
    if (
        not isinstance(data, dict)
        or data.get("v") != VERSION
        or data.get("kind")
        not in (
            "transient",
            "permanent",
            "undecodable",
        )
    ):
        raise ValueError("not a VectaDB dead-letter message")
    return data


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
