"""One delivery: parse every line, send the events, park in the dead-letter queue what is left.

The invariant, for every delivery: events parsed = events the API accepted + events parked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from vectadb.forwarder.client import ApiClient
from vectadb.forwarder.deadletters import DeadLetters
from vectadb.logparse.parser import Delivery, LogParser


@dataclass
class ForwardReport:
    lines: int = 0
    dropped: int = 0
    filtered: int = 0
    events: int = 0
    parsed: dict[str, int] = field(default_factory=dict)
    redacted: int = 0
    accepted: int = 0
    duplicates: int = 0
    retries: int = 0
    parked_transient: int = 0
    parked_permanent: int = 0
    dlq_messages: int = 0

    @property
    def parked(self) -> int:
        return self.parked_transient + self.parked_permanent

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "parked": self.parked}


def origin_of(delivery: Delivery) -> dict[str, Any]:
    return {"log_group": delivery.log_group, "log_stream": delivery.log_stream, "owner": delivery.owner}


def forward(
    delivery: Delivery,
    lines: Iterable[tuple[str, int, str]],
    parser: LogParser,
    client: ApiClient,
    dead_letters: DeadLetters,
    deadline: float,
    *,
    max_events: int = 100,
    max_bytes: int = 1_000_000,
) -> ForwardReport:
    events, stats = parser.parse_delivery(delivery, lines)
    report = ForwardReport(
        lines=stats.lines,
        dropped=stats.dropped,
        filtered=stats.filtered,
        events=len(events),
        parsed=dict(stats.methods),
        redacted=stats.redacted,
    )
    if not events:
        return report
    sent = client.send(events, deadline, max_events=max_events, max_bytes=max_bytes)
    report.accepted, report.duplicates, report.retries = sent.accepted, sent.duplicates, sent.retries
    for failure in sent.failures:
        parked = dead_letters.park(
            failure.kind, failure.reason, origin_of(delivery), failure.events, failure.errors
        )
        report.dlq_messages += parked.messages
        if failure.kind == "permanent":
            report.parked_permanent += parked.events
        else:
            report.parked_transient += parked.events
    return report
