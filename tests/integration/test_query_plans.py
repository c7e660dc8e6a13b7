"""Every documented filter of the event listing is one index range scan that starts at the cursor,
as the real engine plans it (EXPLAIN), and events stored before the filter keys existed get them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vectadb.service.ingestion import IngestPolicy, ingest_batch
from vectadb.stores.base import EventQuery, Position, TraceQuery
from vectadb.stores.surreal import SurrealStore

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


class RecordingStore(SurrealStore):
    """The real store, remembering the last query it sent (to ask the engine for its plan)."""

    last: tuple[str, dict[str, Any]]

    def _select(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.last = (query, params)
        return super()._select(query, params)


@pytest.fixture
def recording() -> RecordingStore:
    store = RecordingStore("mem://")
    store.ensure_schema()
    return store


def _events(n: int) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": (T0 + timedelta(seconds=i)).isoformat(),
            "event_type": ("tool_call", "llm_call", "rare")[i % 3],
            "session_id": f"s{i % 4}",
            "agent_id": f"agent:{i % 2}",
            "properties": {"i": i},
            "source": {"system": "cloudwatch", "log_group": "g", "log_stream": "s", "log_id": f"{i:056d}"},
        }
        for i in range(n)
    ]


def _plan(store: RecordingStore) -> dict[str, Any]:
    query, params = store.last
    (steps,) = store._run(query + " EXPLAIN", params)[-1:]
    assert steps[0]["operation"] == "Iterate Index", steps
    return steps[0]["detail"]["plan"]


FILTERS = [  # the filters, and the index each order scans
    ({}, ("idx_event_sk", "idx_event_rsk")),
    ({"event_type": "rare"}, ("idx_event_type_sk", "idx_event_type_rsk")),
    ({"agent_id": "agent:1"}, ("idx_event_agent_sk", "idx_event_agent_rsk")),
    ({"session_id": "s2"}, ("idx_event_session_sk", "idx_event_session_rsk")),
    ({"session_id": "s2", "event_type": "rare"}, ("idx_event_session_sk", "idx_event_session_rsk")),
    ({"trace_id": "TRACE"}, ("idx_event_tkey", "idx_event_trace_rsk")),
]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize(("filters", "indexes"), FILTERS, ids=[str(f) for f, _ in FILTERS])
def test_a_filtered_page_is_one_range_scan_from_its_cursor(
    recording: RecordingStore,
    policy: IngestPolicy,
    filters: dict[str, str],
    indexes: tuple[str, str],
    order: str,
) -> None:
    results = ingest_batch(_events(60), recording, policy, now=NOW)
    if filters.get("trace_id") == "TRACE":
        filters = {"trace_id": results[2].trace_id}  # type: ignore[union-attr]
    first = recording.list_events(EventQuery(order=order, limit=5, **filters))  # type: ignore[arg-type]
    plan = _plan(recording)
    assert plan["index"] == indexes[order == "desc"] and plan["to"]["inclusive"] is False
    assert plan["from"]["inclusive"] is True
    last = first[-1]
    after = Position(ms=int(last["timestamp"].timestamp() * 1000), id=last["_tie"])
    second = recording.list_events(EventQuery(order=order, limit=5, after=after, **filters))  # type: ignore[arg-type]
    plan = _plan(recording)
    # The next page's scan starts at the cursor: nothing before it is read again.
    assert plan["from"]["inclusive"] is False and plan["from"]["value"].endswith(last["_tie"])
    assert {e["event_id"] for e in first}.isdisjoint(e["event_id"] for e in second)


def test_events_stored_before_the_filter_keys_get_them(store: SurrealStore, policy: IngestPolicy) -> None:
    ingest_batch(_events(30), store, policy, now=NOW)
    expected = [e["event_id"] for e in store.list_events(EventQuery(event_type="rare", limit=100))]
    # As a v5 store held them: no filter keys.
    store._run(
        "UPDATE agent_event SET trace_rsk = NONE, type_sk = NONE, type_rsk = NONE, agent_sk = NONE, "
        "agent_rsk = NONE, session_sk = NONE, session_rsk = NONE RETURN NONE;"
        "UPDATE schema_meta:vectadb SET version = 5 RETURN NONE;"
    )
    assert store.list_events(EventQuery(event_type="rare", limit=100)) == []
    store.ensure_schema()
    assert [e["event_id"] for e in store.list_events(EventQuery(event_type="rare", limit=100))] == expected
    for filters in ({"agent_id": "agent:0"}, {"session_id": "s1"}):
        for order in ("asc", "desc"):
            assert store.list_events(EventQuery(order=order, limit=100, **filters))  # type: ignore[arg-type]


TRACE_FILTERS = [
    ({}, ("idx_trace_sk", "idx_trace_rsk")),
    ({"status": "completed"}, ("idx_trace_status_sk", "idx_trace_status_rsk")),
    ({"agent_id": "agent:1"}, ("idx_trace_agent_sk", "idx_trace_agent_rsk")),
    ({"session_id": "s2"}, ("idx_trace_session_sk", "idx_trace_session_rsk")),
    ({"agent_id": "agent:1", "status": "running"}, ("idx_trace_status_sk", "idx_trace_status_rsk")),
]


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize(("filters", "indexes"), TRACE_FILTERS, ids=[str(f) for f, _ in TRACE_FILTERS])
def test_a_filtered_trace_page_is_one_range_scan_and_follows_status_changes(
    recording: RecordingStore,
    policy: IngestPolicy,
    filters: dict[str, str],
    indexes: tuple[str, str],
    order: str,
) -> None:
    events = [
        {
            "timestamp": (T0 + timedelta(seconds=i)).isoformat(),
            "event_type": "log",
            "session_id": f"s{i}",
            "agent_id": f"agent:{i % 2}",
            "properties": {},
        }
        for i in range(12)
    ]
    ingest_batch(events, recording, policy, now=NOW)
    # Half of the runs end: their traces move from running to completed, and so do their keys.
    ends = [
        {**e, "event_type": "agent_end", "timestamp": (T0 + timedelta(minutes=5)).isoformat()}
        for e in events[::2]
    ]
    ingest_batch(ends, recording, policy, now=NOW)
    page = recording.list_traces(TraceQuery(order=order, limit=50, **filters))  # type: ignore[arg-type]
    assert _plan(recording)["index"] == indexes[order == "desc"]
    expected = {
        e["session_id"]
        for i, e in enumerate(events)
        if all(
            {
                "status": "completed" if i % 2 == 0 else "running",
                "agent_id": e["agent_id"],
                "session_id": e["session_id"],
            }[k]
            == v
            for k, v in filters.items()
        )
    }
    assert {t["session_id"] for t in page} == expected
    starts = [t["start_time"] for t in page]
    assert starts == sorted(starts, reverse=order == "desc")


def test_the_seed_s_single_field_indexes_go_on_upgrade(store: SurrealStore, policy: IngestPolicy) -> None:
    ingest_batch(_events(20), store, policy, now=NOW)
    store._run(
        "DEFINE INDEX idx_event_type ON agent_event FIELDS event_type;"
        "DEFINE INDEX idx_agent_id ON agent_event FIELDS agent_id;"
        "UPDATE schema_meta:vectadb SET version = 8 RETURN NONE;"
    )
    store.ensure_schema()
    indexes = set(store._run("INFO FOR TABLE agent_event")[-1]["indexes"])
    assert not indexes & {"idx_event_type", "idx_session_id", "idx_agent_id"}
    assert {"idx_event_type_rsk", "idx_timestamp", "idx_trace_id"} <= indexes
    assert len(store.list_events(EventQuery(event_type="rare", limit=100))) == 6
