"""What the core asks of an event store, in plain Python types (no SurrealQL, no AWS shapes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, Protocol

from vectadb.core.models import StoredEvent, StoredTrace
from vectadb.core.runs import RunMark

Order = Literal["asc", "desc"]

# The key a listing row carries for the next page's cursor: its place after its time.
SORT_TIE: Final = "_tie"


class ListedEvent(StoredEvent, total=False):
    """A row of an event listing: a stored event and its key's tie (``SORT_TIE``), which the
    queries service takes off once it has made the next page's cursor."""

    _tie: str


class ListedTrace(StoredTrace, total=False):
    """A row of a trace listing: a stored trace and its key's tie (``SORT_TIE``)."""

    _tie: str


# A trace's status only moves up this ladder, so concurrent or reordered deliveries converge.
STATUS_RANK = {"running": 0, "completed": 1, "failed": 2}


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A validated event with its derived ids, ready to store."""

    event_id: str
    timestamp_ms: int
    trace_id: str | None
    session_id: str | None
    agent_id: str | None
    parent_event_id: str | None
    event_type: str | None
    properties: dict[str, Any]
    source: dict[str, Any] | None
    is_error: bool
    status_rank: int  # what this event does to its trace's status (0: nothing)
    indexed: bool = False  # its vector is in the index already (embedded before the write)


def named_model(properties: Mapping[str, Any]) -> str | None:
    """The model an event names itself (not one it was given from its run)."""
    model = properties.get("model")
    if isinstance(model, str) and model and properties.get("model_inferred") is not True:
        return model
    return None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a keyset page ends: the sort time in milliseconds and the record id."""

    ms: int
    id: str


@dataclass(frozen=True, slots=True)
class EventQuery:
    start: datetime | None = None
    end: datetime | None = None
    event_type: str | None = None
    session_id: str | None = None
    trace_id: str | None = None
    agent_id: str | None = None
    order: Order = "desc"
    limit: int = 100
    after: Position | None = None


@dataclass(frozen=True, slots=True)
class TraceQuery:
    start: datetime | None = None
    end: datetime | None = None
    session_id: str | None = None
    agent_id: str | None = None
    status: str | None = None
    has_errors: bool | None = None
    order: Order = "desc"
    limit: int = 100
    after: Position | None = None


@dataclass(frozen=True, slots=True)
class RollupRow:
    """One hour of one dimension's value: what its events add up to."""

    bucket_ms: int  # the hour's start
    key: str | None
    n: int
    errors: int
    calls: int  # tool_call and llm_call events
    input_tokens: int
    output_tokens: int
    cost_usd: float
    timed: int  # events with a duration_ms
    duration_ms: float  # their sum


class EventStore(Protocol):
    def ensure_schema(self) -> None: ...

    def write_events(self, events: Sequence[EventRecord]) -> set[str]:
        """Store the events and their trace bookkeeping atomically; return the ids that were new."""
        ...

    def replace_events(self, events: Sequence[EventRecord], status_ranks: Mapping[str, int]) -> None:
        """Replace stored events by these copies; move their edges and recount their traces."""
        ...

    def stream_marks(self, streams: Sequence[str]) -> dict[str, list[RunMark]]:
        """The kept run marks of each log stream (see ``vectadb.core.runs``), in order."""
        ...

    def add_stream_marks(self, marks: Mapping[str, Sequence[RunMark]]) -> None:
        """Add run marks to their streams, keeping the latest ``runs.MAX_MARKS`` of each."""
        ...

    def trace_models(self, trace_ids: Sequence[str]) -> dict[str, str]:
        """The model each of these traces' events last named, for the traces that have one."""
        ...

    def complete_traces(self, trace_ids: Sequence[str]) -> None:
        """Raise these stored traces' status to ``completed`` (a failed trace stays failed)."""
        ...

    def list_events(self, query: EventQuery) -> list[ListedEvent]: ...

    def get_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]: ...

    def mark_indexed(self, event_ids: Sequence[str]) -> None: ...

    def existing_ids(self, event_ids: Sequence[str]) -> set[str]:
        """The ids among ``event_ids`` that are stored (fetched by record id, no scan)."""
        ...

    def unindexed_events(self, limit: int) -> list[StoredEvent]: ...

    def count_unindexed(self) -> int: ...

    def reset_indexed(self) -> None: ...

    def delete_events_before(self, cutoff: datetime, limit: int) -> int: ...

    def delete_traces_before(self, cutoff: datetime) -> int: ...

    def get_trace(self, trace_id: str) -> StoredTrace | None: ...

    def list_traces(self, query: TraceQuery) -> list[ListedTrace]: ...

    def durations(self, event_type: str, start: datetime, end: datetime, limit: int) -> list[float]:
        """The numeric ``duration_ms`` of the newest ``limit`` events of ``event_type`` in the window
        that have one."""
        ...

    def count_traces(self, status: str, start: datetime | None, end: datetime | None) -> int:
        """Traces of ``status`` that started at or after ``start`` and before ``end``."""
        ...

    def rollups(self, dimension: str, start_ms: int, end_ms: int) -> list[RollupRow]:
        """Per hour and value of ``dimension`` (event_type, agent_id, tool, model), the sums of the
        events in [start_ms, end_ms): whole hours from the rollups, the partial ones at either end
        from the events themselves (by the same definition)."""
        ...

    def rebuild_rollups(self, start_ms: int, end_ms: int) -> None:
        """Make the rollups of the hours in [start_ms, end_ms) again from their events."""
        ...

    def rebuild_all_rollups(self) -> int:
        """Make every hour's rollups again from its events; returns the days rebuilt."""
        ...

    def event_time_range(self) -> tuple[int, int] | None:
        """The first and last event times (ms), if any event is stored."""
        ...

    def ping(self) -> None: ...

    def close(self) -> None: ...
