"""Validate, identify, store and embed events: the seed's Validate → Trace Detect → Store → Embed.

One bad event never sinks the others: each item is validated on its own, and the valid ones are
written in one transaction. A store failure fails the whole batch (nothing half-written), so the
sender can retry it; deterministic ids make that retry harmless. The vector step comes after the
write and never fails a request: events it could not index stay flagged for reindex.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from vectadb.config import Settings
from vectadb.errors import PayloadTooLarge, VectaError, describe_validation_errors
from vectadb.ids import event_id_for, trace_id_for
from vectadb.models import EventIn, format_timestamp, to_millis
from vectadb.semantic import IndexTarget, SemanticIndex
from vectadb.stores.base import STATUS_RANK, EventRecord, EventStore

logger = logging.getLogger(__name__)

_ERROR_LEVELS = frozenset({"error", "critical", "fatal", "panic", "alert", "emergency"})


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    terminal_event_types: Mapping[str, str]
    error_event_types: frozenset[str]
    future_tolerance: timedelta
    max_batch_events: int

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestPolicy:
        return cls(
            terminal_event_types=dict(settings.terminal_event_types),
            error_event_types=settings.error_event_types,
            future_tolerance=timedelta(seconds=settings.future_tolerance_seconds),
            max_batch_events=settings.max_batch_events,
        )


@dataclass(frozen=True, slots=True)
class Accepted:
    index: int
    event_id: str
    trace_id: str | None
    duplicate: bool
    indexed: bool = False


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int
    status: int
    code: str
    message: str
    details: Any = None


ItemResult = Accepted | Rejected


class EventRejected(VectaError):
    """A single event that cannot be stored as sent."""

    status = 422
    code = "validation_error"

    def __init__(
        self, message: str, *, status: int = 422, code: str = "validation_error", details: Any = None
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.status = status


def _is_error(event: EventIn, policy: IngestPolicy) -> bool:
    if event.event_type in policy.error_event_types:
        return True
    level = event.properties.get("level")
    return isinstance(level, str) and level.lower() in _ERROR_LEVELS


def to_record(event: EventIn, policy: IngestPolicy, now: datetime) -> EventRecord:
    """The stored form of a validated event; rejects what the model alone cannot judge."""
    if event.timestamp > now + policy.future_tolerance:
        raise EventRejected(
            f"timestamp {format_timestamp(event.timestamp)} is more than "
            f"{int(policy.future_tolerance.total_seconds())} s in the future",
            code="future_timestamp",
            details=[{"field": "timestamp", "message": "in the future", "type": "future_timestamp"}],
        )
    status = policy.terminal_event_types.get(event.event_type or "")
    return EventRecord(
        event_id=event_id_for(event),
        timestamp_ms=to_millis(event.timestamp),
        trace_id=trace_id_for(event),
        session_id=event.session_id,
        agent_id=event.agent_id,
        parent_event_id=event.parent_event_id,
        event_type=event.event_type,
        properties=event.properties,
        source=event.source.model_dump(exclude_none=True) if event.source else None,
        is_error=_is_error(event, policy),
        status_rank=STATUS_RANK[status] if status else 0,
    )


def rejection_from_validation(exc: ValidationError | Sequence[Mapping[str, Any]]) -> EventRejected:
    errors = exc.errors() if isinstance(exc, ValidationError) else exc
    message, details = describe_validation_errors(errors)
    if any(err.get("type") == "event_too_large" for err in errors):
        return EventRejected(message, status=413, code="event_too_large", details=details)
    return EventRejected(message, details=details)


def _store(records: list[tuple[int, EventRecord]], store: EventStore) -> list[Accepted]:
    """Write unique events once; an id repeated within the batch is reported as a duplicate."""
    unique: dict[str, EventRecord] = {}
    for _, record in records:
        unique.setdefault(record.event_id, record)
    new_ids = store.write_events(list(unique.values()))
    results = []
    for index, record in records:
        first = unique.get(record.event_id) is record
        if first:
            del unique[record.event_id]  # later copies in this batch are duplicates
        results.append(
            Accepted(
                index=index,
                event_id=record.event_id,
                trace_id=record.trace_id,
                duplicate=not (first and record.event_id in new_ids),
            )
        )
    return results


def _index(
    accepted: list[Accepted],
    records: Mapping[str, EventRecord],
    store: EventStore,
    semantic: SemanticIndex,
    deadline: float | None,
) -> list[Accepted]:
    """Embed the new events, and redelivered ones that never got a vector; flag what is indexed."""
    new_ids = {a.event_id for a in accepted if not a.duplicate}
    targets = [IndexTarget.from_record(records[event_id]) for event_id in new_ids]
    indexed: set[str] = set()
    old_ids = [a.event_id for a in accepted if a.duplicate and a.event_id not in new_ids]
    try:
        for event in store.get_events(old_ids).values():
            if event["indexed"]:
                indexed.add(event["event_id"])
            else:
                targets.append(IndexTarget.from_stored(event))  # as stored, not as redelivered
        done = semantic.index_events(targets, deadline) if targets else []
        store.mark_indexed(done)
        indexed.update(done)
    except VectaError as exc:  # a known state: Qdrant down, another model's collection
        logger.warning("vectors not written (%s); %d events stay flagged for reindex", exc.code, len(targets))
    except Exception:  # the events are stored; reindex catches up on the vectors
        logger.exception("the vector step failed; %d events stay flagged for reindex", len(targets))
    return [replace(a, indexed=a.event_id in indexed) for a in accepted]


def ingest_event(
    event: EventIn,
    store: EventStore,
    policy: IngestPolicy,
    semantic: SemanticIndex | None = None,
    now: datetime | None = None,
    deadline: float | None = None,
) -> Accepted:
    record = to_record(event, policy, now or datetime.now(UTC))
    accepted = _store([(0, record)], store)
    if semantic is not None and semantic.configured:
        accepted = _index(accepted, {record.event_id: record}, store, semantic, deadline)
    return accepted[0]


def ingest_batch(
    items: Sequence[Any],
    store: EventStore,
    policy: IngestPolicy,
    semantic: SemanticIndex | None = None,
    now: datetime | None = None,
    deadline: float | None = None,
) -> list[ItemResult]:
    """Validate every item on its own, store the valid ones in one write, embed them, report per item."""
    if len(items) > policy.max_batch_events:
        raise PayloadTooLarge(
            f"a batch holds at most {policy.max_batch_events} events; this one has {len(items)}",
            code="batch_too_large",
        )
    now = now or datetime.now(UTC)
    rejected: list[Rejected] = []
    records: list[tuple[int, EventRecord]] = []
    for index, item in enumerate(items):
        try:
            try:
                event = EventIn.model_validate(item)
            except ValidationError as exc:
                raise rejection_from_validation(exc) from None
            records.append((index, to_record(event, policy, now)))
        except EventRejected as exc:
            rejected.append(
                Rejected(index, exc.status, exc.code, f"events[{index}]: {exc.message}", exc.details)
            )
    accepted = _store(records, store) if records else []
    if semantic is not None and semantic.configured and accepted:
        first_copies = {}
        for _, record in records:
            first_copies.setdefault(record.event_id, record)
        accepted = _index(accepted, first_copies, store, semantic, deadline)
    return sorted([*accepted, *rejected], key=lambda result: result.index)
