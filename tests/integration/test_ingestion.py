"""The core ingestion path on the real embedded SurrealDB engine."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from vectadb.core.ids import event_id_for
from vectadb.core.models import EventIn
from vectadb.service.ingestion import Accepted, IngestPolicy, Rejected, ingest_batch
from vectadb.stores.surreal import SurrealStore

T0 = datetime(2026, 1, 7, 17, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)


def _event(i: int, session: str = "sess-1", **extra: object) -> dict:
    return {
        "timestamp": (T0 + timedelta(seconds=i)).isoformat(),
        "event_type": "tool_call",
        "session_id": session,
        "agent_id": "agent-7",
        "properties": {"tool_name": "web_search", "tool_input": {"query": f"q{i}"}},
        "source": {
            "system": "cloudwatch",
            "log_group": "/aws/lambda/agent",
            "log_stream": "s",
            "log_id": f"{i}",
        },
        **extra,
    }


def _count(store: SurrealStore, sql: str, **params: object) -> int:
    rows = store._select(sql, params)
    return rows[0]["n"] if rows else 0


def test_same_batch_three_times_stores_one_copy(store: SurrealStore, policy: IngestPolicy) -> None:
    batch = [_event(i) for i in range(50)]
    first = ingest_batch(batch, store, policy, now=NOW)
    assert all(isinstance(r, Accepted) and not r.duplicate for r in first)
    for _ in range(2):
        again = ingest_batch(batch, store, policy, now=NOW)
        assert [r.event_id for r in again] == [r.event_id for r in first]
        assert all(isinstance(r, Accepted) and r.duplicate for r in again)
    assert _count(store, "SELECT count() AS n FROM agent_event GROUP ALL") == 50
    assert _count(store, "SELECT count() AS n FROM hasEvent GROUP ALL") == 50
    (trace,) = store._select("SELECT * FROM agent_trace", {})
    assert trace["total_events"] == 50
    assert trace["start_time"] == T0
    assert trace["last_event_at"] == T0 + timedelta(seconds=49)


def test_overlapping_redelivery_counts_only_new_events(store: SurrealStore, policy: IngestPolicy) -> None:
    ingest_batch([_event(i) for i in range(0, 30)], store, policy, now=NOW)
    results = ingest_batch([_event(i) for i in range(20, 40)], store, policy, now=NOW)
    assert [r.duplicate for r in results] == [True] * 10 + [False] * 10  # type: ignore[union-attr]
    (trace,) = store._select("SELECT total_events FROM agent_trace", {})
    assert trace["total_events"] == 40


def test_duplicates_inside_one_batch(store: SurrealStore, policy: IngestPolicy) -> None:
    results = ingest_batch([_event(1), _event(1), _event(2)], store, policy, now=NOW)
    assert [r.duplicate for r in results] == [False, True, False]  # type: ignore[union-attr]
    (trace,) = store._select("SELECT total_events FROM agent_trace", {})
    assert trace["total_events"] == 2


def test_bad_events_never_sink_good_ones(store: SurrealStore, policy: IngestPolicy) -> None:
    batch = [
        _event(0),
        {"timestamp": "not a time"},
        _event(1, timestamp=(NOW + timedelta(minutes=6)).isoformat()),
        "just a string",
        _event(2),
    ]
    results = ingest_batch(batch, store, policy, now=NOW)
    assert [type(r).__name__ for r in results] == ["Accepted", "Rejected", "Rejected", "Rejected", "Accepted"]
    rejected = [r for r in results if isinstance(r, Rejected)]
    assert [r.code for r in rejected] == ["validation_error", "future_timestamp", "validation_error"]
    assert all(r.status == 422 for r in rejected)
    assert rejected[0].message.startswith("events[1]: timestamp")
    assert _count(store, "SELECT count() AS n FROM agent_event GROUP ALL") == 2


def test_future_tolerance_is_five_minutes(store: SurrealStore, policy: IngestPolicy) -> None:
    ok = _event(0, timestamp=(NOW + timedelta(minutes=5)).isoformat())
    late = _event(1, timestamp=(NOW + timedelta(minutes=5, milliseconds=1)).isoformat())
    results = ingest_batch([ok, late], store, policy, now=NOW)
    assert isinstance(results[0], Accepted)
    assert isinstance(results[1], Rejected) and results[1].code == "future_timestamp"


def test_trace_status_end_time_and_precedence(store: SurrealStore, policy: IngestPolicy) -> None:
    ingest_batch(
        [_event(0, event_type="agent_start"), _event(5, event_type="agent_end")], store, policy, now=NOW
    )
    trace = store._select("SELECT * FROM agent_trace", {})[0]
    assert (trace["status"], trace["end_time"]) == ("completed", T0 + timedelta(seconds=5))
    # A late error outranks completion, whatever order the deliveries arrive in.
    ingest_batch([_event(3, event_type="agent_error")], store, policy, now=NOW)
    trace = store._select("SELECT * FROM agent_trace", {})[0]
    assert (trace["status"], trace["end_time"]) == ("failed", T0 + timedelta(seconds=5))
    # An earlier event moves start_time back, never forward.
    ingest_batch([_event(-10)], store, policy, now=NOW)
    ingest_batch([_event(100)], store, policy, now=NOW)
    trace = store._select("SELECT * FROM agent_trace", {})[0]
    assert trace["start_time"] == T0 - timedelta(seconds=10)
    assert trace["last_event_at"] == T0 + timedelta(seconds=100)
    assert trace["status"] == "failed"
    assert trace["total_events"] == 5


def test_terminal_types_are_configurable(store: SurrealStore) -> None:
    policy = IngestPolicy(
        terminal_event_types={"run_done": "completed"},
        error_event_types=frozenset({"error"}),
        future_tolerance=timedelta(minutes=5),
        max_batch_events=1000,
    )
    ingest_batch([_event(0, event_type="agent_end")], store, policy, now=NOW)
    assert store._select("SELECT status FROM agent_trace", {})[0]["status"] == "running"
    ingest_batch([_event(1, event_type="run_done")], store, policy, now=NOW)
    assert store._select("SELECT status FROM agent_trace", {})[0]["status"] == "completed"


def test_parent_becomes_a_single_caused_by_edge(store: SurrealStore, policy: IngestPolicy) -> None:
    parent = _event(0, event_id="call-1")
    child = _event(1, event_id="result-1", event_type="tool_result", parent_event_id="call-1")
    for _ in range(3):
        ingest_batch([child, parent], store, policy, now=NOW)
    edges = store._select("SELECT record::id(in) AS child, record::id(out) AS parent FROM causedBy", {})
    assert edges == [{"child": "result-1", "parent": "call-1"}]
    graph = store._select(
        "SELECT ->causedBy->agent_event.event_type AS parents FROM agent_event:`result-1`", {}
    )
    assert graph == [{"parents": ["tool_call"]}]
    # The seed's trace reconstruction through hasEvent.
    trace = store._select("SELECT ->hasEvent->agent_event AS events FROM agent_trace", {})[0]
    assert len(trace["events"]) == 2


def test_a_parent_may_arrive_after_its_child(store: SurrealStore, policy: IngestPolicy) -> None:
    ingest_batch([_event(1, event_id="late-child", parent_event_id="late-parent")], store, policy, now=NOW)
    query = "SELECT VALUE ->causedBy->agent_event.event_type FROM ONLY agent_event:`late-child`"
    assert store._select(query, {}) == []
    ingest_batch([_event(0, event_id="late-parent", event_type="llm_call")], store, policy, now=NOW)
    assert store._select(query, {}) == ["llm_call"]


def test_events_without_session_make_no_trace(store: SurrealStore, policy: IngestPolicy) -> None:
    (result,) = ingest_batch([_event(0, session_id=None)], store, policy, now=NOW)
    assert isinstance(result, Accepted) and result.trace_id is None
    assert store._select("SELECT * FROM agent_trace", {}) == []


def test_explicit_trace_id_groups_across_sessions(store: SurrealStore, policy: IngestPolicy) -> None:
    ingest_batch(
        [_event(0, trace_id="run-42"), _event(1, session="other", trace_id="run-42")], store, policy, now=NOW
    )
    (trace,) = store._select("SELECT record::id(id) AS id, total_events, session_id FROM agent_trace", {})
    assert trace == {"id": "run-42", "total_events": 2, "session_id": "sess-1"}


def test_errors_are_flagged_by_type_or_level(store: SurrealStore, policy: IngestPolicy) -> None:
    ingest_batch(
        [
            _event(0, event_type="error"),
            _event(1, event_type="tool_result", properties={"level": "ERROR"}),
            _event(2, properties={"level": "warning"}),
        ],
        store,
        policy,
        now=NOW,
    )
    flags = store._select("SELECT is_error, timestamp FROM agent_event ORDER BY timestamp", {})
    assert [f["is_error"] for f in flags] == [True, True, False]


def test_two_threads_on_one_session_make_one_trace(store: SurrealStore, policy: IngestPolicy) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            barrier.wait()
            for start in range(offset, 400, 40):
                ingest_batch([_event(i) for i in range(start, start + 20)], store, policy, now=NOW)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in (0, 20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    traces = store._select("SELECT total_events FROM agent_trace", {})
    assert traces == [{"total_events": 400}]
    assert _count(store, "SELECT count() AS n FROM agent_event GROUP ALL") == 400


def test_a_refused_event_is_isolated_and_the_rest_is_stored(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    """A write the store refuses for good is split until the refused events stand alone: they get
    a per-item 500 (the sender keeps them), the others are stored, and nothing is half-written."""
    # Make the trace update, which runs after the events are inserted, fail inside the transaction
    # as soon as a trace would hold a second event.
    store._run("DEFINE FIELD OVERWRITE total_events ON agent_trace TYPE int ASSERT $value < 2")
    results = ingest_batch([_event(0), _event(1), _event(2, session="other")], store, policy, now=NOW)
    assert [type(r).__name__ for r in results] == ["Accepted", "Rejected", "Accepted"]
    refused = results[1]
    assert isinstance(refused, Rejected)
    assert (refused.status, refused.code) == (500, "store_error")
    assert refused.message.startswith("events[1]: ")
    assert _count(store, "SELECT count() AS n FROM agent_event GROUP ALL") == 2
    assert _count(store, "SELECT count() AS n FROM hasEvent GROUP ALL") == 2
    assert sorted(t["total_events"] for t in store._select("SELECT * FROM agent_trace", {})) == [1, 1]
    # The refused event was not half-written: its id is free for the retry.
    assert store.get_events([event_id_for(EventIn.model_validate(_event(1)))]) == {}


def test_partial_redelivery_recomputes_trace_from_new_events_only(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    ingest_batch([_event(i) for i in range(5, 10)], store, policy, now=NOW)
    # Same ids as before for 5..9 but claiming another content; only -3 and 12 are new.
    mixed = [_event(i, event_type="agent_error") for i in range(5, 10)]
    mixed += [_event(-3, event_type="agent_start"), _event(12, event_type="agent_end")]
    results = ingest_batch(mixed, store, policy, now=NOW)
    assert [r.duplicate for r in results] == [True] * 5 + [False, False]  # type: ignore[union-attr]
    trace = store._select("SELECT * FROM agent_trace", {})[0]
    assert trace["total_events"] == 7
    assert trace["start_time"] == T0 - timedelta(seconds=3)
    assert trace["last_event_at"] == T0 + timedelta(seconds=12)
    # The duplicates' claimed agent_error was not stored, so it must not fail the trace.
    assert (trace["status"], trace["end_time"]) == ("completed", T0 + timedelta(seconds=12))


def test_trace_order_holds_across_timestamp_widths(store: SurrealStore, policy: IngestPolicy) -> None:
    """Epoch milliseconds have 12 digits before 2001-09-09: the sort keys must still order."""
    from vectadb.stores.base import TraceQuery

    old = datetime(2000, 6, 1, tzinfo=UTC)
    batch = [
        _event(0, session="y2k", timestamp=old.isoformat()),
        _event(1, session="now"),
        _event(2, session="sept2001", timestamp=datetime(2001, 9, 9, 2, tzinfo=UTC).isoformat()),
    ]
    ingest_batch(batch[:1], store, policy, now=NOW)
    ingest_batch([batch[0], *batch[1:]], store, policy, now=NOW)  # y2k again: the recount path
    asc = [t["session_id"] for t in store.list_traces(TraceQuery(order="asc"))]
    desc = [t["session_id"] for t in store.list_traces(TraceQuery(order="desc"))]
    assert asc == ["y2k", "sept2001", "now"]
    assert desc == ["now", "sept2001", "y2k"]
