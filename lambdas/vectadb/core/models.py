"""The event model of the API (pydantic v2) and the shapes the API returns.

The pydantic models are the contract; the TypedDicts at the end are the plain rows and pages that
the store and the queries service hand up, which the handlers validate into those models.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from vectadb.core.config import TraceStatus

# Contract limits of the API (documented in docs/api.md), not deployment knobs.
MAX_EVENT_BYTES = 1024 * 1024  # as large as a CloudWatch Logs event may be
MAX_PROPERTIES_DEPTH = 32
MIN_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
_INT64 = (-(2**63), 2**63 - 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})?$")


def to_millis(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)


def from_millis(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision, the one format the API returns."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _timestamp_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("invalid_timestamp", message)


def parse_timestamp(value: Any) -> datetime:
    """RFC 3339 text or epoch milliseconds; naive means UTC; truncated to milliseconds."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)  # epoch milliseconds in a query string
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, bool):
        raise _timestamp_error("timestamp must be an RFC 3339 string or epoch milliseconds")
    elif isinstance(value, int | float):
        if not math.isfinite(value):
            raise _timestamp_error("timestamp must be a finite number of epoch milliseconds")
        try:
            parsed = from_millis(int(value))
        except OverflowError:
            raise _timestamp_error("timestamp is out of range") from None
    elif isinstance(value, str):
        match = _RFC3339.match(value.strip())
        if not match:
            raise _timestamp_error(
                "timestamp must be RFC 3339, e.g. 2026-01-07T17:00:00Z, or epoch milliseconds"
            )
        date, time, fraction, zone = match.groups()
        text = f"{date}T{time}.{(fraction or '0')[:6].ljust(6, '0')}"
        if zone and zone not in ("Z", "z"):
            text += zone
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise _timestamp_error("timestamp is not a valid date and time") from None
    else:
        raise _timestamp_error("timestamp must be an RFC 3339 string or epoch milliseconds")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    parsed = parsed.replace(microsecond=parsed.microsecond // 1000 * 1000)
    if parsed < MIN_TIMESTAMP:
        raise _timestamp_error(
            "timestamp is before 2000-01-01; epoch values must be in milliseconds, not seconds"
        )
    return parsed


_TIMESTAMP_DESCRIPTION = (
    "RFC 3339 (a naive time means UTC) or epoch milliseconds; not before 2000-01-01 (an epoch "
    "value in seconds is refused rather than read as 1970)"
)
Timestamp = Annotated[
    datetime,
    BeforeValidator(parse_timestamp),
    PlainSerializer(format_timestamp, return_type=str),
    # What is accepted, for the OpenAPI document; answers always carry RFC 3339 text.
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "integer", "minimum": to_millis(MIN_TIMESTAMP), "maximum": 10**13 - 1},
            ],
            "description": _TIMESTAMP_DESCRIPTION,
        },
        mode="validation",
    ),
    Field(description=_TIMESTAMP_DESCRIPTION, examples=["2026-01-07T17:00:00Z"]),
]

# Ids that appear in URLs and record keys: a conservative, URL-safe alphabet.
ID_PATTERN = r"^[A-Za-z0-9._:\-]+$"
# Free text from the agent's world (session and agent names): no control characters.
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
EVENT_TYPE_PATTERN = r"^[A-Za-z0-9_.:/\-]+$"
MAX_ID_LENGTH = 256
MAX_TRACE_ID_LENGTH = 128
MAX_NAME_LENGTH = 256
MAX_EVENT_TYPE_LENGTH = 128
_ID_RE = re.compile(ID_PATTERN)


def is_valid_id(value: str, max_length: int = MAX_ID_LENGTH) -> bool:
    """Whether ``value`` can be a stored event or trace id (every id is made in this alphabet)."""
    return len(value) <= max_length and _ID_RE.match(value) is not None


IdStr = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]
TraceIdStr = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TRACE_ID_LENGTH, pattern=ID_PATTERN)
]
NameStr = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN)]
EventTypeStr = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_EVENT_TYPE_LENGTH, pattern=EVENT_TYPE_PATTERN)
]
SourceText = Annotated[str, StringConstraints(max_length=512, pattern=r"^[^\x00-\x1f\x7f]*$")]


class Source(BaseModel):
    """Where an event came from. ``(log_group, log_id)`` makes a redelivered log event idempotent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: SourceText | None = Field(default=None, examples=["cloudwatch"])
    log_group: SourceText | None = Field(default=None, examples=["/aws/lambda/agent"])
    log_stream: SourceText | None = None
    log_id: SourceText | None = Field(default=None, description="The CloudWatch Logs event id")
    owner: SourceText | None = Field(default=None, description="The AWS account that owns the log group")


def _check_json_tree(value: Any) -> None:
    """Depth, finite numbers and 64-bit integers: what SurrealDB and JSON clients can hold."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > MAX_PROPERTIES_DEPTH:
                raise PydanticCustomError(
                    "too_deep", "properties nest deeper than {limit} levels", {"limit": MAX_PROPERTIES_DEPTH}
                )
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            if depth > MAX_PROPERTIES_DEPTH:
                raise PydanticCustomError(
                    "too_deep", "properties nest deeper than {limit} levels", {"limit": MAX_PROPERTIES_DEPTH}
                )
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise PydanticCustomError("non_finite_number", "properties hold NaN or Infinity")
        elif isinstance(node, int) and not isinstance(node, bool) and not _INT64[0] <= node <= _INT64[1]:
            raise PydanticCustomError("integer_out_of_range", "properties hold an integer beyond 64 bits")


class EventIn(BaseModel):
    """One agent event, as the seed's ``EventIngestionRequest``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timestamp: Timestamp
    event_type: EventTypeStr | None = Field(default=None, examples=["tool_call"])
    session_id: NameStr | None = Field(default=None, description="Events of one session form one trace")
    agent_id: NameStr | None = None
    trace_id: TraceIdStr | None = Field(
        default=None, description="An explicit trace; else derived from session_id"
    )
    parent_event_id: IdStr | None = Field(default=None, description="Stored as a causedBy edge")
    event_id: IdStr | None = Field(
        default=None,
        description="Client-side idempotency key; else derived from (source.log_group, source.log_id) "
        "or from the event's content",
    )
    properties: dict[str, Any] = Field(default_factory=dict, examples=[{"tool_name": "web_search"}])
    source: Source | None = None

    @field_validator("properties")
    @classmethod
    def _properties_shape(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json_tree(value)
        return value

    @model_validator(mode="after")
    def _size(self) -> EventIn:
        size = len(json.dumps(self.properties, ensure_ascii=False, separators=(",", ":")).encode())
        if self.source is not None:
            size += sum(len(v.encode()) for v in self.source.model_dump(exclude_none=True).values())
        if size > MAX_EVENT_BYTES:
            raise PydanticCustomError(
                "event_too_large",
                "event is {size} bytes, over the {limit}-byte limit",
                {"size": size, "limit": MAX_EVENT_BYTES},
            )
        return self


class BatchIn(BaseModel):
    """A batch body. Each item is validated on its own, so one bad event never sinks the others."""

    model_config = ConfigDict(extra="forbid")

    events: list[Any] = Field(
        description="Up to 1000 events, each shaped as EventIn",
        json_schema_extra={"items": {"$ref": "#/components/schemas/EventIn"}},
    )

    def __repr__(self) -> str:
        # Powertools formats the route's arguments into a debug message on every call, log level
        # or not: the default repr would walk every event (a cost per batch, and a RecursionError
        # on properties nested near the parser's limit, which only the per-event check refuses).
        return f"BatchIn(events=<{len(self.events)} items>)"


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


_CONFLICT = (
    "On a duplicate: the fields in which this copy differs from the stored one, which is kept "
    "unchanged (the first stored copy wins) unless on_conflict=replace; null when the copies agree "
    "or the event is new"
)
_REPLACED = "With on_conflict=replace: this copy replaced the stored one (see conflict)"


class IngestResult(BaseModel):
    event_id: str
    trace_id: str | None = Field(description="The trace of the stored copy")
    duplicate: bool = Field(description="The event was already stored; nothing changed")
    indexed: bool = Field(description="Whether the event is in the vector index (semantic search) now")
    conflict: list[str] | None = Field(default=None, description=_CONFLICT, examples=[["session_id"]])
    replaced: bool = Field(default=False, description=_REPLACED)


class BatchItemAccepted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    event_id: str
    trace_id: str | None = Field(description="The trace of the stored copy")
    duplicate: bool = Field(description="The event was already stored; nothing changed")
    indexed: bool
    conflict: list[str] | None = Field(default=None, description=_CONFLICT)
    replaced: bool = Field(default=False, description=_REPLACED)


class BatchItemFailed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    status: int = Field(description="The HTTP status this event would get on its own; 4xx is permanent")
    error: ErrorDetail


class BatchResponse(BaseModel):
    accepted: int
    failed: int
    results: list[BatchItemAccepted | BatchItemFailed]


class EventOut(BaseModel):
    event_id: str
    timestamp: Timestamp
    event_type: str | None = None
    session_id: str | None = None
    agent_id: str | None = None
    trace_id: str | None = None
    parent_event_id: str | None = None
    properties: dict[str, Any]
    source: dict[str, Any] | None = None
    is_error: bool
    indexed: bool = Field(description="Whether the event has a vector; reindex embeds those that do not")
    created_at: Timestamp


class EventPage(BaseModel):
    events: list[EventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


class TraceOut(BaseModel):
    trace_id: str
    session_id: str | None = None
    agent_id: str | None = None
    status: TraceStatus
    start_time: Timestamp
    end_time: Timestamp | None = None
    last_event_at: Timestamp
    total_events: int
    created_at: Timestamp
    model: str | None = Field(default=None, description="The model that the trace's events last named")
    error_count: int = Field(default=0, description="Of its events, errors")
    input_tokens: int = Field(default=0, description="The input tokens its LLM calls reported")
    output_tokens: int = Field(default=0, description="The output tokens its LLM calls reported")
    cost_usd: float = Field(default=0.0, description="The cost its events reported (cost_usd)")
    abandoned: bool = Field(
        default=False,
        description="Running, but no event for VECTADB_TRACE_ABANDONED_AFTER_SECONDS (15 minutes): "
        "the run most likely died without an end marker; a late end still finishes it",
    )


class TracePage(BaseModel):
    traces: list[TraceOut]
    next_cursor: str | None


class TraceDetail(BaseModel):
    trace: TraceOut
    events: list[EventOut]
    next_cursor: str | None = Field(description="Cursor for the trace's next page of events")


class SearchFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_type: EventTypeStr | None = None
    session_id: NameStr | None = None
    trace_id: TraceIdStr | None = None
    agent_id: NameStr | None = None
    start: Timestamp | None = Field(default=None, description="Inclusive")
    end: Timestamp | None = Field(default=None, description="Exclusive")


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4096, examples=["database connection timeout"])
    limit: int = Field(default=10, ge=1, le=100)
    filters: SearchFilters = Field(default_factory=SearchFilters)


class SearchHit(BaseModel):
    score: float = Field(description="Cosine similarity, higher is closer")
    event: EventOut


class SearchOut(BaseModel):
    hits: list[SearchHit]


class ReindexIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rebuild: bool = Field(default=False, description="Drop every vector and re-embed all events")
    max_events: int = Field(default=2000, ge=1, le=100_000, description="Stop after this many events")


class ReindexOut(BaseModel):
    indexed: int
    remaining: int = Field(description="Events still without a vector; call again until 0")
    rebuilt: bool
    model: dict[str, Any]


StatsGroup = Literal["event_type", "agent_id", "tool", "model", "day", "hour"]


class StatsBucket(BaseModel):
    key: str | None
    total: int = Field(description="Events")
    errors: int = Field(description="Of those, errors")
    calls: int = Field(description="Of those, tool_call and llm_call events")
    input_tokens: int
    output_tokens: int
    cost_usd: float
    avg_duration_ms: float | None = Field(description="The mean duration_ms of the events that have one")


class InvocationsOut(BaseModel):
    count: int = Field(description="Invocations reported (lambda_report events) in the window")
    p50_ms: float | None = Field(description="Median invocation duration")
    p95_ms: float | None = Field(description="95th percentile of invocation durations")
    sampled: bool = Field(description="True when only the newest reports were read (see MAX_REPORTS)")


class TraceCountsOut(BaseModel):
    """Traces that started in the window, by status (running includes abandoned ones)."""

    running: int
    completed: int
    failed: int


class StatsOut(BaseModel):
    group_by: StatsGroup
    start: Timestamp
    end: Timestamp
    total: int
    errors: int
    buckets: list[StatsBucket]
    invocations: InvocationsOut
    traces: TraceCountsOut


HealthStatus = Literal["ok", "degraded", "unavailable"]


class HealthOut(BaseModel):
    status: HealthStatus
    version: str
    checks: dict[str, dict[str, Any]]


# -- plain shapes: what the store and the queries service return (annotations only) ------------


class StoredEvent(TypedDict):
    """An event as the store returns it; ``EventOut`` validates it as it is."""

    event_id: str
    timestamp: datetime
    event_type: str | None
    session_id: str | None
    agent_id: str | None
    trace_id: str | None
    parent_event_id: str | None
    properties: dict[str, Any]
    source: dict[str, Any] | None
    is_error: bool
    indexed: bool
    created_at: datetime


class StoredTrace(TypedDict):
    """A trace as the store returns it; ``TraceOut`` validates it as it is."""

    trace_id: str
    session_id: str | None
    agent_id: str | None
    status: TraceStatus
    start_time: datetime
    end_time: datetime | None
    last_event_at: datetime
    total_events: int
    created_at: datetime
    model: str | None
    error_count: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    abandoned: NotRequired[bool]  # never stored: the queries service sets it on the way out


class EventPageDict(TypedDict):
    """What ``EventPage`` validates."""

    events: Sequence[StoredEvent]
    next_cursor: str | None


class TracePageDict(TypedDict):
    """What ``TracePage`` validates."""

    traces: Sequence[StoredTrace]
    next_cursor: str | None


class TraceDetailDict(TypedDict):
    """What ``TraceDetail`` validates."""

    trace: StoredTrace
    events: Sequence[StoredEvent]
    next_cursor: str | None


class SearchHitDict(TypedDict):
    """What ``SearchHit`` validates."""

    score: float
    event: StoredEvent


class SearchDict(TypedDict):
    """What ``SearchOut`` validates."""

    hits: list[SearchHitDict]


class StatsBucketDict(TypedDict):
    """What ``StatsBucket`` validates."""

    key: str | None
    total: int
    errors: int
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    avg_duration_ms: float | None


class InvocationsDict(TypedDict):
    count: int
    p50_ms: float | None
    p95_ms: float | None
    sampled: bool


class StatsDict(TypedDict):
    """What ``StatsOut`` validates."""

    group_by: str
    start: datetime
    end: datetime
    total: int
    errors: int
    buckets: list[StatsBucketDict]
    invocations: InvocationsDict
    traces: dict[str, int]
