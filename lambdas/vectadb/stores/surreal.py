"""SurrealDB store: one code path for ``mem://``, ``surrealkv://`` and remote ``ws://`` / ``wss://``.

Every query is parameterised; record ids are built with ``type::thing`` from parameters.

Pagination is keyset on string sort keys. SurrealDB 2.x (surrealdb-core 2.3) answers an index
range scan with ``ORDER BY <that field> DESC LIMIT n`` with the *first* n rows of the range in
index order: wrong rows, sorted. Listings therefore always scan ascending, and newest-first
listings scan ``rsk``, a key whose time part is inverted.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeGuard

from surrealdb import Surreal
from surrealdb.cbor import CBORSimpleValue
from surrealdb.errors import SurrealError
from websockets.exceptions import WebSocketException

from vectadb.core.errors import StoreRejected, StoreUnavailable
from vectadb.core.models import StoredEvent, StoredTrace, to_millis
from vectadb.core.runs import MAX_MARKS, RunMark
from vectadb.stores.base import (
    SORT_TIE,
    EventQuery,
    EventRecord,
    ListedEvent,
    ListedTrace,
    Position,
    RollupRow,
    TraceQuery,
    named_model,
)
from vectadb.stores.locking import DirectoryLock
from vectadb.stores.schema import ROLLUPS_SINCE, SCHEMA, SCHEMA_VERSION, TRACE_SUMS_SINCE

logger = logging.getLogger(__name__)

_MS_WIDTH = 13  # epoch milliseconds until the year 2286
_MS_MAX = 10**_MS_WIDTH - 1
_TRACE_SEP = "|"  # absent from the trace-id alphabet
SEQ_WIDTH = 64  # CloudWatch event ids are 56 decimal digits
_INVERT_DIGITS = str.maketrans("0123456789", "9876543210")
_KEY_END = "~"  # sorts after every character used in keys
_STATUSES = ("running", "completed", "failed")
_EMBEDDED_PERSISTENT = ("surrealkv://", "surrealkv+versioned://", "file://")
_RETRYABLE = ("conflict", "can be retried", "resource busy")
_NOT_EXECUTED = "not executed due to a failed transaction"
_WRITE_ATTEMPTS = 5
# OSError covers refused and reset sockets and every requests exception (HTTP engine).
_CONNECTION_ERRORS = (OSError, WebSocketException)
# CBOR null, which SurrealDB stores as NULL. The SDK sends Python None as NONE, and a NONE value
# deletes its key: a JSON null inside properties would silently vanish.
_NULL = CBORSimpleValue(22)

EVENT_FIELDS = (
    "record::id(id) AS event_id, timestamp, event_type, session_id, agent_id, trace_id, "
    "parent_event_id, properties, properties_json, source, is_error, indexed, created_at"
)
TRACE_FIELDS = (
    "record::id(id) AS trace_id, session_id, agent_id, status, start_time, end_time, "
    "last_event_at, total_events, created_at, model, error_count ?? 0 AS error_count, "
    "input_tokens ?? 0 AS input_tokens, output_tokens ?? 0 AS output_tokens, cost_usd ?? 0.0 AS cost_usd"
)

# The rollups' dimensions: the field of fn::rollup_row (schema.py) that each is keyed by.
ROLLUP_DIMENSIONS = ("event_type", "agent_id", "tool", "model")
HOUR_MS = 3_600_000
# The sums of $contrib (rows of fn::rollup_row's fields) per dimension, hour and value; dimensions
# come from the constant tuple above, every value is a $parameter.
_ROLLUP_GROUP = """(
    SELECT '{dim}' AS dim, bucket, {dim} AS key, count() AS n, math::sum(err) AS errors,
        math::sum(call) AS calls, math::sum(in_tok) AS input_tokens, math::sum(out_tok) AS output_tokens,
        math::sum(cost) AS cost_usd, math::sum(timed) AS timed, math::sum(duration) AS duration_ms
    FROM $contrib GROUP BY bucket, key
)"""
_ROLLUP_GROUPS = (
    "array::concat(" + ", ".join(_ROLLUP_GROUP.format(dim=dim) for dim in ROLLUP_DIMENSIONS) + ")"
)
_ROLLUP_UPSERT = """
FOR $g IN $groups {
    UPSERT type::thing('rollup', [$g.dim, $g.bucket, $g.key]) SET dim = $g.dim, bucket = $g.bucket,
        key = $g.key, n += $g.n, errors += $g.errors, calls += $g.calls, input_tokens += $g.input_tokens,
        output_tokens += $g.output_tokens, cost_usd += $g.cost_usd, timed += $g.timed,
        duration_ms += $g.duration_ms
    RETURN NONE;
};"""
_ROLLUP_ADD = f"LET $groups = {_ROLLUP_GROUPS};" + _ROLLUP_UPSERT


# Rollups of the hours [$from, $to) made again from the events they hold (a replace, a changed
# definition, events stored before rollups existed).
REBUILD_ROLLUPS = f"""
BEGIN TRANSACTION;
FOR $dim IN $dims {{
    DELETE rollup:[$dim, $from, NONE]..[$dim, $to, NONE] RETURN NONE;
}};
LET $contrib = (
    SELECT VALUE fn::rollup_row(time::millis(timestamp), event_type, agent_id, is_error, properties)
    FROM agent_event WHERE timestamp >= time::from::millis($from) AND timestamp < time::from::millis($to)
);
{_ROLLUP_ADD}
COMMIT TRANSACTION;
"""  # noqa: S608

# The part of an hour that a stats window cuts: summed from its events, as the rollups would.
_ROLLUP_EDGE = """
SELECT bucket, {dim} AS key, count() AS n, math::sum(err) AS errors, math::sum(call) AS calls,
    math::sum(in_tok) AS input_tokens, math::sum(out_tok) AS output_tokens, math::sum(cost) AS cost_usd,
    math::sum(timed) AS timed, math::sum(duration) AS duration_ms
FROM (
    SELECT VALUE fn::rollup_row(time::millis(timestamp), event_type, agent_id, is_error, properties)
    FROM agent_event WHERE timestamp >= time::from::millis($from) AND timestamp < time::from::millis($to)
) GROUP BY bucket, key
"""

# Traces stored before they carried sums (v10): summed once from their events, as writes sum them.
BACKFILL_TRACE_SUMS = """
BEGIN TRANSACTION;
LET $rows = (
    SELECT trace_id, fn::rollup_row(time::millis(timestamp), event_type, agent_id, is_error, properties) AS r
    FROM agent_event WHERE trace_id != NONE
);
FOR $t IN (
    SELECT trace_id, math::sum(r.err) AS errors, math::sum(r.in_tok) AS input_tokens,
        math::sum(r.out_tok) AS output_tokens, math::sum(r.cost) AS cost_usd
    FROM $rows GROUP BY trace_id
) {
    UPDATE type::thing('agent_trace', $t.trace_id) SET error_count = $t.errors,
        input_tokens = $t.input_tokens, output_tokens = $t.output_tokens, cost_usd = <float>$t.cost_usd
    RETURN NONE;
};
COMMIT TRANSACTION;
"""

# One transaction per batch. Only the events that were new touch traces and edges: the first
# stored copy of an event wins, so a redelivery changes nothing, even one whose session, trace or
# parent differs from the stored copy. Usually every event is new and the per-trace aggregates and
# edge lists computed in Python hold; after a partial redelivery they are narrowed to the new rows.
# A trace's sort keys come from its earliest event, as the events' own keys do (see _asc_key).
WRITE_EVENTS = """
BEGIN TRANSACTION;
LET $new = (INSERT IGNORE INTO agent_event (
    SELECT type::thing('agent_event', k) AS id, trace_id, session_id, agent_id, parent_event_id,
        event_type, time::from::millis(ms) AS timestamp, properties, properties_json, source,
        is_error, indexed, sk, rsk, tkey, trace_rsk, type_sk, type_rsk, agent_sk, agent_rsk, session_sk,
        session_rsk
    FROM $rows
) RETURN VALUE record::id(id));
LET $all_new = array::len($new) = array::len($rows);
LET $traces = IF $all_new THEN $traces ELSE (
    SELECT trace_id AS key, session_id, agent_id, count() AS n, math::min(ms) AS first_ms,
        math::max(ms) AS last_ms, math::max(end_ms) AS end_ms, math::max(rank) AS rank,
        math::sum(err) AS errors, math::sum(in_tok) AS input_tokens, math::sum(out_tok) AS output_tokens,
        math::sum(cost) AS cost_usd
    FROM $rows WHERE trace_id != NONE AND k INSIDE $new GROUP BY key
) END;
LET $trace_edges = IF $all_new THEN $trace_edges
    ELSE (SELECT * FROM $trace_edges WHERE id INSIDE $new) END;
LET $parent_edges = IF $all_new THEN $parent_edges
    ELSE (SELECT * FROM $parent_edges WHERE id INSIDE $new) END;
-- The rollups: summed in Python when every event is new, else from the new events' rows.
LET $contrib = IF $all_new THEN [] ELSE (SELECT * FROM $rows WHERE k INSIDE $new) END;
LET $groups = IF $all_new THEN $rollups ELSE ROLLUP_GROUPS END;
-- ROLLUP_UPSERT
FOR $t IN $traces {
    LET $first = time::from::millis($t.first_ms);
    LET $last = time::from::millis($t.last_ms);
    LET $end = IF $t.end_ms > 0 THEN time::from::millis($t.end_ms) ELSE NONE END;
    -- Pad to 13 digits (12 before 2001-09-09); the inverted time always has 13 in the accepted range.
    LET $pad = IF $t.first_ms < 1000000000000 THEN '0' ELSE '' END;
    LET $sk = string::concat($pad, <string>$t.first_ms, ':', $t.key);
    LET $rsk = string::concat(<string>($ms_max - $t.first_ms), ':', $t.key);
    UPSERT type::thing('agent_trace', $t.key) SET
        session_id = session_id ?? $t.session_id,
        agent_id = agent_id ?? $t.agent_id,
        total_events += $t.n,
        error_count = (error_count ?? 0) + $t.errors,
        input_tokens = (input_tokens ?? 0) + $t.input_tokens,
        output_tokens = (output_tokens ?? 0) + $t.output_tokens,
        cost_usd = (cost_usd ?? 0.0) + $t.cost_usd,
        start_time = time::min([start_time ?? $first, $first]),
        last_event_at = time::max([last_event_at ?? $last, $last]),
        end_time = IF $end = NONE THEN end_time ELSE time::max([end_time ?? $end, $end]) END,
        status_rank = math::max([status_rank ?? 0, $t.rank]),
        status = $statuses[status_rank],
        model = $t.model ?? model,
        sk = array::min([sk ?? $sk, $sk]),
        rsk = array::max([rsk ?? $rsk, $rsk])
    RETURN NONE;
};
INSERT RELATION IGNORE INTO hasEvent (
    SELECT type::thing('hasEvent', id) AS id, type::thing('agent_trace', trace) AS in,
        type::thing('agent_event', id) AS out
    FROM $trace_edges
) RETURN NONE;
INSERT RELATION IGNORE INTO causedBy (
    SELECT type::thing('causedBy', id) AS id, type::thing('agent_event', id) AS in,
        type::thing('agent_event', parent) AS out
    FROM $parent_edges
) RETURN NONE;
RETURN $new;
COMMIT TRANSACTION;
""".replace("ROLLUP_GROUPS", _ROLLUP_GROUPS).replace("-- ROLLUP_UPSERT", _ROLLUP_UPSERT)

# An explicit re-parse: stored events take the new copies' content and linkage. Their edges move,
# and every trace they leave or join is recounted from the events it holds now (emptied traces
# go), so that the same invariants hold as for plain writes. Rare, so exactness beats speed here.
# The members are read before anything is written: once a transaction has changed an indexed
# field, SurrealDB 2.3 answers an index scan on the old value without the rows that still hold it.
# A trace's sort keys come from its earliest event's own keys (the same 13-digit time prefix).
REPLACE_EVENTS = """
BEGIN TRANSACTION;
LET $ids = $rows.k;
LET $left = (SELECT VALUE trace_id FROM array::map($ids, |$k| type::thing('agent_event', $k)));
LET $touched = array::distinct(array::concat($left, $rows.trace_id)).filter(|$t| $t != NONE);
LET $staying = (
    SELECT trace_id, timestamp, sk, rsk, event_type,
        fn::rollup_row(time::millis(timestamp), event_type, agent_id, is_error, properties) AS r
    FROM agent_event
    WHERE trace_id INSIDE $touched AND record::id(id) NOTINSIDE $ids
);
LET $arriving = (
    SELECT trace_id, time::from::millis(ms) AS timestamp, sk, rsk, event_type,
        { err: err, in_tok: in_tok, out_tok: out_tok, cost: cost } AS r
    FROM $rows WHERE trace_id != NONE
);
LET $members = (
    SELECT trace_id, timestamp, sk, rsk, $ranks[event_type] ?? 0 AS rank, r.err AS err,
        r.in_tok AS in_tok, r.out_tok AS out_tok, r.cost AS cost
    FROM array::concat($staying, $arriving)
);
FOR $r IN $rows {
    UPDATE type::thing('agent_event', $r.k) SET trace_id = $r.trace_id, session_id = $r.session_id,
        agent_id = $r.agent_id, parent_event_id = $r.parent_event_id, event_type = $r.event_type,
        timestamp = time::from::millis($r.ms), properties = $r.properties,
        properties_json = $r.properties_json, source = $r.source, is_error = $r.is_error,
        sk = $r.sk, rsk = $r.rsk, tkey = $r.tkey, trace_rsk = $r.trace_rsk, type_sk = $r.type_sk,
        type_rsk = $r.type_rsk, agent_sk = $r.agent_sk, agent_rsk = $r.agent_rsk,
        session_sk = $r.session_sk, session_rsk = $r.session_rsk, indexed = false
    RETURN NONE;
};
DELETE array::map($ids, |$k| type::thing('hasEvent', $k)) RETURN NONE;
DELETE array::map($ids, |$k| type::thing('causedBy', $k)) RETURN NONE;
INSERT RELATION INTO hasEvent (
    SELECT type::thing('hasEvent', id) AS id, type::thing('agent_trace', trace) AS in,
        type::thing('agent_event', id) AS out
    FROM $trace_edges
) RETURN NONE;
INSERT RELATION INTO causedBy (
    SELECT type::thing('causedBy', id) AS id, type::thing('agent_event', id) AS in,
        type::thing('agent_event', parent) AS out
    FROM $parent_edges
) RETURN NONE;
FOR $t IN $touched {
    LET $held = (SELECT * FROM $members WHERE trace_id = $t);
    IF array::len($held) = 0 {
        DELETE type::thing('agent_trace', $t) RETURN NONE;
    } ELSE {
        LET $rank = math::max($held.rank);
        UPSERT type::thing('agent_trace', $t) SET
            session_id = session_id ?? $meta[$t].session_id,
            agent_id = agent_id ?? $meta[$t].agent_id,
            total_events = array::len($held),
            error_count = math::sum($held.err),
            input_tokens = math::sum($held.in_tok),
            output_tokens = math::sum($held.out_tok),
            cost_usd = <float>math::sum($held.cost),
            start_time = time::min($held.timestamp),
            last_event_at = time::max($held.timestamp),
            end_time = time::max((SELECT VALUE timestamp FROM $held WHERE rank > 0)),
            status_rank = $rank,
            status = $statuses[$rank],
            sk = string::concat(string::slice(array::min($held.sk), 0, 13), ':', $t),
            rsk = string::concat(string::slice(array::max($held.rsk), 0, 13), ':', $t)
        RETURN NONE;
    };
};
RETURN NONE;
COMMIT TRANSACTION;
"""


def _asc_key(ms: int, tie: str) -> str:
    return f"{ms:0{_MS_WIDTH}d}:{tie}"


def _desc_key(ms: int, tie: str) -> str:
    return f"{_MS_MAX - ms:0{_MS_WIDTH}d}:{tie}"


def filter_prefix(value: str) -> str:
    """What every key of one filter value starts with: its length first, so that no value's prefix
    is another's ("a" and "a:b")."""
    return f"{len(value):03d}:{value}:"


def _filter_key(value: str | None, key: str) -> str | None:
    return filter_prefix(value) + key if value is not None else None


def _stream_position(source: Mapping[str, Any] | None) -> str:
    """An event's place in its log stream, for order within one millisecond: its CloudWatch event
    id (decimal, increasing along a stream), zero-padded; zeros for an event without one."""
    log_id = source.get("log_id") if source else None
    if isinstance(log_id, str) and log_id.isdigit() and len(log_id) <= SEQ_WIDTH:
        return log_id.zfill(SEQ_WIDTH)
    return "0" * SEQ_WIDTH


def event_ties(ev: EventRecord) -> tuple[str, str]:
    """What follows the time in an event's ascending and descending keys: its stream position
    (inverted digit by digit in the descending key, so that newest-first reverses it too) and its
    id. A page's cursor carries the tie of the key it scanned."""
    position = _stream_position(ev.source)
    return f"{position}:{ev.event_id}", f"{position.translate(_INVERT_DIGITS)}:{ev.event_id}"


def _clamp_ms(value: datetime) -> int:
    return max(0, min(_MS_MAX, to_millis(value)))


def _key_range(
    ascending: bool,
    start: datetime | None,
    end: datetime | None,
    after: Position | None,
    record_prefix: str = "",
) -> tuple[str, str, str | None]:
    """Bounds on an ``sk`` / ``rsk`` / ``tkey`` key for ``start <= time < end``, past ``after``."""
    if ascending:
        lower = f"{_clamp_ms(start):0{_MS_WIDTH}d}:" if start else ""
        upper = f"{_clamp_ms(end):0{_MS_WIDTH}d}:" if end else _KEY_END
        past = _asc_key(after.ms, after.id) if after else None
    else:
        # time < end  <=>  inverted time >= MAX - (end - 1);  time >= start  <=>  inverted < MAX - (start - 1)
        lower = f"{_MS_MAX - (_clamp_ms(end) - 1):0{_MS_WIDTH}d}:" if end else ""
        upper = f"{_MS_MAX - (_clamp_ms(start) - 1):0{_MS_WIDTH}d}:" if start else _KEY_END
        past = _desc_key(after.ms, after.id) if after else None
    return (
        record_prefix + lower,
        record_prefix + upper,
        record_prefix + past if past is not None else None,
    )


class _HoldsNul(Exception):
    """A string holds U+0000, which SurrealDB stores but can never serialise back."""


def _with_nulls(value: Any) -> Any:
    """``value`` with every None inside it sent as NULL; shares what needs no change.

    Raises _HoldsNul on a NUL in any key or string: such a row would break every read of it.
    """
    if value is None:
        return _NULL
    if isinstance(value, str):
        if "\x00" in value:
            raise _HoldsNul
        return value
    if isinstance(value, dict):
        changed: dict[str, Any] | None = None
        for key, item in value.items():
            if "\x00" in key:
                raise _HoldsNul
            new = _with_nulls(item)
            if new is not item:
                changed = changed if changed is not None else dict(value)
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, list):
        items = [_with_nulls(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _storable_properties(properties: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Properties as SurrealDB can hold them: the object itself, or (rarely) its JSON text.

    SurrealDB accepts a string with U+0000 but then fails every query whose answer includes it.
    JSON text escapes it (``\\u0000``), so such properties are kept whole, byte for byte, as text
    and decoded on the way out (``_readable``).
    """
    try:
        return _with_nulls(properties), None
    except _HoldsNul:
        return {}, json.dumps(properties, ensure_ascii=False, separators=(",", ":"))


def _readable(rows: list[Any]) -> list[Any]:
    """Stored event rows (of ``EVENT_FIELDS``) as the API returns them: properties kept as JSON
    text decoded again."""
    for row in rows:
        text = row.pop("properties_json", None)
        if text is not None:
            row["properties"] = json.loads(text)
    return rows


def _event_row(ev: EventRecord) -> dict[str, Any]:
    """An event as WRITE_EVENTS and REPLACE_EVENTS take it."""
    asc_tie, desc_tie = event_ties(ev)
    asc = _asc_key(ev.timestamp_ms, asc_tie)
    desc = _desc_key(ev.timestamp_ms, desc_tie)
    properties, properties_json = _storable_properties(ev.properties)
    return {
        "k": ev.event_id,
        "ms": ev.timestamp_ms,
        "sk": asc,
        "rsk": desc,
        "tkey": f"{ev.trace_id}{_TRACE_SEP}{asc}" if ev.trace_id else None,
        "trace_rsk": f"{ev.trace_id}{_TRACE_SEP}{desc}" if ev.trace_id else None,
        "type_sk": _filter_key(ev.event_type, asc),
        "type_rsk": _filter_key(ev.event_type, desc),
        "agent_sk": _filter_key(ev.agent_id, asc),
        "agent_rsk": _filter_key(ev.agent_id, desc),
        "session_sk": _filter_key(ev.session_id, asc),
        "session_rsk": _filter_key(ev.session_id, desc),
        "trace_id": ev.trace_id,
        "session_id": ev.session_id,
        "agent_id": ev.agent_id,
        "parent_event_id": ev.parent_event_id,
        "event_type": ev.event_type,
        "properties": properties,
        "properties_json": properties_json,
        "source": ev.source,
        "is_error": ev.is_error,
        "indexed": ev.indexed,
        # Only read to recount traces after a partial redelivery.
        "rank": ev.status_rank,
        "end_ms": ev.timestamp_ms if ev.status_rank else 0,
        **_rollup_fields(ev),
    }


_ROLLUP_SUMS = (
    ("n", None),
    ("errors", "err"),
    ("calls", "call"),
    ("input_tokens", "in_tok"),
    ("output_tokens", "out_tok"),
    ("cost_usd", "cost"),
    ("timed", "timed"),
    ("duration_ms", "duration"),
)


def _rollup_groups(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rollup increments of rows that are all new, as _ROLLUP_GROUPS sums them."""
    groups: dict[tuple[str, int, Any], dict[str, Any]] = {}
    for row in rows:
        for dim in ROLLUP_DIMENSIONS:
            key = (dim, row["bucket"], row[dim])
            group = groups.get(key)
            if group is None:
                group = groups[key] = {"dim": dim, "bucket": row["bucket"], "key": row[dim], "n": 0}
                for name, _ in _ROLLUP_SUMS[1:]:
                    group[name] = 0.0 if name in ("cost_usd", "duration_ms") else 0
            group["n"] += 1
            for name, field in _ROLLUP_SUMS[1:]:
                group[name] += row[field]
    return list(groups.values())


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _rollup_fields(ev: EventRecord) -> dict[str, Any]:
    """What the event adds to the rollups, as fn::rollup_row (schema.py) makes it from a stored
    event for a rebuild: computed here because the function costs ~0.1 ms a row inside the write
    (tests/integration/test_rollups.py checks that both agree)."""
    p = ev.properties
    tool, model, duration = p.get("tool_name"), p.get("model"), p.get("duration_ms")
    input_tokens, output_tokens, cost = p.get("input_tokens"), p.get("output_tokens"), p.get("cost_usd")
    duration_ms = float(duration) if _is_number(duration) else None
    return {
        "bucket": ev.timestamp_ms - ev.timestamp_ms % HOUR_MS,
        "tool": tool if isinstance(tool, str) else None,
        "model": model if isinstance(model, str) else None,
        "err": int(ev.is_error),
        "call": int(ev.event_type in ("tool_call", "llm_call")),
        "in_tok": input_tokens if _is_int(input_tokens) else 0,
        "out_tok": output_tokens if _is_int(output_tokens) else 0,
        "cost": float(cost) if _is_number(cost) else 0.0,
        "timed": int(duration_ms is not None),
        "duration": duration_ms if duration_ms is not None else 0.0,
    }


def _run_mark(text: str) -> RunMark:
    at_ms, kind, session_id = text.split(":", 2)
    return RunMark(int(at_ms), int(kind), session_id)


def _edges(events: Sequence[EventRecord]) -> dict[str, list[dict[str, str]]]:
    """The events' hasEvent and causedBy edges, each keyed by its event's id."""
    return {
        "trace_edges": [{"id": ev.event_id, "trace": ev.trace_id} for ev in events if ev.trace_id],
        "parent_edges": [
            {"id": ev.event_id, "parent": ev.parent_event_id} for ev in events if ev.parent_event_id
        ],
    }


def _rejected(detail: str) -> StoreRejected:
    # The detail can quote the query and the data: it goes to the log, never to the client.
    logger.error("SurrealDB rejected a query: %s", detail)
    return StoreRejected("the database rejected the request")


def _is_retryable(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _RETRYABLE)


def _embedded_path(url: str) -> Path | None:
    for scheme in _EMBEDDED_PERSISTENT:
        if url.startswith(scheme):
            return Path(url[len(scheme) :])
    return None


class SurrealStore:
    """The event store on SurrealDB. Thread-safe; one instance per process (per Lambda container)."""

    def __init__(
        self,
        url: str,
        namespace: str = "vectadb",
        database: str = "main",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.url = url
        self._namespace = namespace
        self._database = database
        self._credentials = (username, password) if username and password else None
        self._db: Any = None
        self._exit_stack: ExitStack | None = None
        self._connect_lock = threading.Lock()
        path = _embedded_path(url)
        self._dir_lock = DirectoryLock(path) if path is not None else None
        if self._dir_lock is not None:
            self._dir_lock.acquire()
        try:
            self._connect()
        except Exception:
            self.close()
            raise

    # -- connection --------------------------------------------------------------------------

    def _connect(self) -> Any:
        with self._connect_lock:
            if self._db is None:
                # Every connection class (embedded, WebSocket, HTTP) opens as a context manager.
                stack = ExitStack()
                try:
                    db = stack.enter_context(Surreal(self.url))
                    if self._credentials:
                        db.signin({"username": self._credentials[0], "password": self._credentials[1]})
                    db.use(self._namespace, self._database)
                except (*_CONNECTION_ERRORS, SurrealError) as exc:
                    stack.close()
                    raise StoreUnavailable("SurrealDB is unreachable or refused the connection") from exc
                self._db, self._exit_stack = db, stack
            return self._db

    def _drop_connection(self) -> None:
        with self._connect_lock:
            stack, self._db, self._exit_stack = self._exit_stack, None, None
        if stack is not None:
            try:
                stack.close()
            except Exception:
                logger.debug("closing a broken SurrealDB connection failed", exc_info=True)

    def close(self) -> None:
        self._drop_connection()
        if self._dir_lock is not None:
            self._dir_lock.release()
            self._dir_lock = None

    @contextmanager
    def _session(self) -> Iterator[Any]:
        db = self._db or self._connect()
        try:
            yield db
        except _CONNECTION_ERRORS as exc:
            # Remote connections break; embedded ones do not. Reconnect on the next call.
            self._drop_connection()
            raise StoreUnavailable("SurrealDB is unreachable") from exc

    # -- querying ----------------------------------------------------------------------------

    def _run(self, query: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Run every statement of ``query`` and return their results; raise on any failed statement."""
        with self._session() as db:
            try:
                response = db.query_raw(query, params or {})
            except SurrealError as exc:
                raise _rejected(str(exc)) from exc
        if response.get("error"):
            raise _rejected(str(response["error"]))
        statements = response.get("result") or []
        errors = [str(s["result"]) for s in statements if s.get("status") != "OK"]
        if errors:
            # In a failed transaction the other statements only say that they did not run.
            cause = next((e for e in errors if _NOT_EXECUTED not in e), errors[0])
            if _is_retryable(cause):
                raise _RetryableWrite(cause)
            raise _rejected(cause)
        return [s["result"] for s in statements]

    def _select(self, query: str, params: dict[str, Any]) -> list[Any]:
        """What the last statement selected: rows of the fields it names, or its values (``SELECT
        VALUE``), as SurrealDB returns them; the caller's query gives them their shape."""
        return self._run(query, params)[-1] or []

    # -- schema ------------------------------------------------------------------------------

    def schema_version(self) -> int | None:
        return self._run("SELECT VALUE version FROM ONLY schema_meta:vectadb")[-1]

    def ensure_schema(self) -> None:
        current = self.schema_version()
        if current == SCHEMA_VERSION:
            return
        if current is not None and current > SCHEMA_VERSION:
            logger.warning(
                "the database schema (v%s) is newer than this code (v%s); leaving it as it is",
                current,
                SCHEMA_VERSION,
            )
            return
        self._run(
            "BEGIN TRANSACTION;"
            + SCHEMA
            + "UPSERT schema_meta:vectadb SET version = $version, applied_at = time::now();"
            + "COMMIT TRANSACTION;",
            {"version": SCHEMA_VERSION},
        )
        logger.info("applied the SurrealDB schema v%s (was %s)", SCHEMA_VERSION, current)
        if current is not None and current < ROLLUPS_SINCE:
            # Events stored before rollups existed: their hours are summed once, day by day.
            self.rebuild_all_rollups()
        if current is not None and current < TRACE_SUMS_SINCE:
            self._write(BACKFILL_TRACE_SUMS, {})

    def rebuild_all_rollups(self) -> int:
        """Make every hour's rollups again from its events (after a change of their definition);
        one transaction per day of events. Returns how many days were rebuilt."""
        span = self.event_time_range()
        if span is None:
            return 0
        day = 24 * HOUR_MS
        first = span[0] - span[0] % day
        for start in range(first, span[1] + 1, day):
            self.rebuild_rollups(start, start + day)
        return (span[1] - first) // day + 1

    def ping(self) -> None:
        self._run("RETURN 1")

    # -- writes ------------------------------------------------------------------------------

    def write_events(self, events: Sequence[EventRecord]) -> set[str]:
        if not events:
            return set()
        rows = []
        traces: dict[str, dict[str, Any]] = {}
        for ev in events:
            row = _event_row(ev)
            rows.append(row)
            if ev.trace_id is None:
                continue
            trace = traces.get(ev.trace_id)
            if trace is None:
                traces[ev.trace_id] = {
                    "key": ev.trace_id,
                    "session_id": ev.session_id,
                    "agent_id": ev.agent_id,
                    "n": 1,
                    "first_ms": ev.timestamp_ms,
                    "last_ms": ev.timestamp_ms,
                    "end_ms": row["end_ms"],
                    "rank": ev.status_rank,
                    "model": None,
                    "model_ms": 0,
                    "errors": row["err"],
                    "input_tokens": row["in_tok"],
                    "output_tokens": row["out_tok"],
                    "cost_usd": row["cost"],
                }
            else:
                trace["agent_id"] = trace["agent_id"] or ev.agent_id
                trace["n"] += 1
                trace["first_ms"] = min(trace["first_ms"], ev.timestamp_ms)
                trace["last_ms"] = max(trace["last_ms"], ev.timestamp_ms)
                trace["end_ms"] = max(trace["end_ms"], row["end_ms"])
                trace["rank"] = max(trace["rank"], ev.status_rank)
                trace["errors"] += row["err"]
                trace["input_tokens"] += row["in_tok"]
                trace["output_tokens"] += row["out_tok"]
                trace["cost_usd"] += row["cost"]
            model = named_model(ev.properties)
            entry = traces[ev.trace_id]
            if model is not None and ev.timestamp_ms >= entry["model_ms"]:
                entry.update(model=model, model_ms=ev.timestamp_ms)
        params = {
            "rows": rows,
            "rollups": _rollup_groups(rows),
            "traces": list(traces.values()),
            **_edges(events),
            "statuses": list(_STATUSES),
            "ms_max": _MS_MAX,
        }
        return set(self._write(WRITE_EVENTS, params) or ())

    def replace_events(self, events: Sequence[EventRecord], status_ranks: Mapping[str, int]) -> None:
        """Replace stored events by these copies, moving their edges and recounting every trace
        they leave or join (from the stored events, so the counts stay exact), in one transaction.

        ``status_ranks`` is what each terminal event type does to its trace's status.
        """
        if not events:
            return
        params = {
            "rows": [_event_row(ev) for ev in events],
            **_edges(events),
            "meta": {
                ev.trace_id: {"session_id": ev.session_id, "agent_id": ev.agent_id}
                for ev in reversed(events)
                if ev.trace_id is not None
            },
            "ranks": dict(status_ranks),
            "statuses": list(_STATUSES),
        }
        before = self.get_events([ev.event_id for ev in events])
        self._write(REPLACE_EVENTS, params)
        # The hours the events left and joined: their rollups are made again from what they hold.
        hours = {ev.timestamp_ms - ev.timestamp_ms % HOUR_MS for ev in events}
        hours.update(to_millis(row["timestamp"]) // HOUR_MS * HOUR_MS for row in before.values())
        for hour in sorted(hours):
            self.rebuild_rollups(hour, hour + HOUR_MS)

    def rebuild_rollups(self, start_ms: int, end_ms: int) -> None:
        """Make the rollups of the hours in [start_ms, end_ms) again from the events they hold."""
        start_ms -= start_ms % HOUR_MS
        end_ms += -end_ms % HOUR_MS
        self._write(REBUILD_ROLLUPS, {"from": start_ms, "to": end_ms, "dims": list(ROLLUP_DIMENSIONS)})

    def event_time_range(self) -> tuple[int, int] | None:
        """The first and last event times (ms), if any event is stored."""
        first = self._select("SELECT VALUE sk FROM agent_event ORDER BY sk ASC LIMIT 1", {})
        last = self._select("SELECT VALUE rsk FROM agent_event ORDER BY rsk ASC LIMIT 1", {})
        if not first or not last:
            return None
        return int(first[0][:_MS_WIDTH]), _MS_MAX - int(last[0][:_MS_WIDTH])

    def _write(self, query: str, params: dict[str, Any]) -> Any:
        """Run a write transaction, again while it conflicts with concurrent writers."""
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                return self._run(query, params)[-1]
            except _RetryableWrite as exc:
                if attempt == _WRITE_ATTEMPTS:
                    raise StoreUnavailable("the write kept conflicting with concurrent writes") from exc
                time.sleep(0.005 * 2**attempt)
        raise AssertionError("unreachable")

    def stream_marks(self, streams: Sequence[str]) -> dict[str, list[RunMark]]:
        if not streams:
            return {}
        rows = self._select(
            "SELECT record::id(id) AS stream, marks "
            "FROM array::map($ids, |$k| type::thing('stream_run', $k))",
            {"ids": list(streams)},
        )
        return {row["stream"]: sorted(map(_run_mark, row["marks"] or ())) for row in rows}

    def add_stream_marks(self, marks: Mapping[str, Sequence[RunMark]]) -> None:
        # One statement per stream, each an atomic merge: concurrent writers of one stream lose
        # no mark, and a mark delivered twice is kept once.
        for stream, added in marks.items():
            self._write(
                "LET $all = array::sort(array::union((SELECT VALUE marks FROM ONLY "
                "type::thing('stream_run', $stream)) ?? [], $marks));"
                "UPSERT type::thing('stream_run', $stream) "
                "SET marks = array::slice($all, math::max([0, array::len($all) - $keep])) RETURN NONE",
                {
                    "stream": stream,
                    "marks": [f"{m.at_ms:0{_MS_WIDTH}d}:{m.kind}:{m.session_id}" for m in added],
                    "keep": MAX_MARKS,
                },
            )

    def complete_traces(self, trace_ids: Sequence[str]) -> None:
        if trace_ids:
            self._write(
                "UPDATE array::map($ids, |$k| type::thing('agent_trace', $k)) "
                "SET status_rank = math::max([status_rank, 1]), status = $statuses[status_rank] RETURN NONE",
                {"ids": list(trace_ids), "statuses": list(_STATUSES)},
            )

    # -- reads -------------------------------------------------------------------------------

    def list_events(self, query: EventQuery) -> list[ListedEvent]:
        """One page: a range scan of the key of the most selective filter given (trace, session,
        event type, agent; else time alone), in the page's order; the other filters on top."""
        order = "sk" if query.order == "asc" else "rsk"
        if query.trace_id:
            key = "tkey" if order == "sk" else "trace_rsk"
            prefix = query.trace_id + _TRACE_SEP
        elif query.session_id:
            key, prefix = f"session_{order}", filter_prefix(query.session_id)
        elif query.event_type:
            key, prefix = f"type_{order}", filter_prefix(query.event_type)
        elif query.agent_id:
            key, prefix = f"agent_{order}", filter_prefix(query.agent_id)
        else:
            key, prefix = order, ""
        index = "idx_event_tkey" if key == "tkey" else f"idx_event_{key}"
        filters = {
            "trace_id": query.trace_id,
            "session_id": query.session_id,
            "event_type": query.event_type,
            "agent_id": query.agent_id,
        }
        return _readable(self._page("agent_event", EVENT_FIELDS, key, index, prefix, query, filters))

    def get_events(self, event_ids: Sequence[str]) -> dict[str, StoredEvent]:
        """The stored events among ``event_ids``, by id (fetched by record id, no scan)."""
        if not event_ids:
            return {}
        rows = self._select(
            f"SELECT {EVENT_FIELDS} FROM array::map($ids, |$k| type::thing('agent_event', $k))",  # noqa: S608
            {"ids": list(event_ids)},
        )
        return {row["event_id"]: row for row in _readable(rows)}

    def existing_ids(self, event_ids: Sequence[str]) -> set[str]:
        if not event_ids:
            return set()
        rows = self._select(
            "SELECT VALUE record::id(id) FROM array::map($ids, |$k| type::thing('agent_event', $k))",
            {"ids": list(event_ids)},
        )
        return {row for row in rows if isinstance(row, str)}

    def mark_indexed(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            self._run(
                "UPDATE array::map($ids, |$k| type::thing('agent_event', $k)) SET indexed = true RETURN NONE",
                {"ids": list(event_ids)},
            )

    def unindexed_events(self, limit: int) -> list[StoredEvent]:
        return _readable(
            self._select(
                f"SELECT {EVENT_FIELDS} FROM agent_event WITH INDEX idx_event_indexed "  # noqa: S608
                "WHERE indexed = false LIMIT $limit",
                {"limit": limit},
            )
        )

    def count_unindexed(self) -> int:
        rows = self._select(
            "SELECT count() AS n FROM agent_event WITH INDEX idx_event_indexed "
            "WHERE indexed = false GROUP ALL",
            {},
        )
        return rows[0]["n"] if rows else 0

    def reset_indexed(self) -> None:
        self._run("UPDATE agent_event SET indexed = false WHERE indexed = true RETURN NONE")

    def delete_events_before(self, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the oldest events older than ``cutoff`` (their edges go with them)."""
        deleted = self._run(
            "BEGIN TRANSACTION;"
            "LET $ids = (SELECT id, sk FROM agent_event WITH INDEX idx_event_sk "
            "WHERE sk >= '' AND sk < $upper ORDER BY sk LIMIT $limit).id;"
            "DELETE $ids RETURN NONE;"
            "RETURN array::len($ids);"
            "COMMIT TRANSACTION;",
            {"upper": f"{_clamp_ms(cutoff):0{_MS_WIDTH}d}:", "limit": limit},
        )[-1]
        return int(deleted or 0)

    def delete_traces_before(self, cutoff: datetime) -> int:
        """Delete the traces whose last event is older than ``cutoff``."""
        deleted = self._run(
            "BEGIN TRANSACTION;"
            "LET $ids = (SELECT VALUE id FROM agent_trace WHERE last_event_at < $cutoff);"
            "DELETE $ids RETURN NONE;"
            # The run marks of streams that have not written since: their runs are as old.
            "DELETE stream_run WHERE updated_at < $cutoff RETURN NONE;"
            # The rollups of hours that hold no event any more.
            "DELETE rollup WHERE bucket + $hour <= time::millis($cutoff) RETURN NONE;"
            "RETURN array::len($ids);"
            "COMMIT TRANSACTION;",
            {"cutoff": cutoff, "hour": HOUR_MS},
        )[-1]
        cutoff_ms = to_millis(cutoff)
        self.rebuild_rollups(cutoff_ms, cutoff_ms + 1)  # the hour that the cutoff cut in two
        return int(deleted or 0)

    def trace_models(self, trace_ids: Sequence[str]) -> dict[str, str]:
        if not trace_ids:
            return {}
        rows = self._select(
            "SELECT record::id(id) AS trace_id, model "
            "FROM array::map($ids, |$k| type::thing('agent_trace', $k)) WHERE model != NONE",
            {"ids": list(trace_ids)},
        )
        return {row["trace_id"]: row["model"] for row in rows}

    def get_trace(self, trace_id: str) -> StoredTrace | None:
        return self._run(
            f"SELECT {TRACE_FIELDS} FROM ONLY type::thing('agent_trace', $id)",  # noqa: S608 - constant fields
            {"id": trace_id},
        )[-1]

    def list_traces(self, query: TraceQuery) -> list[ListedTrace]:
        """One page: a range scan of the key of the most selective filter given (session, status,
        agent; else start time alone), in the page's order; the other filters on top."""
        order = "sk" if query.order == "asc" else "rsk"
        if query.session_id:
            key, prefix = f"session_{order}", filter_prefix(query.session_id)
        elif query.status:
            key, prefix = f"status_{order}", filter_prefix(query.status)
        elif query.agent_id:
            key, prefix = f"agent_{order}", filter_prefix(query.agent_id)
        else:
            key, prefix = order, ""
        filters = {"session_id": query.session_id, "agent_id": query.agent_id, "status": query.status}
        errors = {True: "error_count > 0", False: "(error_count ?? 0) = 0", None: None}[query.has_errors]
        return self._page(
            "agent_trace", TRACE_FIELDS, key, f"idx_trace_{key}", prefix, query, filters, condition=errors
        )

    def _page(
        self,
        table: str,
        fields: str,
        key: str,
        index: str,
        prefix: str,
        query: EventQuery | TraceQuery,
        filters: dict[str, str | None],
        condition: str | None = None,
    ) -> list[Any]:
        """One keyset page: a range on ``key`` (always scanned ascending), equality filters on the rest
        and ``condition`` (a fixed expression of this module, no value in it)."""
        lower, upper, past = _key_range(query.order == "asc", query.start, query.end, query.after, prefix)
        params: dict[str, Any] = {"limit": query.limit, "lower": lower, "upper": upper}
        if past is not None and past >= lower:
            # The cursor is where the scan starts: one range (past, upper), not a walk from lower.
            where = [f"{key} > $lower", f"{key} < $upper"]
            params["lower"] = past
        else:
            where = [f"{key} >= $lower", f"{key} < $upper"]
        for field, value in filters.items():
            if value is not None:
                where.append(f"{field} = ${field}")
                params[field] = value
        if condition is not None:
            where.append(condition)
        # Identifiers come from closed sets in this module; every value is a $parameter.
        sql = (
            f"SELECT {fields}, {key} FROM {table} WITH INDEX {index} "  # noqa: S608
            f"WHERE {' AND '.join(where)} ORDER BY {key} ASC LIMIT $limit"
        )
        rows = self._select(sql, params)
        cut = len(prefix) + _MS_WIDTH + 1
        for row in rows:
            row[SORT_TIE] = row.pop(key)[cut:]  # what follows the time in the key: the cursor's tie
        return rows

    def durations(self, event_type: str, start: datetime, end: datetime, limit: int) -> list[float]:
        """One range of the event-type index, newest first, reading the one property (a full event
        per report cost 2.4 times as much at 5,000 reports)."""
        lower, upper, _ = _key_range(False, start, end, None, filter_prefix(event_type))
        rows = self._select(
            "SELECT properties.duration_ms AS d, type_rsk FROM agent_event WITH INDEX idx_event_type_rsk "
            "WHERE type_rsk >= $lower AND type_rsk < $upper AND type::is::number(properties.duration_ms) "
            "ORDER BY type_rsk ASC LIMIT $limit",
            {"lower": lower, "upper": upper, "limit": limit},
        )
        return [float(row["d"]) for row in rows]

    def count_traces(self, status: str, start: datetime | None, end: datetime | None) -> int:
        """Traces of ``status`` that started in the window: a count over one range of its index."""
        lower, upper, _ = _key_range(True, start, end, None, filter_prefix(status))
        rows = self._select(
            "SELECT count() AS n FROM agent_trace WITH INDEX idx_trace_status_sk "
            "WHERE status_sk >= $lower AND status_sk < $upper GROUP ALL",
            {"lower": lower, "upper": upper},
        )
        return int(rows[0]["n"]) if rows else 0

    def rollups(self, dimension: str, start_ms: int, end_ms: int) -> list[RollupRow]:
        if dimension not in ROLLUP_DIMENSIONS:
            raise ValueError(f"no rollups by {dimension}")
        first_hour = start_ms + (-start_ms % HOUR_MS)
        last_hour = end_ms - end_ms % HOUR_MS
        rows: list[RollupRow] = []
        if first_hour < last_hour:
            rows += self._hours(dimension, first_hour, last_hour)
            edges = [(start_ms, first_hour), (last_hour, end_ms)]
        else:
            edges = [(start_ms, end_ms)]
        for low, high in edges:
            if low >= high:
                continue
            hour = low - low % HOUR_MS
            if high - low <= HOUR_MS // 2 or high > hour + HOUR_MS:
                rows += self._events_summed(dimension, low, high)
            else:
                # Most of an hour: its rollup, less the events of the part outside the window
                # (never more than half an hour of events is read).
                rows += self._hours(dimension, hour, hour + HOUR_MS)
                for outside in ((hour, low), (high, hour + HOUR_MS)):
                    if outside[0] < outside[1]:
                        rows += [_negated(row) for row in self._events_summed(dimension, *outside)]
        return rows

    def _hours(self, dimension: str, first_hour: int, end_hour: int) -> list[RollupRow]:
        return [
            _rollup_row(row)
            for row in self._select(
                "SELECT bucket, key, n, errors, calls, input_tokens, output_tokens, cost_usd, timed, "
                "duration_ms FROM rollup:[$dim, $from, NONE]..[$dim, $to, NONE]",
                {"dim": dimension, "from": first_hour, "to": end_hour},
            )
        ]

    def _events_summed(self, dimension: str, start_ms: int, end_ms: int) -> list[RollupRow]:
        rows = self._select(_ROLLUP_EDGE.format(dim=dimension), {"from": start_ms, "to": end_ms})
        return [_rollup_row(row) for row in rows]


def _rollup_row(row: Mapping[str, Any]) -> RollupRow:
    return RollupRow(
        bucket_ms=row["bucket"],
        key=row.get("key"),
        n=row["n"],
        errors=row["errors"],
        calls=row["calls"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cost_usd=float(row["cost_usd"]),
        timed=row["timed"],
        duration_ms=float(row["duration_ms"]),
    )


def _negated(row: RollupRow) -> RollupRow:
    """Sums to take away (the part of an hour outside a window)."""
    return RollupRow(
        row.bucket_ms,
        row.key,
        -row.n,
        -row.errors,
        -row.calls,
        -row.input_tokens,
        -row.output_tokens,
        -row.cost_usd,
        -row.timed,
        -row.duration_ms,
    )


class _RetryableWrite(Exception):
    pass
