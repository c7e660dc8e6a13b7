"""Read paths: events with filters, traces with their events, and the seed's aggregations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from vectadb.core.errors import BadRequest, NotFound
from vectadb.core.models import (
    MAX_TRACE_ID_LENGTH,
    MIN_TIMESTAMP,
    EventPageDict,
    InvocationsDict,
    SearchDict,
    SearchFilters,
    SearchHitDict,
    StatsBucketDict,
    StatsDict,
    StoredEvent,
    StoredTrace,
    TraceDetailDict,
    TracePageDict,
    format_timestamp,
    from_millis,
    is_valid_id,
    to_millis,
)
from vectadb.semantic.index import SemanticIndex
from vectadb.semantic.vectors import VectorFilters
from vectadb.service.pagination import decode_cursor, encode_cursor
from vectadb.stores.base import (
    SORT_TIE,
    STATUS_RANK,
    EventQuery,
    EventStore,
    ListedEvent,
    ListedTrace,
    Order,
    Position,
    TraceQuery,
)

DEFAULT_STATS_WINDOW = timedelta(hours=24)
ABANDONED_AFTER = timedelta(minutes=15)


def _check_range(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and start >= end:
        raise BadRequest("start must be before end", code="invalid_range")


_Row = TypeVar("_Row", ListedEvent, ListedTrace)


def _page(
    rows: list[_Row],
    limit: int,
    listing: str,
    order: Order,
    sort_key: Callable[[_Row], tuple[datetime, str]],
) -> tuple[list[_Row], str | None]:
    """Trim the look-ahead row and make the cursor from the last row kept (``sort_key``: a row's
    sort time and id)."""
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = None
    if more and rows:
        last = rows[-1]
        sort_time, row_id = sort_key(last)
        tie = last.get(SORT_TIE) or str(row_id)
        cursor = encode_cursor(listing, order, Position(ms=to_millis(sort_time), id=tie))
    for row in rows:
        row.pop(SORT_TIE, None)
    return rows, cursor


def _event_key(event: ListedEvent) -> tuple[datetime, str]:
    return event["timestamp"], event["event_id"]


def _trace_key(trace: ListedTrace) -> tuple[datetime, str]:
    return trace["start_time"], trace["trace_id"]


def list_events(store: EventStore, query: EventQuery, cursor: str | None = None) -> EventPageDict:
    _check_range(query.start, query.end)
    after = decode_cursor(cursor, "events", query.order) if cursor else None
    rows = store.list_events(replace(query, limit=query.limit + 1, after=after))
    events, next_cursor = _page(rows, query.limit, "events", query.order, _event_key)
    return {"events": events, "next_cursor": next_cursor}


def get_event(store: EventStore, event_id: str) -> StoredEvent:
    # An id outside the alphabet cannot be stored, and must not reach the store's key encoding.
    event = store.get_events([event_id]).get(event_id) if is_valid_id(event_id) else None
    if event is None:
        raise NotFound(f"event {event_id} does not exist", code="event_not_found")
    return event


def _mark_abandoned(trace: StoredTrace, abandoned_after: timedelta, now: datetime | None) -> StoredTrace:
    """A running trace whose last event is older than ``abandoned_after`` is shown as abandoned."""
    last = trace.get("last_event_at")
    trace["abandoned"] = (
        trace.get("status") == "running"
        and isinstance(last, datetime)
        and (now or datetime.now(UTC)) - last > abandoned_after
    )
    return trace


def get_trace(
    store: EventStore,
    trace_id: str,
    limit: int,
    cursor: str | None = None,
    abandoned_after: timedelta = ABANDONED_AFTER,
    now: datetime | None = None,
) -> TraceDetailDict:
    trace = store.get_trace(trace_id) if is_valid_id(trace_id, MAX_TRACE_ID_LENGTH) else None
    if trace is None:
        raise NotFound(f"trace {trace_id} does not exist", code="trace_not_found")
    page = list_events(store, EventQuery(trace_id=trace_id, order="asc", limit=limit), cursor)
    return {"trace": _mark_abandoned(trace, abandoned_after, now), **page}


def list_traces(
    store: EventStore,
    query: TraceQuery,
    cursor: str | None = None,
    abandoned_after: timedelta = ABANDONED_AFTER,
    now: datetime | None = None,
) -> TracePageDict:
    _check_range(query.start, query.end)
    after = decode_cursor(cursor, "traces", query.order) if cursor else None
    rows = store.list_traces(replace(query, limit=query.limit + 1, after=after))
    traces, next_cursor = _page(rows, query.limit, "traces", query.order, _trace_key)
    return {"traces": [_mark_abandoned(t, abandoned_after, now) for t in traces], "next_cursor": next_cursor}


# A time grouping: its bucket's length. Other groupings are rollup dimensions.
_TIME_GROUPS = {"hour": 3_600_000, "day": 86_400_000}


def stats(
    store: EventStore,
    group_by: str,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> StatsDict:
    """Counts, errors, calls, tokens, cost and mean duration per value of ``group_by`` (or per hour
    or day), from the per-hour rollups: the cost grows with the number of hours, not of events."""
    end = end or now or datetime.now(UTC)
    # The default window never reaches before the earliest time an event can have.
    start = start or max(end - DEFAULT_STATS_WINDOW, MIN_TIMESTAMP)
    _check_range(start, end)
    size = _TIME_GROUPS.get(group_by)
    rows = store.rollups("event_type" if size else group_by, to_millis(start), to_millis(end))
    buckets: dict[str | None, dict[str, Any]] = {}
    for row in rows:
        key = format_timestamp(from_millis(row.bucket_ms - row.bucket_ms % size)) if size else row.key
        bucket = buckets.setdefault(key, dict.fromkeys(_SUMS, 0))
        for name in _SUMS:
            bucket[name] += getattr(row, name)
    out: list[StatsBucketDict] = []
    for key in sorted(buckets, key=lambda k: (k is None, k or "")):
        sums = buckets[key]
        if sums["n"] == 0:
            continue  # a value whose events all fell outside the window
        out.append(
            {
                "key": key,
                "total": sums["n"],
                "errors": sums["errors"],
                "calls": sums["calls"],
                "input_tokens": sums["input_tokens"],
                "output_tokens": sums["output_tokens"],
                "cost_usd": round(sums["cost_usd"], 6),
                "avg_duration_ms": round(sums["duration_ms"] / sums["timed"], 3) if sums["timed"] else None,
            }
        )
    return {
        "group_by": group_by,
        "start": start,
        "end": end,
        "total": sum(b["total"] for b in out),
        "errors": sum(b["errors"] for b in out),
        "buckets": out,
        "invocations": invocation_durations(store, start, end),
        "traces": {status: store.count_traces(status, start, end) for status in STATUS_RANK},
    }


# Percentiles do not add up across hours as sums do, so they are read from the reports themselves
# (one range of the event-type index), newest first, up to this many.
MAX_REPORTS = 5_000


def invocation_durations(store: EventStore, start: datetime, end: datetime) -> InvocationsDict:
    """p50 and p95 of the invocation durations that Lambda reported (``REPORT`` lines) in the window."""
    durations = store.durations("lambda_report", start, end, MAX_REPORTS)
    return {
        "count": len(durations),
        "p50_ms": _percentile(durations, 50),
        "p95_ms": _percentile(durations, 95),
        "sampled": len(durations) >= MAX_REPORTS,
    }


def _percentile(values: list[float], percent: int) -> float | None:
    """Nearest rank: the smallest value that at least ``percent`` % of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * percent // 100) - 1)]


_SUMS = ("n", "errors", "calls", "input_tokens", "output_tokens", "cost_usd", "timed", "duration_ms")


def _event_hits(store: EventStore, hits: list[tuple[str, float]]) -> list[SearchHitDict]:
    """The full events from SurrealDB, in score order; a hit whose event is gone is dropped."""
    events = store.get_events([event_id for event_id, _ in hits])
    return [{"score": score, "event": events[event_id]} for event_id, score in hits if event_id in events]


def search(
    store: EventStore, semantic: SemanticIndex, query: str, limit: int, filters: SearchFilters
) -> SearchDict:
    _check_range(filters.start, filters.end)
    vector_filters = VectorFilters(
        event_type=filters.event_type,
        session_id=filters.session_id,
        trace_id=filters.trace_id,
        agent_id=filters.agent_id,
        start_ms=to_millis(filters.start) if filters.start else None,
        end_ms=to_millis(filters.end) if filters.end else None,
    )
    return {"hits": _event_hits(store, semantic.search(query, limit, vector_filters))}


def similar(store: EventStore, semantic: SemanticIndex, event_id: str, limit: int) -> SearchDict:
    get_event(store, event_id)
    return {"hits": _event_hits(store, semantic.similar(event_id, limit))}
