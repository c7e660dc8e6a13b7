"""The SurrealDB store itself: schema management and parameterised queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import Api
from vectadb.stores.schema import SCHEMA_VERSION
from vectadb.stores.surreal import SurrealStore


def test_schema_is_applied_once_and_versioned() -> None:
    store = SurrealStore("mem://")
    try:
        assert store.schema_version() is None
        store.ensure_schema()
        assert store.schema_version() == SCHEMA_VERSION
        applied_at = store._select("SELECT VALUE applied_at FROM ONLY schema_meta:vectadb", {})
        store.ensure_schema()  # a second cold start changes nothing
        assert store._select("SELECT VALUE applied_at FROM ONLY schema_meta:vectadb", {}) == applied_at
        info = store._run("INFO FOR TABLE agent_event")[-1]
        assert {
            "idx_trace_id",
            "idx_timestamp",
            "idx_event_type_sk",
            "idx_event_session_rsk",
            "idx_event_agent_sk",
        } <= set(info["indexes"])
        trace_info = store._run("INFO FOR TABLE agent_trace")[-1]
        assert {"idx_session_id", "idx_start_time"} <= set(trace_info["indexes"])
    finally:
        store.close()


def test_a_newer_schema_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    store = SurrealStore("mem://")
    try:
        store.ensure_schema()
        store._run(
            "UPSERT schema_meta:vectadb SET version = $v, applied_at = time::now()", {"v": SCHEMA_VERSION + 1}
        )
        store.ensure_schema()
        assert store.schema_version() == SCHEMA_VERSION + 1
        assert "newer than this code" in caplog.text
    finally:
        store.close()


HOSTILE = [
    "x'; DELETE agent_event; --",
    'x"; REMOVE TABLE agent_event; --',
    "$rows",
    "agent_event:⟨x⟩",
    "}; DEFINE USER pwn ON ROOT PASSWORD 'x' ROLES OWNER; {",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_user_values_are_only_ever_parameters(api: Api, value: str) -> None:
    event = {
        "timestamp": datetime.now(UTC).isoformat(),
        "session_id": value,
        "agent_id": value,
        "event_type": "tool_call",
        "properties": {value: value},
    }
    created = api.post("/api/v1/events", event)
    assert created.status == 201, created.raw
    for query in ({"session_id": value}, {"agent_id": value}, {"event_type": "tool_call"}):
        listed = api.get("/api/v1/events", **query)
        assert listed.status == 200
        (stored,) = listed.body["events"]
        assert (stored["session_id"], stored["agent_id"], stored["properties"]) == (
            value,
            value,
            {value: value},
        )
    assert api.get("/api/v1/traces", session_id=value).body["traces"][0]["session_id"] == value
    assert api.get(f"/api/v1/traces/{value.replace('/', '')}").status == 404


def test_event_type_filter_cannot_smuggle_sql(api: Api) -> None:
    api.post("/api/v1/events", {"timestamp": datetime.now(UTC).isoformat(), "event_type": "log"})
    response = api.get("/api/v1/events", event_type="log' OR true OR '")
    assert response.status == 200
    assert response.body["events"] == []
