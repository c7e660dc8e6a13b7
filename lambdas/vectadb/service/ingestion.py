"""Validate, identify, store and embed events: the seed's Validate → Trace Detect → Store → Embed.

One bad event never sinks the others: each item is validated on its own, and the valid ones are
written in one transaction. If the store refuses that write for good, the refused events are
isolated and the rest is stored; if the store is unreachable, the whole batch fails (nothing
half-written) so that the sender retries it, and deterministic ids make that retry harmless.

The first stored copy of an event wins: a redelivery, even one whose session, trace, parent or
content differs, is a duplicate that changes nothing, and its result names the fields that differ.

A log-derived event without a session joins the run open in its log stream (``runs.py``).

The vector step never fails a request: events it could not index stay flagged for reindex. New
events are embedded before the write (``_embed_first``), so that each is written once, flagged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from vectadb.core.config import Settings
from vectadb.core.errors import PayloadTooLarge, StoreRejected, VectaError, describe_validation_errors
from vectadb.core.ids import event_id_for, trace_id_for, trace_id_for_session
from vectadb.core.models import EventIn, StoredEvent, format_timestamp, to_millis
from vectadb.core.runs import Attribution, attribute_to_runs
from vectadb.semantic.index import IndexTarget, SemanticIndex
from vectadb.stores.base import STATUS_RANK, EventRecord, EventStore, named_model

logger = logging.getLogger(__name__)

_ERROR_LEVELS = frozenset({"error", "critical", "fatal", "panic", "alert", "emergency"})


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    terminal_event_types: Mapping[str, str]
    error_event_types: frozenset[str]
    future_tolerance: timedelta
    max_batch_events: int

    @property
    def status_ranks(self) -> dict[str, int]:
        """What each terminal event type does to its trace's status (the ladder's rank)."""
        return {event_type: STATUS_RANK[status] for event_type, status in self.terminal_event_types.items()}

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
    # The fields in which this copy differs from the stored one (kept: the first copy wins,
    # unless the sender asked to replace it).
    conflict: tuple[str, ...] = ()
    replaced: bool = False


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

    code = "validation_error"


def _is_error(event: EventIn, policy: IngestPolicy) -> bool:
    if event.event_type in policy.error_event_types:
        return True
    level = event.properties.get("level")
    return isinstance(level, str) and level.lower() in _ERROR_LEVELS


def refuse_future(event: EventIn, policy: IngestPolicy, now: datetime) -> None:
    """An event from the future is refused before anything of it is kept (its run marks too)."""
    if event.timestamp > now + policy.future_tolerance:
        raise EventRejected(
            f"timestamp {format_timestamp(event.timestamp)} is more than "
            f"{int(policy.future_tolerance.total_seconds())} s in the future",
            code="future_timestamp",
            details=[{"field": "timestamp", "message": "in the future", "type": "future_timestamp"}],
        )


def to_record(event: EventIn, policy: IngestPolicy, now: datetime) -> EventRecord:
    """The stored form of a validated event; rejects what the model alone cannot judge."""
    refuse_future(event, policy, now)
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
        return EventRejected(message, code="event_too_large", details=details)
    return EventRejected(message, details=details)


# What a redelivery is compared on: everything the sender controls. The first stored copy wins.
_COMPARED_FIELDS = (
    "timestamp",
    "event_type",
    "session_id",
    "agent_id",
    "trace_id",
    "parent_event_id",
    "properties",
    "source",
)


def _sent_properties(properties: Mapping[str, Any]) -> Mapping[str, Any]:
    """Properties as the sender said them: a model inferred from the run depends on what else has
    arrived, so it is not compared."""
    if properties.get("model_inferred") is not True:
        return properties
    return {key: value for key, value in properties.items() if key not in ("model", "model_inferred")}


def _comparable_record(record: EventRecord) -> dict[str, Any]:
    return {
        "timestamp": record.timestamp_ms,
        "event_type": record.event_type,
        "session_id": record.session_id,
        "agent_id": record.agent_id,
        "trace_id": record.trace_id,
        "parent_event_id": record.parent_event_id,
        "properties": _sent_properties(record.properties),
        "source": record.source,
    }


def _comparable_stored(event: Mapping[str, Any]) -> dict[str, Any]:
    timestamp = event.get("timestamp")
    return {
        **{name: event.get(name) for name in _COMPARED_FIELDS},
        "timestamp": to_millis(timestamp) if isinstance(timestamp, datetime) else timestamp,
        "properties": _sent_properties(event.get("properties") or {}),
    }


def conflicting_fields(sent: Mapping[str, Any], kept: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields in which a redelivered copy differs from the copy that is kept."""
    return tuple(name for name in _COMPARED_FIELDS if sent.get(name) != kept.get(name))


def _write_isolating(
    records: list[EventRecord], store: EventStore
) -> tuple[set[str], dict[str, StoreRejected]]:
    """Write the records; if the store refuses the whole write, find the events it refuses.

    A refusal that retrying will not fix must not take the rest of the batch with it: the write
    is split in halves until the refused events stand alone. Writes are idempotent, so a half
    that is tried again is harmless.
    """
    try:
        return store.write_events(records), {}
    except StoreRejected as exc:
        if len(records) == 1:
            return set(), {records[0].event_id: exc}
        middle = len(records) // 2
        new_ids, refused = _write_isolating(records[:middle], store)
        more_new, more_refused = _write_isolating(records[middle:], store)
        return new_ids | more_new, refused | more_refused


@dataclass(frozen=True, slots=True)
class _Stored:
    """The outcome of one write: a result per item, the stored copies of the duplicates, and the
    store's refusals by event id."""

    results: list[ItemResult]
    kept: dict[str, StoredEvent]  # stored copies of the duplicates (as they are now)
    refused: dict[str, StoreRejected]


def _first_copies(records: list[tuple[int, EventRecord]]) -> dict[str, EventRecord]:
    """Each id's first copy in the batch: the one that is written."""
    unique: dict[str, EventRecord] = {}
    for _, record in records:
        unique.setdefault(record.event_id, record)
    return unique


def _store(
    records: list[tuple[int, EventRecord]], store: EventStore, policy: IngestPolicy, replace: bool
) -> _Stored:
    """Write each event once; report copies already stored (or repeated in the batch) as duplicates.

    With ``replace``, a stored event whose new copy differs takes that copy (an explicit re-parse);
    within one batch, the first copy of an id is the one written.
    """
    unique = _first_copies(records)
    new_ids, refused = _write_isolating(list(unique.values()), store)
    if refused:
        logger.warning("the store refused %d of %d events; the others are stored", len(refused), len(unique))
    old_ids = [event_id for event_id in unique if event_id not in new_ids and event_id not in refused]
    kept = store.get_events(old_ids) if old_ids else {}
    conflicts = {
        event_id: conflicting_fields(_comparable_record(unique[event_id]), _comparable_stored(row))
        for event_id, row in kept.items()
    }
    replaced = [unique[event_id] for event_id, fields in conflicts.items() if replace and fields]
    if replaced:
        _replace(replaced, store, policy, kept, refused)
    results: list[ItemResult] = []
    written: set[str] = set()
    for index, record in records:
        event_id = record.event_id
        if event_id in refused:
            results.append(_rejected(index, refused[event_id]))
            continue
        first = event_id not in written
        written.add(event_id)
        if first and event_id in new_ids:
            results.append(Accepted(index, event_id, record.trace_id, duplicate=False))
        elif first and event_id in conflicts and event_id not in kept:  # replaced by this copy
            results.append(
                Accepted(index, event_id, record.trace_id, True, conflict=conflicts[event_id], replaced=True)
            )
        else:
            results.append(_duplicate(index, record, kept.get(event_id), unique[event_id]))
    return _Stored(results, kept, refused)


def _replace(
    replaced: list[EventRecord],
    store: EventStore,
    policy: IngestPolicy,
    kept: dict[str, StoredEvent],
    refused: dict[str, StoreRejected],
) -> None:
    """Replace stored events by their new copies, in one write: replaced, they are no longer the
    ``kept`` copies; refused, all of them are ``refused``."""
    try:
        store.replace_events(replaced, policy.status_ranks)
    except StoreRejected as exc:
        refused.update((record.event_id, exc) for record in replaced)
    else:
        for record in replaced:
            del kept[record.event_id]


def _rejected(index: int, error: StoreRejected) -> Rejected:
    return Rejected(index, error.status, error.code, f"events[{index}]: {error.message}")


def _duplicate(
    index: int, record: EventRecord, stored: Mapping[str, Any] | None, first_copy: EventRecord
) -> Accepted:
    """A copy of an event that is already stored (``stored``, unless the store gave none back) or
    earlier in the batch (``first_copy``): accepted as a duplicate, with the fields that differ
    from the copy that is kept."""
    kept_copy = _comparable_stored(stored) if stored else _comparable_record(first_copy)
    return Accepted(
        index,
        record.event_id,
        kept_copy["trace_id"],
        duplicate=True,
        conflict=conflicting_fields(_comparable_record(record), kept_copy),
    )


def _embed_first(
    records: list[tuple[int, EventRecord]],
    store: EventStore,
    semantic: SemanticIndex,
    deadline: float | None,
) -> tuple[list[tuple[int, EventRecord]], set[str]]:
    """Embed the events that are not stored yet before writing them, so that each is written once,
    already flagged ``indexed``: a flag update after the write rewrote every new event and its
    index entries. A vector whose event then fails to be written is harmless: search skips hits
    without an event, and the retry upserts the same point."""
    unique = _first_copies(records)
    try:
        stored = store.existing_ids(list(unique))
        fresh = [record for event_id, record in unique.items() if event_id not in stored]
        targets = [IndexTarget.from_record(record) for record in fresh]
        done = set(semantic.index_events(targets, deadline)) if targets else set()
    except VectaError as exc:  # a known state: Qdrant down, another model's collection
        logger.warning("vectors not written (%s); the new events stay flagged for reindex", exc.code)
        return records, set()
    except Exception:  # the events are still stored; reindex catches up on the vectors
        logger.exception("the vector step failed; the new events stay flagged for reindex")
        return records, set()
    return [(index, replace(r, indexed=True) if r.event_id in done else r) for index, r in records], done


def _index(
    results: list[ItemResult],
    records: Mapping[str, EventRecord],
    kept: Mapping[str, Mapping[str, Any]],
    store: EventStore,
    semantic: SemanticIndex,
    deadline: float | None,
    embedded: set[str] | None = None,
) -> list[ItemResult]:
    """Embed the new events (unless ``embedded`` before the write), and redelivered ones that never
    got a vector; flag what is indexed."""
    embedded = embedded or set()
    accepted = [r for r in results if isinstance(r, Accepted)]
    new_ids = {a.event_id for a in accepted if not a.duplicate or a.replaced}  # replaced: embedded anew
    targets = [IndexTarget.from_record(records[event_id]) for event_id in new_ids - embedded]
    indexed: set[str] = new_ids & embedded
    conflicting = {a.event_id for a in accepted if a.conflict}
    for event_id, event in kept.items():
        if event_id in new_ids:
            continue
        if event_id in embedded and event_id in conflicting:
            # Another copy was stored first, and this one's vector went in: the stored copy's again.
            targets.append(IndexTarget.from_stored(event))
        elif event["indexed"]:
            indexed.add(event_id)
        else:
            targets.append(IndexTarget.from_stored(event))  # as stored, not as redelivered
    try:
        done = semantic.index_events(targets, deadline) if targets else []
        store.mark_indexed(done)
        indexed.update(done)
    except VectaError as exc:  # a known state: Qdrant down, another model's collection
        logger.warning("vectors not written (%s); %d events stay flagged for reindex", exc.code, len(targets))
    except Exception:  # the events are stored; reindex catches up on the vectors
        logger.exception("the vector step failed; %d events stay flagged for reindex", len(targets))
    return [replace(r, indexed=r.event_id in indexed) if isinstance(r, Accepted) else r for r in results]


def inherit_models(
    records: list[tuple[int, EventRecord]], store: EventStore
) -> list[tuple[int, EventRecord]]:
    """An LLM call that does not say its model takes the one its trace last named before it (a
    run's header, the call's span): from this batch, else from the stored trace. Marked
    ``model_inferred``. The parser does the same within a delivery; this carries it across them."""
    needy = [
        position
        for position, (_, record) in enumerate(records)
        if record.event_type == "llm_call" and record.trace_id and not record.properties.get("model")
    ]
    if not needy:
        return records
    named: dict[str, list[tuple[int, str]]] = {}
    for _, record in records:
        model = named_model(record.properties)
        if record.trace_id and model is not None:
            named.setdefault(record.trace_id, []).append((record.timestamp_ms, model))
    for models in named.values():
        models.sort()

    def in_batch(record: EventRecord) -> str | None:
        earlier = [model for ms, model in named.get(record.trace_id or "", ()) if ms <= record.timestamp_ms]
        return earlier[-1] if earlier else None

    from_batch = {position: in_batch(records[position][1]) for position in needy}
    stored = store.trace_models(
        sorted({records[p][1].trace_id or "" for p, model in from_batch.items() if model is None})
    )
    result = list(records)
    for position, model in from_batch.items():
        index, record = records[position]
        model = model or stored.get(record.trace_id or "")
        if model is not None:
            properties = {**record.properties, "model": model, "model_inferred": True}
            result[position] = (index, replace(record, properties=properties))
    return result


def _end_runs(attribution: Attribution, store: EventStore) -> None:
    """Runs that the next run of their stream ended are completed, unless something failed them."""
    if attribution.ended_sessions:
        store.complete_traces([trace_id_for_session(session) for session in attribution.ended_sessions])


def _write_and_index(
    records: list[tuple[int, EventRecord]],
    attribution: Attribution,
    store: EventStore,
    policy: IngestPolicy,
    semantic: SemanticIndex | None,
    deadline: float | None,
    replace: bool,
) -> tuple[_Stored, list[ItemResult]]:
    """What follows validation, for one event or a batch: models inherited, new events embedded,
    the write, the runs it ended, the vectors still owed."""
    records = inherit_models(records, store)
    semantic_on = semantic is not None and semantic.configured
    embedded: set[str] = set()
    if semantic_on and not replace:
        assert semantic is not None
        records, embedded = _embed_first(records, store, semantic, deadline)
    stored = _store(records, store, policy, replace)
    _end_runs(attribution, store)
    results = stored.results
    if semantic_on:
        assert semantic is not None
        results = _index(results, _first_copies(records), stored.kept, store, semantic, deadline, embedded)
    return stored, results


def ingest_event(
    event: EventIn,
    store: EventStore,
    policy: IngestPolicy,
    semantic: SemanticIndex | None = None,
    now: datetime | None = None,
    deadline: float | None = None,
    replace: bool = False,
) -> Accepted:
    now = now or datetime.now(UTC)
    refuse_future(event, policy, now)
    attribution = attribute_to_runs([event], store, policy.terminal_event_types)
    record = to_record(attribution.events[0], policy, now)
    stored, results = _write_and_index([(0, record)], attribution, store, policy, semantic, deadline, replace)
    if record.event_id in stored.refused:
        raise stored.refused[record.event_id]
    result = results[0]
    assert isinstance(result, Accepted)  # a refusal was raised above
    return result


def _refusal(index: int, error: EventRejected) -> Rejected:
    return Rejected(index, error.status, error.code, f"events[{index}]: {error.message}", error.details)


def ingest_batch(
    items: Sequence[Any],
    store: EventStore,
    policy: IngestPolicy,
    semantic: SemanticIndex | None = None,
    now: datetime | None = None,
    deadline: float | None = None,
    replace: bool = False,
) -> list[ItemResult]:
    """Validate every item on its own, store the valid ones in one write, embed them, report per item."""
    if len(items) > policy.max_batch_events:
        raise PayloadTooLarge(
            f"a batch holds at most {policy.max_batch_events} events; this one has {len(items)}",
            code="batch_too_large",
        )
    now = now or datetime.now(UTC)
    rejected: list[Rejected] = []
    valid: list[tuple[int, EventIn]] = []
    for index, item in enumerate(items):
        try:
            event = EventIn.model_validate(item)
            refuse_future(event, policy, now)
        except ValidationError as exc:
            rejected.append(_refusal(index, rejection_from_validation(exc)))
        except EventRejected as exc:
            rejected.append(_refusal(index, exc))
        else:
            valid.append((index, event))
    attribution = attribute_to_runs([event for _, event in valid], store, policy.terminal_event_types)
    records: list[tuple[int, EventRecord]] = []
    for (index, _), event in zip(valid, attribution.events, strict=True):
        try:
            records.append((index, to_record(event, policy, now)))
        except EventRejected as exc:
            rejected.append(_refusal(index, exc))
    if not records:
        return sorted(rejected, key=lambda result: result.index)
    _, results = _write_and_index(records, attribution, store, policy, semantic, deadline, replace)
    return sorted([*results, *rejected], key=lambda result: result.index)
