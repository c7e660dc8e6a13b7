"""Redelivery: the first stored copy wins, and the graph stays true whatever arrives again.

Property-based: random sequences of deliveries and redeliveries of a few event ids, each copy with
its own session, trace, parent, type and time, against the real embedded SurrealDB. After every
sequence the store must hold exactly what a model of the rule predicts, and the graph invariants
must hold: every ``hasEvent`` edge joins an event to the trace its ``trace_id`` names, every trace
counts exactly its edges, at most one edge per event.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Api
from vectadb.core.ids import trace_id_for
from vectadb.core.models import EventIn, to_millis
from vectadb.service.ingestion import Accepted, IngestPolicy, ingest_batch
from vectadb.stores.base import STATUS_RANK
from vectadb.stores.surreal import SurrealStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=1)
IDS = ("e1", "e2", "e3", "e4", "e5")

copies = st.fixed_dictionaries(
    {
        "event_id": st.sampled_from(IDS),
        "session_id": st.sampled_from([None, "A", "B"]),
        "trace_id": st.sampled_from([None, None, "T1"]),
        "parent_event_id": st.sampled_from([None, None, *IDS]),
        "event_type": st.sampled_from([None, "tool_call", "agent_end", "agent_error"]),
        "second": st.integers(0, 5),
        "message": st.sampled_from(["ok", "disk full\u0000", "other"]),
    }
)
# Each delivery: whether it asks to replace stored copies (an explicit re-parse), and its events.
deliveries = st.lists(
    st.tuples(st.booleans(), st.lists(copies, min_size=1, max_size=6)), min_size=1, max_size=6
)


def _event(copy: dict[str, Any]) -> dict[str, Any]:
    event = {
        "timestamp": (T0 + timedelta(seconds=copy["second"])).isoformat(),
        "event_id": copy["event_id"],
        "properties": {"message": copy["message"]},
    }
    for name in ("session_id", "trace_id", "parent_event_id", "event_type"):
        if copy[name] is not None:
            event[name] = copy[name]
    return event


@pytest.fixture
def fresh_store() -> Iterator[list[SurrealStore]]:
    """A new embedded database per example (hypothesis reuses the test's fixtures)."""
    opened: list[SurrealStore] = []
    yield opened
    for db in opened:
        db.close()


def _graph(store: SurrealStore) -> tuple[dict[str, dict], list[dict], list[dict], dict[str, dict]]:
    events = {
        e["event_id"]: e for e in store._select("SELECT *, record::id(id) AS event_id FROM agent_event", {})
    }
    has_event = store._select(
        "SELECT record::id(id) AS id, record::id(in) AS trace, record::id(out) AS event FROM hasEvent", {}
    )
    caused_by = store._select(
        "SELECT record::id(id) AS id, record::id(in) AS event, record::id(out) AS parent FROM causedBy", {}
    )
    traces = {
        t["trace_id"]: t for t in store._select("SELECT *, record::id(id) AS trace_id FROM agent_trace", {})
    }
    return events, has_event, caused_by, traces


def _differences(sent: EventIn, kept: EventIn) -> tuple[str, ...]:
    fields = ("timestamp", "event_type", "session_id", "trace_id", "parent_event_id", "properties")
    differs = {name for name in fields if getattr(sent, name) != getattr(kept, name)}
    if trace_id_for(sent) != trace_id_for(kept):
        differs.add("trace_id")
    return tuple(sorted(differs))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=deliveries)
def test_the_store_holds_what_the_rule_says_and_the_graph_stays_true(
    sequence: list[tuple[bool, list[dict[str, Any]]]], policy: IngestPolicy, fresh_store: list[SurrealStore]
) -> None:
    """The rule, modelled: the first copy of an id is stored; a later copy that differs is a
    duplicate with a conflict list, unless its delivery asks to replace (then the first such copy
    of the delivery replaces it)."""
    store = SurrealStore("mem://")
    fresh_store.append(store)
    store.ensure_schema()
    current: dict[str, EventIn] = {}
    for replace, batch in sequence:
        results = ingest_batch([_event(c) for c in batch], store, policy, now=NOW, replace=replace)
        seen: set[str] = set()
        for copy, result in zip(batch, results, strict=True):
            assert isinstance(result, Accepted)
            sent = EventIn.model_validate(_event(copy))
            first_in_batch = copy["event_id"] not in seen
            seen.add(copy["event_id"])
            kept = current.get(copy["event_id"])
            if kept is None:
                current[copy["event_id"]] = sent
                assert (result.duplicate, result.replaced, result.conflict) == (False, False, ())
                assert result.trace_id == trace_id_for(sent)
                continue
            differs = _differences(sent, kept)
            assert result.duplicate is True
            assert tuple(sorted(result.conflict)) == differs
            if replace and first_in_batch and differs:
                current[copy["event_id"]] = sent
                assert result.replaced is True
                assert result.trace_id == trace_id_for(sent)
            else:
                assert result.replaced is False
                assert result.trace_id == trace_id_for(kept)
    first = current

    events, has_event, caused_by, traces = _graph(store)
    # The store holds the current copy of each event, exactly.
    assert set(events) == set(first)
    for event_id, kept in first.items():
        stored = store.get_events([event_id])[event_id]
        assert stored["session_id"] == kept.session_id
        assert stored["trace_id"] == trace_id_for(kept)
        assert stored["parent_event_id"] == kept.parent_event_id
        assert stored["event_type"] == kept.event_type
        assert stored["timestamp"] == kept.timestamp
        assert stored["properties"] == kept.properties

    # hasEvent: one edge per traced event, from the trace its trace_id names; none otherwise.
    assert len({e["event"] for e in has_event}) == len(has_event)
    for edge in has_event:
        assert edge["id"] == edge["event"]
        assert events[edge["event"]]["trace_id"] == edge["trace"]
        assert edge["trace"] in traces
    traced = {event_id for event_id, e in events.items() if e.get("trace_id")}
    assert {e["event"] for e in has_event} == traced

    # causedBy: one edge per event with a parent, to that parent.
    assert sorted((e["event"], e["parent"]) for e in caused_by) == sorted(
        (event_id, e["parent_event_id"]) for event_id, e in events.items() if e.get("parent_event_id")
    )

    # Each trace counts exactly its edges, and its times and status come from its stored events.
    assert set(traces) == {e["trace"] for e in has_event}
    for trace_id, trace in traces.items():
        members = [first[e["event"]] for e in has_event if e["trace"] == trace_id]
        assert trace["total_events"] == len(members)
        assert trace["start_time"] == min(m.timestamp for m in members)
        assert trace["last_event_at"] == max(m.timestamp for m in members)
        ranks = [
            STATUS_RANK[policy.terminal_event_types[m.event_type]]
            for m in members
            if m.event_type in policy.terminal_event_types
        ]
        assert trace["status_rank"] == max([0, *ranks])
        ends = [to_millis(m.timestamp) for m in members if m.event_type in policy.terminal_event_types]
        assert (to_millis(trace["end_time"]) if trace.get("end_time") else None) == (
            max(ends) if ends else None
        )


# -- the reproductions from the review -------------------------------------------------------


def test_redelivery_under_another_session_is_a_duplicate_and_the_batch_is_stored(api: Api) -> None:
    first = api.post(
        "/api/v1/events", {"timestamp": "2026-11-01T00:00:00Z", "event_id": "x", "session_id": "A"}
    )
    assert first.status == 201
    batch = api.post(
        "/api/v1/events/batch",
        {
            "events": [
                {"timestamp": "2026-11-01T00:00:00Z", "event_id": "x", "session_id": "B"},
                {"timestamp": "2026-11-01T00:00:01Z", "event_id": "y", "session_id": "B"},
            ]
        },
    )
    assert batch.status == 200, batch.raw
    redelivered, new = batch.body["results"]
    assert redelivered["duplicate"] is True
    assert redelivered["trace_id"] == first.body["trace_id"]  # the stored copy's trace
    assert redelivered["conflict"] == ["session_id", "trace_id"]
    assert new["duplicate"] is False and new["conflict"] is None
    assert api.get("/api/v1/events/y").status == 200
    assert api.get("/api/v1/events/x").body["session_id"] == "A"
    trace_a = api.get(f"/api/v1/traces/{first.body['trace_id']}").body
    assert trace_a["trace"]["total_events"] == 1
    assert [e["event_id"] for e in trace_a["events"]] == ["x"]
    trace_b = api.get(f"/api/v1/traces/{new['trace_id']}").body
    assert trace_b["trace"]["total_events"] == 1
    assert [e["event_id"] for e in trace_b["events"]] == ["y"]


def test_redelivery_onto_an_event_without_a_trace_writes_no_edge(api: Api, store: SurrealStore) -> None:
    api.post("/api/v1/events", {"timestamp": "2026-11-01T00:00:00Z", "event_id": "z"})
    again = api.post(
        "/api/v1/events",
        {"timestamp": "2026-11-01T00:00:00Z", "event_id": "z", "session_id": "C", "parent_event_id": "p"},
    )
    assert again.status == 201
    assert again.body["duplicate"] is True and again.body["trace_id"] is None
    assert again.body["conflict"] == ["session_id", "trace_id", "parent_event_id"]
    assert store._select("SELECT * FROM hasEvent", {}) == []
    assert store._select("SELECT * FROM causedBy", {}) == []
    assert store._select("SELECT * FROM agent_trace", {}) == []


def test_identical_redelivery_has_no_conflict(api: Api) -> None:
    event = {
        "timestamp": "2026-11-01T00:00:00Z",
        "event_id": "same",
        "session_id": "S",
        "properties": {"n": 1.5},
    }
    api.post("/api/v1/events", event)
    again = api.post("/api/v1/events", event)
    assert again.body["duplicate"] is True and again.body["conflict"] is None


def test_replace_moves_the_event_and_recounts_both_traces(api: Api) -> None:
    """An explicit re-parse: the new copy replaces the stored one, its edge moves, the trace it
    left is recounted (and goes when emptied), the one it joins counts it, and search sees it."""
    first = api.post(
        "/api/v1/events",
        {
            "timestamp": "2026-11-01T00:00:00Z",
            "event_id": "x",
            "session_id": "A",
            "properties": {"m": "disk full"},
        },
    )
    stays = api.post(
        "/api/v1/events", {"timestamp": "2026-11-01T00:00:05Z", "event_id": "w", "session_id": "A"}
    )
    reparsed = {
        "timestamp": "2026-11-01T00:00:01Z",
        "event_id": "x",
        "session_id": "B",
        "event_type": "agent_error",
        "properties": {"m": "disk full", "error_type": "OSError"},
    }
    response = api(
        "POST", "/api/v1/events/batch", json_body={"events": [reparsed]}, query={"on_conflict": "replace"}
    )
    assert response.status == 200, response.raw
    (result,) = response.body["results"]
    assert (result["duplicate"], result["replaced"]) == (True, True)
    assert result["conflict"] == ["timestamp", "event_type", "session_id", "trace_id", "properties"]
    assert result["trace_id"] != first.body["trace_id"]

    stored = api.get("/api/v1/events/x").body
    assert (stored["session_id"], stored["event_type"], stored["properties"]) == (
        "B",
        "agent_error",
        reparsed["properties"],
    )
    assert stored["is_error"] is True
    left = api.get(f"/api/v1/traces/{first.body['trace_id']}").body
    assert left["trace"]["total_events"] == 1 and [e["event_id"] for e in left["events"]] == ["w"]
    assert left["trace"]["start_time"] == "2026-11-01T00:00:05.000Z"
    joined = api.get(f"/api/v1/traces/{result['trace_id']}").body
    assert joined["trace"]["total_events"] == 1 and joined["trace"]["status"] == "failed"
    assert joined["trace"]["end_time"] == "2026-11-01T00:00:01.000Z"
    hits = api.post("/api/v1/search", {"query": "disk full", "filters": {"session_id": "B"}}).body["hits"]
    assert [h["event"]["event_id"] for h in hits] == ["x"]

    # The same re-parse again changes nothing; moving w away too empties trace A, which goes.
    again = api("POST", "/api/v1/events", json_body=reparsed, query={"on_conflict": "replace"})
    assert (again.body["duplicate"], again.body["replaced"], again.body["conflict"]) == (True, False, None)
    moved = api(
        "POST",
        "/api/v1/events",
        json_body={"timestamp": "2026-11-01T00:00:05Z", "event_id": "w", "session_id": "B"},
        query={"on_conflict": "replace"},
    )
    assert moved.body["replaced"] is True and stays.body["trace_id"] == first.body["trace_id"]
    assert api.get(f"/api/v1/traces/{first.body['trace_id']}").status == 404
    assert api.get(f"/api/v1/traces/{result['trace_id']}").body["trace"]["total_events"] == 2


def test_keep_is_the_default_and_a_bad_on_conflict_is_a_422(api: Api) -> None:
    api.post("/api/v1/events", {"timestamp": "2026-11-01T00:00:00Z", "event_id": "k", "session_id": "A"})
    kept = api.post(
        "/api/v1/events", {"timestamp": "2026-11-01T00:00:00Z", "event_id": "k", "session_id": "B"}
    )
    assert (kept.body["replaced"], kept.body["conflict"]) == (False, ["session_id", "trace_id"])
    bad = api(
        "POST",
        "/api/v1/events",
        json_body={"timestamp": "2026-11-01T00:00:00Z"},
        query={"on_conflict": "merge"},
    )
    assert bad.status == 422
    assert bad.body["error"]["details"][0]["field"] == "query.on_conflict"
