"""Every route and every error code, through the Lambda handler with API Gateway REST proxy events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import Api
from vectadb.local.server import LocalContext
from vectadb.service.api_runtime import Runtime

FIXTURES = Path(__file__).parent.parent / "fixtures"
NOW = datetime.now(UTC).replace(microsecond=0)


def _event(i: int = 0, session: str = "sess-1", **extra: object) -> dict:
    return {
        "timestamp": (NOW - timedelta(minutes=10) + timedelta(seconds=i)).isoformat(),
        "event_type": "tool_call",
        "session_id": session,
        "agent_id": "agent-7",
        "properties": {"tool_name": "web_search", "tool_input": {"query": f"q{i}"}},
        **extra,
    }


def test_captured_api_gateway_event(api: Api) -> None:
    from ingest.handler import handler

    event = json.loads((FIXTURES / "apigw_rest_proxy_event.json").read_text())
    response = handler(event, LocalContext(function_name="vectadb-ingest"))
    assert response["statusCode"] == 200, response
    body = json.loads(response["body"])
    assert body["accepted"] == 1 and body["failed"] == 0
    # The same delivery again: accepted, flagged duplicate, stored once.
    again = json.loads(handler(event, LocalContext(function_name="vectadb-ingest"))["body"])
    assert again["results"][0]["duplicate"] is True
    assert again["results"][0]["event_id"] == body["results"][0]["event_id"]


def test_post_event_then_read_it_back(api: Api) -> None:
    created = api.post(
        "/api/v1/events", _event(properties={"tool_name": "sql", "nested": {"a": [1, {"b": None}]}})
    )
    assert created.status == 201
    assert created.body == {
        "event_id": created.body["event_id"],
        "trace_id": created.body["trace_id"],
        "duplicate": False,
        "indexed": True,
        "conflict": None,
        "replaced": False,
    }
    again = api.post(
        "/api/v1/events", _event(properties={"tool_name": "sql", "nested": {"a": [1, {"b": None}]}})
    )
    assert again.status == 201 and again.body["duplicate"] is True

    listed = api.get("/api/v1/events", session_id="sess-1")
    assert listed.status == 200
    (event,) = listed.body["events"]
    assert event["event_id"] == created.body["event_id"]
    assert event["properties"] == {"tool_name": "sql", "nested": {"a": [1, {"b": None}]}}
    assert event["timestamp"].endswith("Z") and event["is_error"] is False

    trace = api.get(f"/api/v1/traces/{created.body['trace_id']}")
    assert trace.status == 200
    assert trace.body["trace"]["total_events"] == 1
    assert trace.body["trace"]["status"] == "running"
    assert [e["event_id"] for e in trace.body["events"]] == [created.body["event_id"]]


def test_batch_mixed_good_and_bad_is_207(api: Api) -> None:
    payload = {
        "events": [
            _event(0),
            {"timestamp": _event()["timestamp"], "event_type": "has space"},
            _event(1, timestamp=(NOW + timedelta(hours=1)).isoformat()),
            _event(2),
            {"timestamp": _event()["timestamp"], "properties": {"blob": "x" * (1024 * 1024)}},
        ]
    }
    response = api.post("/api/v1/events/batch", payload)
    assert response.status == 207
    body = response.body
    assert (body["accepted"], body["failed"]) == (2, 3)
    by_index = {r["index"]: r for r in body["results"]}
    assert set(by_index[0]) == {
        "index",
        "event_id",
        "trace_id",
        "duplicate",
        "indexed",
        "conflict",
        "replaced",
    }
    assert by_index[1]["status"] == 422
    assert by_index[1]["error"]["code"] == "validation_error"
    assert by_index[1]["error"]["details"][0]["field"] == "event_type"
    assert by_index[2]["error"]["code"] == "future_timestamp"
    assert by_index[4]["status"] == 413 and by_index[4]["error"]["code"] == "event_too_large"
    assert len(api.get("/api/v1/events").body["events"]) == 2


def test_batch_all_good_is_200(api: Api) -> None:
    response = api.post("/api/v1/events/batch", {"events": [_event(i) for i in range(10)]})
    assert response.status == 200
    assert response.body["accepted"] == 10


def test_list_filters(api: Api) -> None:
    api.post(
        "/api/v1/events/batch",
        {
            "events": [
                _event(0, session="a", event_type="agent_start"),
                _event(1, session="a", event_type="tool_call"),
                _event(2, session="a", event_type="error", agent_id="agent-9"),
                _event(3, session="b", event_type="tool_call"),
                _event(4, session="b", event_type="agent_end"),
            ]
        },
    )

    def ids(**query: object) -> list[str]:
        response = api.get("/api/v1/events", **query)
        assert response.status == 200, response.raw
        return [e["event_type"] + "@" + e["session_id"] for e in response.body["events"]]

    assert ids() == ["agent_end@b", "tool_call@b", "error@a", "tool_call@a", "agent_start@a"]
    assert ids(order="asc")[0] == "agent_start@a"
    assert ids(event_type="tool_call") == ["tool_call@b", "tool_call@a"]
    assert ids(session_id="a", order="asc") == ["agent_start@a", "tool_call@a", "error@a"]
    assert ids(agent_id="agent-9") == ["error@a"]
    trace_b = api.get("/api/v1/events", session_id="b").body["events"][0]["trace_id"]
    assert ids(trace_id=trace_b) == ["agent_end@b", "tool_call@b"]
    assert ids(trace_id=trace_b, order="asc") == ["tool_call@b", "agent_end@b"]
    start = (NOW - timedelta(minutes=10) + timedelta(seconds=1)).isoformat()
    end = (NOW - timedelta(minutes=10) + timedelta(seconds=3)).isoformat()
    assert ids(start=start, end=end) == ["error@a", "tool_call@a"]
    assert ids(start=start, end=end, order="asc") == ["tool_call@a", "error@a"]
    start_ms = int((NOW - timedelta(minutes=10) + timedelta(seconds=4)).timestamp() * 1000)
    assert ids(start=start_ms) == ["agent_end@b"]
    assert ids(session_id="nobody") == []


def test_traces_list_and_status(api: Api) -> None:
    api.post(
        "/api/v1/events/batch",
        {
            "events": [
                _event(0, session="done", event_type="agent_start"),
                _event(5, session="done", event_type="agent_end"),
                _event(1, session="broken", event_type="agent_error", agent_id="agent-9"),
                _event(2, session="busy"),
            ]
        },
    )
    traces = api.get("/api/v1/traces").body["traces"]
    assert [t["session_id"] for t in traces] == ["busy", "broken", "done"]
    assert {t["session_id"]: t["status"] for t in traces} == {
        "busy": "running",
        "broken": "failed",
        "done": "completed",
    }
    done = next(t for t in traces if t["session_id"] == "done")
    assert done["total_events"] == 2 and done["end_time"] is not None
    assert [t["session_id"] for t in api.get("/api/v1/traces", status="failed").body["traces"]] == ["broken"]
    assert [t["session_id"] for t in api.get("/api/v1/traces", agent_id="agent-9").body["traces"]] == [
        "broken"
    ]
    assert [t["session_id"] for t in api.get("/api/v1/traces", session_id="done").body["traces"]] == ["done"]
    assert [t["session_id"] for t in api.get("/api/v1/traces", order="asc").body["traces"]] == [
        "done",
        "broken",
        "busy",
    ]
    start = (NOW - timedelta(minutes=10) + timedelta(seconds=1)).isoformat()
    assert [t["session_id"] for t in api.get("/api/v1/traces", start=start).body["traces"]] == [
        "busy",
        "broken",
    ]


def test_stats_group_by_type_and_day(api: Api) -> None:
    api.post(
        "/api/v1/events/batch",
        {
            "events": [
                _event(0),
                _event(1),
                _event(2, event_type="error"),
                _event(3, event_type="tool_result", properties={"level": "ERROR"}),
                _event(4, timestamp=(NOW - timedelta(days=3)).isoformat()),
            ]
        },
    )
    by_type = api.get("/api/v1/stats").body
    assert by_type["group_by"] == "event_type"
    assert (by_type["total"], by_type["errors"]) == (4, 2)
    assert [(b["key"], b["total"], b["errors"]) for b in by_type["buckets"]] == [
        ("error", 1, 1),
        ("tool_call", 2, 0),
        ("tool_result", 1, 1),
    ]
    week = api.get("/api/v1/stats", group_by="day", start=(NOW - timedelta(days=7)).isoformat()).body
    assert week["total"] == 5
    assert len(week["buckets"]) == 2
    assert all(b["key"].endswith("T00:00:00.000Z") for b in week["buckets"])


def test_health_needs_no_key(api: Api) -> None:
    response = api("GET", "/health", principal=None)
    assert response.status == 200
    assert response.body["status"] == "ok"
    assert response.body["checks"]["surrealdb"]["ok"] is True


def test_openapi_document_lists_every_route(api: Api) -> None:
    doc = api.get("/api/v1/openapi.json").body
    assert set(doc["paths"]) == {
        "/health",
        "/api/v1/events",
        "/api/v1/events/batch",
        "/api/v1/traces",
        "/api/v1/traces/{trace_id}",
        "/api/v1/stats",
        "/api/v1/events/{event_id}",
        "/api/v1/events/{event_id}/similar",
        "/api/v1/search",
        "/api/v1/reindex",
    }
    assert doc["paths"]["/api/v1/events"]["post"]["security"] == [{"bearerAuth": []}]
    assert "security" not in doc["paths"]["/health"]["get"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "EventIn" in doc["components"]["schemas"]


# -- errors ------------------------------------------------------------------------------------


def test_every_error_is_json_with_code_and_message(api: Api) -> None:
    cases = [
        (api("POST", "/api/v1/events", body="{not json"), 400, "invalid_json"),
        (api("POST", "/api/v1/events", body=""), 400, "empty_body"),
        (api.get("/api/v1/events", cursor="garbage"), 400, "invalid_cursor"),
        (api.get("/api/v1/events", start=NOW.isoformat(), end=NOW.isoformat()), 400, "invalid_range"),
        (api("GET", "/api/v1/events", principal=None), 401, "unauthorized"),
        (api.get("/api/v1/nothing-here"), 404, "not_found"),
        (api.get("/api/v1/traces/tr_unknown"), 404, "trace_not_found"),
        (api("DELETE", "/api/v1/events"), 405, "method_not_allowed"),
        (api("PUT", "/api/v1/traces/tr_1"), 405, "method_not_allowed"),
        (
            api.post("/api/v1/events/batch", {"events": [_event(i) for i in range(1001)]}),
            413,
            "batch_too_large",
        ),
        (api.post("/api/v1/events", _event(properties={"m": "x" * (1024 * 1024)})), 413, "event_too_large"),
        (api("POST", "/api/v1/events", body="a=b", headers={"Content-Type": "text/plain"}), 415, None),
        (api.post("/api/v1/events", {"event_type": "x"}), 422, "validation_error"),
        (api.post("/api/v1/events", _event(timestamp=(NOW + timedelta(hours=1)).isoformat())), 422, None),
        (api.get("/api/v1/events", limit=0), 422, "validation_error"),
        (api.get("/api/v1/stats", group_by="planet"), 422, "validation_error"),
    ]
    for response, status, code in cases:
        assert response.status == status, (status, response.raw)
        assert response.headers["Content-Type"] == "application/json"
        error = response.body["error"]
        assert set(error) == {"code", "message", "details"}
        assert error["message"]
        if code:
            assert error["code"] == code, response.raw


def test_405_names_the_allowed_methods(api: Api) -> None:
    response = api("DELETE", "/api/v1/events")
    assert response.headers["Allow"] == "GET, POST"


def test_validation_errors_name_the_field(api: Api) -> None:
    response = api.post("/api/v1/events", _event(session_id="x" * 300))
    assert response.status == 422
    assert response.body["error"]["message"].startswith("body.session_id:")
    limit = api.get("/api/v1/events", limit=5000)
    assert limit.body["error"]["details"][0]["field"] == "query.limit"


def test_body_over_the_lambda_limit_is_413(api: Api, runtime: Runtime) -> None:
    limit = runtime.settings.max_body_bytes
    body = json.dumps({"events": [{"timestamp": 1, "properties": {"x": "y" * limit}}]})
    response = api("POST", "/api/v1/events/batch", body=body)
    assert response.status == 413
    assert response.body["error"]["code"] == "body_too_large"


def test_500_never_leaks_internals(api: Api, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("password=hunter2 at /srv/secret/path.py line 42")

    monkeypatch.setattr(runtime.store, "list_events", explode)
    response = api.get("/api/v1/events")
    assert response.status == 500
    assert response.body["error"]["code"] == "internal_error"
    assert "hunter2" not in response.raw and "secret" not in response.raw
    assert response.body["error"]["details"]["request_id"]


def test_a_rejected_write_is_500_without_the_database_message(api: Api, runtime: Runtime) -> None:
    runtime.store._run("DEFINE FIELD OVERWRITE total_events ON agent_trace TYPE int ASSERT $value < 0")
    response = api.post("/api/v1/events", _event())
    assert response.status == 500
    assert response.body["error"]["code"] == "store_error"
    assert "ASSERT" not in response.raw and "agent_trace" not in response.raw
    assert api.get("/api/v1/events").body["events"] == []  # nothing half-written


def test_store_down_is_503_and_health_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from vectadb.core.config import get_settings
    from vectadb.service.api_runtime import set_runtime

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # a port that nothing listens on
    monkeypatch.setenv("VECTADB_SURREAL_URL", f"ws://127.0.0.1:{port}")
    get_settings.cache_clear()
    previous = set_runtime(None)
    try:
        api = Api()
        response = api.post("/api/v1/events", _event())
        assert response.status == 503
        assert response.body["error"]["code"] == "store_unavailable"
        assert response.headers.get("Retry-After") == "1"
        health = api("GET", "/health", principal=None)
        assert health.status == 503
        assert health.body["checks"]["surrealdb"] == {"ok": False, "error": "unreachable"}
    finally:
        set_runtime(previous)
