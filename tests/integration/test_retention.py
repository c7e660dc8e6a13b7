"""Retention on the real stores: old events, their edges, vectors and traces go; recent ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import Api
from vectadb.service import retention
from vectadb.service.api_runtime import Runtime

NOW = datetime.now(UTC).replace(microsecond=0)


def _event(days_ago: float, session: str, i: int) -> dict:
    return {
        "timestamp": (NOW - timedelta(days=days_ago, seconds=i)).isoformat(),
        "event_type": "tool_call",
        "session_id": session,
        "event_id": f"{session}-{i}",
        "parent_event_id": f"{session}-{i - 1}" if i else None,
        "properties": {"tool_name": "web_search", "tool_input": {"q": f"{session} {i}"}},
    }


def _count(runtime: Runtime, table: str) -> int:
    rows = runtime.store._select(f"SELECT count() AS n FROM {table} GROUP ALL", {})  # type: ignore[attr-defined]  # noqa: S608 - a table name of this test
    return rows[0]["n"] if rows else 0


def test_old_events_vectors_edges_and_traces_are_deleted(api: Api, runtime: Runtime, monkeypatch) -> None:
    old = [_event(40, "old", i) for i in range(30)]
    recent = [_event(2, "recent", i) for i in range(10)]
    straddling = [_event(35, "both", 0), _event(1, "both", 1)]
    assert api.post("/api/v1/events/batch", {"events": old + recent + straddling}).status == 200
    assert runtime.semantic.index is not None
    assert runtime.semantic.index.count() == 42

    monkeypatch.setattr(retention, "BATCH", 7)  # several rounds
    report = retention.purge(runtime.store, runtime.semantic, retention_days=30, now=NOW)
    assert (report["events_deleted"], report["traces_deleted"], report["finished"]) == (31, 1, True)
    assert _count(runtime, "agent_event") == 11
    assert runtime.semantic.index.count() == 11
    assert {t["session_id"] for t in api.get("/api/v1/traces").body["traces"]} == {"recent", "both"}
    assert _count(runtime, "hasEvent") == 11  # edges went with their events
    assert _count(runtime, "causedBy") == 9
    hits = api.post("/api/v1/search", {"query": "old web search", "limit": 50}).body["hits"]
    assert {h["event"]["session_id"] for h in hits} == {"recent", "both"}

    again = retention.purge(runtime.store, runtime.semantic, retention_days=30, now=NOW)
    assert (again["events_deleted"], again["traces_deleted"]) == (0, 0)


def test_a_deadline_stops_between_batches(api: Api, runtime: Runtime, monkeypatch) -> None:
    api.post("/api/v1/events/batch", {"events": [_event(40, "old", i) for i in range(20)]})
    monkeypatch.setattr(retention, "BATCH", 5)
    report = retention.purge(runtime.store, runtime.semantic, retention_days=30, now=NOW, deadline=0.0)
    assert (report["events_deleted"], report["finished"], report["traces_deleted"]) == (0, False, 0)
    done = retention.purge(runtime.store, runtime.semantic, retention_days=30, now=NOW)
    assert (done["events_deleted"], done["traces_deleted"]) == (20, 1)
