"""Runs in log streams that name no request, across deliveries, on the real embedded SurrealDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vectadb.core.ids import trace_id_for_session
from vectadb.core.models import EventIn
from vectadb.core.runs import MAX_MARKS
from vectadb.service.ingestion import Accepted, EventRejected, IngestPolicy, ingest_batch, ingest_event
from vectadb.stores.base import EventQuery
from vectadb.stores.surreal import SurrealStore

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
GROUP = "/aws/containerinsights/agents/application"


def _line(
    ms: int, event_type: str = "log", session: str | None = None, stream: str = "pod-a"
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "timestamp": (T0 + timedelta(milliseconds=ms)).isoformat(),
        "event_type": event_type,
        "properties": {"message": f"line at {ms}"},
        "source": {
            "system": "cloudwatch",
            "log_group": GROUP,
            "log_stream": stream,
            "log_id": f"{stream}-{ms}",
        },
    }
    if session:
        event["session_id"] = session
    return event


def _sessions(results: list[Any], store: SurrealStore) -> list[str | None]:
    kept = store.get_events([r.event_id for r in results])
    return [kept[r.event_id]["session_id"] for r in results]


def _streams(store: SurrealStore) -> list[str]:
    return store._select("SELECT VALUE record::id(id) FROM stream_run", {})


def _status(store: SurrealStore, session: str) -> str:
    trace = store.get_trace(trace_id_for_session(session))
    assert trace is not None
    return trace["status"]


def test_a_run_s_later_deliveries_join_it_and_lines_after_its_end_do_not(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    # The parser saw the start in the first delivery and gave the run its session.
    ingest_batch(
        [_line(0), _line(10, "agent_start", "run-1"), _line(20, "log", "run-1")], store, policy, now=NOW
    )
    second = ingest_batch([_line(30, "tool_call"), _line(40, "agent_end"), _line(50)], store, policy, now=NOW)
    assert _sessions(second, store) == ["run-1", "run-1", None]
    assert _status(store, "run-1") == "completed"
    # A line before any run, in the first delivery, stays without a trace.
    assert store.list_events(EventQuery(order="asc"))[0]["session_id"] is None


def test_nested_starts_balance_their_ends_and_a_failure_ends_the_run_at_once(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    ingest_batch([_line(0, "agent_start", "run-1")], store, policy, now=NOW)
    inner = ingest_batch(
        [_line(10, "agent_start"), _line(20, "agent_end"), _line(30)], store, policy, now=NOW
    )
    assert _sessions(inner, store) == ["run-1", "run-1", "run-1"]  # the inner chain's end is not the run's
    failed = ingest_batch(
        [_line(40, "agent_start"), _line(50, "agent_error"), _line(60)], store, policy, now=NOW
    )
    assert _sessions(failed, store) == ["run-1", "run-1", None]
    assert _status(store, "run-1") == "failed"


def test_a_run_without_an_end_marker_ends_when_the_next_one_starts(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    ingest_batch([_line(0, "agent_start", "run-1"), _line(10, "llm_call", "run-1")], store, policy, now=NOW)
    later = ingest_batch([_line(20), _line(100, "agent_start", "run-2"), _line(110)], store, policy, now=NOW)
    assert _sessions(later, store) == ["run-1", "run-2", "run-2"]
    assert _status(store, "run-1") == "completed"
    assert _status(store, "run-2") == "running"  # the stream's last run: nothing has ended it yet


def test_the_next_run_does_not_undo_a_failure(store: SurrealStore, policy: IngestPolicy) -> None:
    ingest_batch([_line(0, "agent_start", "run-1"), _line(5, "error", "run-1")], store, policy, now=NOW)
    ingest_batch([_line(6, "agent_error")], store, policy, now=NOW)
    ingest_batch([_line(100, "agent_start", "run-2")], store, policy, now=NOW)
    assert _status(store, "run-1") == "failed"


def test_lines_of_the_run_s_first_and_last_millisecond_are_the_run_s(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    # A blank line printed just before the marker, and an end printed twice (two handlers).
    batch = [_line(0), _line(0, "agent_start", "run-1"), _line(9, "agent_end", "run-1")]
    results = ingest_batch(batch, store, policy, now=NOW)
    again = ingest_batch(
        [_line(9, "agent_end") | {"source": {**_line(9)["source"], "log_id": "dup"}}], store, policy, now=NOW
    )
    assert _sessions(results, store)[0] == "run-1"
    assert _sessions(again, store) == ["run-1"]


def test_streams_are_apart_and_other_events_are_untouched(store: SurrealStore, policy: IngestPolicy) -> None:
    ingest_batch([_line(0, "agent_start", "run-a", stream="pod-a")], store, policy, now=NOW)
    api_event = {"timestamp": (T0 + timedelta(milliseconds=5)).isoformat(), "event_type": "log"}
    results = ingest_batch(
        [_line(5, stream="pod-b"), api_event, _line(6, stream="pod-a")], store, policy, now=NOW
    )
    assert _sessions(results, store) == [None, None, "run-a"]


def test_a_redelivery_lands_on_the_same_events_and_marks(store: SurrealStore, policy: IngestPolicy) -> None:
    batches = [[_line(0, "agent_start", "run-1")], [_line(10), _line(20, "agent_end")], [_line(30)]]
    first = [ingest_batch(b, store, policy, now=NOW) for b in batches]
    marks = store.stream_marks(_streams(store))
    again = [ingest_batch(b, store, policy, now=NOW) for b in batches]
    assert all(isinstance(r, Accepted) and r.duplicate and not r.conflict for batch in again for r in batch)
    assert [[r.event_id for r in b] for b in again] == [[r.event_id for r in b] for b in first]
    assert store.stream_marks(list(marks)) == marks
    assert [m.kind for m in next(iter(marks.values()))] == [2, 1]


def test_a_stream_keeps_its_latest_marks(store: SurrealStore, policy: IngestPolicy) -> None:
    for run in range(MAX_MARKS):
        ingest_batch(
            [_line(run * 100, "agent_start", f"run-{run}"), _line(run * 100 + 50, "agent_end", f"run-{run}")],
            store,
            policy,
            now=NOW,
        )
    (marks,) = store.stream_marks(_streams(store)).values()
    assert len(marks) == MAX_MARKS
    assert marks[-1].session_id == f"run-{MAX_MARKS - 1}" and marks[0].session_id == f"run-{MAX_MARKS // 2}"
    # The latest run still attributes the lines that follow its start.
    (result,) = ingest_batch([_line((MAX_MARKS - 1) * 100 + 10)], store, policy, now=NOW)
    assert _sessions([result], store) == [f"run-{MAX_MARKS - 1}"]


def test_one_event_through_the_single_route_joins_its_run(store: SurrealStore, policy: IngestPolicy) -> None:
    ingest_batch([_line(0, "agent_start", "run-1")], store, policy, now=NOW)
    result = ingest_event(EventIn.model_validate(_line(10)), store, policy, now=NOW)
    assert result.trace_id == trace_id_for_session("run-1")


def test_the_crash_after_a_framework_reported_its_run_failed_is_that_run_s(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    ingest_batch(
        [_line(0, "agent_start", "run-1"), _line(10, "agent_error", "run-1")], store, policy, now=NOW
    )
    after = ingest_batch([_line(17, "agent_error"), _line(18, "log")], store, policy, now=NOW)
    assert _sessions(after, store) == ["run-1", None]
    ingest_batch(
        [_line(100, "agent_start", "run-2"), _line(110, "agent_end", "run-2")], store, policy, now=NOW
    )
    (late,) = ingest_batch([_line(120, "agent_error")], store, policy, now=NOW)
    assert _sessions([late], store) == [None]  # run-2 ended well: a later crash is not its


def test_a_crash_after_a_run_that_only_reported_its_failure_is_that_run_s(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    # An OTel agent span reports the whole run when it ends, failed: the stream never saw it start.
    ingest_batch([_line(0, "log"), _line(5, "agent_error", "otel-run")], store, policy, now=NOW)
    (crash,) = ingest_batch([_line(40, "agent_error")], store, policy, now=NOW)
    assert _sessions([crash], store) == ["otel-run"]


def test_an_llm_call_in_a_later_delivery_takes_the_model_its_trace_last_named(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    header = _line(0, "agent_start", "req-1") | {"properties": {"message": "New run", "model": "gpt-4o-mini"}}
    ingest_batch([header], store, policy, now=NOW)
    call, other = ingest_batch(
        [_line(10, "llm_call", "req-1"), _line(11, "llm_call", "req-2")], store, policy, now=NOW
    )
    kept = store.get_events([call.event_id, other.event_id])
    assert kept[call.event_id]["properties"]["model"] == "gpt-4o-mini"
    assert kept[call.event_id]["properties"]["model_inferred"] is True
    assert "model" not in kept[other.event_id]["properties"]  # another run named no model
    # Within one batch, the model named before the call wins over the stored one.
    switch = _line(20, "log", "req-1") | {"properties": {"message": "chat gpt-4o", "model": "gpt-4o"}}
    _, later = ingest_batch([switch, _line(30, "llm_call", "req-1")], store, policy, now=NOW)
    assert store.get_events([later.event_id])[later.event_id]["properties"]["model"] == "gpt-4o"
    assert store.trace_models([trace_id_for_session("req-1")]) == {trace_id_for_session("req-1"): "gpt-4o"}
    # A redelivery infers the same model: nothing conflicts.
    (again,) = ingest_batch([_line(10, "llm_call", "req-1")], store, policy, now=NOW)
    assert isinstance(again, Accepted) and again.duplicate and not again.conflict


def test_a_running_trace_without_events_for_a_while_shows_as_abandoned(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    from vectadb.service import queries
    from vectadb.stores.base import TraceQuery

    ingest_batch([_line(0, "agent_start", "run-1"), _line(10, "log", "run-1")], store, policy, now=NOW)
    ingest_batch([_line(20, "agent_start", "run-2"), _line(30, "agent_end", "run-2")], store, policy, now=NOW)
    last = T0 + timedelta(milliseconds=10)
    soon, later = last + timedelta(minutes=14), last + timedelta(minutes=16)
    trace_id = trace_id_for_session("run-1")
    # run-2's start ended run-1 (completed): a stream runs one run at a time.
    assert queries.get_trace(store, trace_id, 10, now=later)["trace"]["status"] == "completed"
    ingest_batch([_line(40, "agent_start", "run-3")], store, policy, now=NOW)
    run3 = trace_id_for_session("run-3")
    assert queries.get_trace(store, run3, 10, now=soon)["trace"]["abandoned"] is False
    late = T0 + timedelta(milliseconds=40, minutes=16)
    assert queries.get_trace(store, run3, 10, now=late)["trace"]["abandoned"] is True
    listed = queries.list_traces(store, TraceQuery(), now=late)["traces"]
    assert {t["session_id"]: t["abandoned"] for t in listed} == {
        "run-1": False,
        "run-2": False,
        "run-3": True,
    }


def test_a_lambda_function_s_stream_keeps_no_runs(store: SurrealStore, policy: IngestPolicy) -> None:
    """In Lambda each invocation is a run and its request id attributes the lines: no marks kept,
    no lookups made, no trace completed by the next invocation's start."""

    def in_lambda(line: dict[str, Any]) -> dict[str, Any]:
        return line | {"source": {**line["source"], "log_group": "/aws/lambda/agent"}}

    ingest_batch([in_lambda(_line(0, "agent_start", "req-1"))], store, policy, now=NOW)
    ingest_batch([in_lambda(_line(100, "agent_start", "req-2"))], store, policy, now=NOW)
    (orphan,) = ingest_batch([in_lambda(_line(110))], store, policy, now=NOW)
    assert _sessions([orphan], store) == [None]
    assert _streams(store) == []
    assert _status(store, "req-1") == "running"


def test_a_refused_future_start_leaves_no_mark(store: SurrealStore, policy: IngestPolicy) -> None:
    """A run start dated beyond the future tolerance is refused, and nothing of it is kept: later
    lines of its stream, once their time has come, do not join a run that was never stored."""
    future_ms = int((NOW - T0).total_seconds() * 1000) + 10 * 60_000  # ten minutes after NOW
    refused = ingest_batch([_line(future_ms, "agent_start", "ghost")], store, policy, now=NOW)
    assert [r.code for r in refused] == ["future_timestamp"]
    with pytest.raises(EventRejected):
        ingest_event(
            EventIn.model_validate(_line(future_ms + 1, "agent_start", "ghost")), store, policy, now=NOW
        )
    assert _streams(store) == []
    later = ingest_batch([_line(future_ms + 60_000)], store, policy, now=NOW + timedelta(minutes=20))
    assert _sessions(later, store) != ["ghost"]
