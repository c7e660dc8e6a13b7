"""Semantic search with the real offline-built model, Qdrant local mode and embedded SurrealDB."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import MODEL_DIR, ROOT, Api
from vectadb.core.config import Settings
from vectadb.semantic.embedder import Embedder
from vectadb.semantic.engines import open_vector_index
from vectadb.semantic.index import SemanticIndex
from vectadb.semantic.vector_index import QdrantIndex
from vectadb.semantic.vectors import ModelMismatch
from vectadb.service.api_runtime import Runtime
from vectadb.service.ingestion import IngestPolicy, ingest_batch
from vectadb.stores.surreal import SurrealStore

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)

DB_TIMEOUTS = [
    "psycopg2.OperationalError: connection to server at db.internal:5432 timed out",
    "Database connection timeout after 30s while fetching customer orders",
    "sqlalchemy TimeoutError: QueuePool limit reached, connection timed out",
    "could not connect to Postgres: timeout expired",
]


def _corpus() -> list[dict]:
    events: list[dict] = []

    def add(session: str, event_type: str, agent: str = "support-bot", **properties: object) -> None:
        events.append(
            {
                "timestamp": (T0 + timedelta(seconds=len(events) * 10)).isoformat(),
                "event_type": event_type,
                "session_id": session,
                "agent_id": agent,
                "properties": properties,
            }
        )

    for i, message in enumerate(DB_TIMEOUTS):
        add(f"db-{i}", "error", error=message, level="ERROR")
    for i, query in enumerate(
        ["weather in San Francisco", "latest news on AI regulation", "flight prices to Tokyo"]
    ):
        add(f"web-{i}", "tool_call", tool_name="web_search", tool_input={"query": query})
    for i, sql in enumerate(["SELECT * FROM orders WHERE id = 42", "UPDATE users SET plan = 'pro'"]):
        add(f"sql-{i}", "tool_call", agent="analyst", tool_name="sql_query", tool_input={"sql": sql})
    for i, to in enumerate(["alice@example.com", "bob@example.com"]):
        add(f"mail-{i}", "tool_call", tool_name="send_email", tool_input={"to": to, "subject": "Your refund"})
    add(
        "llm-0",
        "llm_call",
        model="gpt-4o-mini",
        prompt="Summarise the customer's complaint about a late delivery",
    )
    add(
        "llm-1",
        "llm_call",
        model="claude-3-5-sonnet",
        prompt="Write a polite apology for the delayed package",
    )
    add("run-0", "agent_start", message="Agent started handling ticket 1234")
    add("run-0", "agent_end", message="Agent finished: refund issued and customer notified")
    add("err-0", "error", error="KeyError: 'customer_id' in handle_ticket", level="ERROR")
    return events


@pytest.fixture
def corpus(api: Api) -> list[dict]:
    events = _corpus()
    response = api.post("/api/v1/events/batch", {"events": events})
    assert response.status == 200, response.raw
    assert all(r["indexed"] for r in response.body["results"])
    return events


def _search(api: Api, query: str, limit: int = 5, **filters: object) -> list[dict]:
    response = api.post("/api/v1/search", {"query": query, "limit": limit, "filters": filters})
    assert response.status == 200, response.raw
    return response.body["hits"]


def test_a_db_timeout_query_finds_the_db_timeouts_first(api: Api, corpus: list[dict]) -> None:
    hits = _search(api, "database connection timeout", limit=4)
    found = [h["event"]["properties"]["error"] for h in hits]
    assert sorted(found) == sorted(DB_TIMEOUTS)
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    # The full event comes from SurrealDB, as the seed's semantic-search pattern says.
    assert {"event_id", "trace_id", "timestamp", "session_id", "indexed"} <= set(hits[0]["event"])


@pytest.mark.parametrize(
    ("query", "tool"),
    [
        ("search the internet for information", "web_search"),
        ("run a database query on the orders table", "sql_query"),
        ("send an email", "send_email"),
    ],
)
def test_a_tool_query_finds_that_tools_calls(api: Api, corpus: list[dict], query: str, tool: str) -> None:
    (top, *_) = _search(api, query, limit=3)
    assert top["event"]["properties"]["tool_name"] == tool


def test_filters_run_inside_qdrant(api: Api, corpus: list[dict]) -> None:
    # llm_call events are far from this query: filtering after the top-k would return nothing.
    hits = _search(api, "database connection timeout", limit=2, event_type="llm_call")
    assert [h["event"]["event_type"] for h in hits] == ["llm_call", "llm_call"]
    hits = _search(api, "database connection timeout", limit=10, agent_id="analyst")
    assert {h["event"]["properties"]["tool_name"] for h in hits} == {"sql_query"}
    hits = _search(api, "anything", limit=10, session_id="run-0")
    assert {h["event"]["event_type"] for h in hits} == {"agent_start", "agent_end"}
    trace_id = hits[0]["event"]["trace_id"]
    assert {h["event"]["trace_id"] for h in _search(api, "x", limit=10, trace_id=trace_id)} == {trace_id}


def test_time_range_is_half_open(api: Api, corpus: list[dict]) -> None:
    start = datetime.fromisoformat(corpus[2]["timestamp"])
    end = datetime.fromisoformat(corpus[5]["timestamp"])
    hits = _search(api, "database connection timeout", limit=20, start=start.isoformat(), end=end.isoformat())
    times = sorted(datetime.fromisoformat(h["event"]["timestamp"].replace("Z", "+00:00")) for h in hits)
    assert len(hits) == 3
    assert times[0] == start
    assert times[-1] < end


def test_similar_events(api: Api, corpus: list[dict]) -> None:
    hits = _search(api, DB_TIMEOUTS[1], limit=1)
    event_id = hits[0]["event"]["event_id"]
    response = api.get(f"/api/v1/events/{event_id}/similar", limit=3)
    assert response.status == 200
    similar = response.body["hits"]
    assert event_id not in {h["event"]["event_id"] for h in similar}
    assert {h["event"]["properties"]["error"] for h in similar} <= set(DB_TIMEOUTS)
    assert api.get("/api/v1/events/ev_unknown/similar").status == 404


def test_reingesting_makes_no_duplicate_points(api: Api, runtime: Runtime, corpus: list[dict]) -> None:
    assert runtime.semantic.index is not None
    before = runtime.semantic.index.count()
    assert before == len(corpus)
    again = api.post("/api/v1/events/batch", {"events": corpus})
    assert all(r["duplicate"] and r["indexed"] for r in again.body["results"])
    assert runtime.semantic.index.count() == before


def test_a_collection_of_another_model_is_refused(embedder: Embedder) -> None:
    index = QdrantIndex(":memory:")
    other = {"model": "BAAI/bge-small-en-v1.5", "dim": 384, "quantization": "none"}
    index.ensure_collection(other)
    with pytest.raises(ModelMismatch) as exc:
        index.ensure_collection(embedder.info.identity)
    assert "reindex" in exc.value.message and "BAAI/bge-small-en-v1.5" in exc.value.message
    semantic = SemanticIndex(embedder, index)
    assert semantic.check() is False
    semantic.rebuild()
    assert semantic.check() is True
    assert index.metadata() == embedder.info.identity


def test_model_mismatch_keeps_ingesting_and_search_says_how_to_fix(
    api: Api, runtime: Runtime, embedder: Embedder
) -> None:
    assert runtime.semantic.index is not None
    runtime.semantic.index.rebuild({"model": "another/model", "dim": 384, "quantization": "int8"})
    stored = api.post("/api/v1/events", _corpus()[0])
    assert stored.status == 201
    assert stored.body["indexed"] is False
    refused = api.post("/api/v1/search", {"query": "timeout"})
    assert refused.status == 409
    assert refused.body["error"]["code"] == "model_mismatch"
    assert "/api/v1/reindex" in refused.body["error"]["message"]
    rebuilt = api.post("/api/v1/reindex", {"rebuild": True})
    assert rebuilt.status == 200, rebuilt.raw
    assert (rebuilt.body["indexed"], rebuilt.body["remaining"], rebuilt.body["rebuilt"]) == (1, 0, True)
    assert rebuilt.body["model"] == embedder.info.identity
    assert (
        _search(api, "database connection timeout", limit=1)[0]["event"]["event_id"]
        == stored.body["event_id"]
    )


def test_qdrant_down_keeps_events_and_reindex_catches_up(
    api: Api, runtime: Runtime, embedder: Embedder
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    working = runtime.semantic
    down = SemanticIndex(embedder, QdrantIndex(f"http://127.0.0.1:{port}", timeout=2))
    object.__setattr__(runtime, "semantic", down)
    try:
        response = api.post("/api/v1/events/batch", {"events": _corpus()})
        assert response.status == 200
        assert not any(r["indexed"] for r in response.body["results"])
        listed = api.get("/api/v1/events", limit=100).body["events"]
        assert len(listed) == len(_corpus())
        assert not any(e["indexed"] for e in listed)
        assert api.post("/api/v1/search", {"query": "timeout"}).status == 503
        health = api("GET", "/health", principal=None)
        assert (health.status, health.body["status"]) == (200, "degraded")
    finally:
        object.__setattr__(runtime, "semantic", working)
    # Qdrant is back: the reindex embeds everything that was left unflagged.
    result = api.post("/api/v1/reindex", {"max_events": 5})
    assert (result.body["indexed"], result.body["remaining"]) == (5, len(_corpus()) - 5)
    result = api.post("/api/v1/reindex", {})
    assert (result.body["indexed"], result.body["remaining"]) == (len(_corpus()) - 5, 0)
    assert len(_search(api, "database connection timeout", limit=4)) == 4
    assert all(e["indexed"] for e in api.get("/api/v1/events", limit=100).body["events"])


def test_redelivery_indexes_an_event_that_missed_its_vector(
    api: Api, runtime: Runtime, embedder: Embedder
) -> None:
    event = _corpus()[0] | {"event_id": "missed-1"}
    working = runtime.semantic
    object.__setattr__(
        runtime, "semantic", SemanticIndex(embedder, QdrantIndex("http://127.0.0.1:9", timeout=1))
    )
    try:
        assert api.post("/api/v1/events", event).body["indexed"] is False
    finally:
        object.__setattr__(runtime, "semantic", working)
    again = api.post("/api/v1/events", event)
    assert (again.body["duplicate"], again.body["indexed"]) == (True, True)


def test_search_validation(api: Api) -> None:
    assert api.post("/api/v1/search", {"query": ""}).status == 422
    assert api.post("/api/v1/search", {"query": "x", "limit": 101}).status == 422
    assert api.post("/api/v1/search", {"query": "x", "filters": {"colour": "red"}}).status == 422
    now = datetime.now(UTC).isoformat()
    response = api.post("/api/v1/search", {"query": "x", "filters": {"start": now, "end": now}})
    assert (response.status, response.body["error"]["code"]) == (400, "invalid_range")


def test_get_one_event(api: Api, corpus: list[dict]) -> None:
    event_id = api.get("/api/v1/events", limit=1).body["events"][0]["event_id"]
    response = api.get(f"/api/v1/events/{event_id}")
    assert (response.status, response.body["event_id"]) == (200, event_id)
    assert api.get("/api/v1/events/nope").body["error"]["code"] == "event_not_found"


def test_semantic_search_can_be_turned_off(
    api: Api, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    object.__setattr__(runtime, "semantic", SemanticIndex.off("semantic search is turned off"))
    stored = api.post("/api/v1/events", _corpus()[0])
    assert (stored.status, stored.body["indexed"]) == (201, False)
    assert "flagged for reindex" not in caplog.text  # turned off is not a failure
    refused = api.post("/api/v1/search", {"query": "x"})
    assert (refused.status, refused.body["error"]["code"]) == (503, "semantic_unavailable")


def test_reindex_command_on_a_local_store(tmp_path: Path, embedder: Embedder) -> None:
    """The CLI against surrealkv + the local vector index: flags first, then a full rebuild."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VECTADB_")},
        "PYTHONPATH": str(ROOT / "lambdas"),
        "VECTADB_SURREAL_URL": f"surrealkv://{tmp_path}/surreal",
        "VECTADB_QDRANT_URL": str(tmp_path / "qdrant"),
        "VECTADB_MODEL_DIR": str(MODEL_DIR),
    }
    store = SurrealStore(env["VECTADB_SURREAL_URL"])
    store.ensure_schema()
    ingest_batch(_corpus()[:6], store, IngestPolicy.from_settings(Settings()))  # no vectors
    store.close()

    def run(*args: str) -> dict:
        out = subprocess.run(
            [sys.executable, "-m", "vectadb.local.reindex", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    assert (run()["indexed"], run()["indexed"]) == (6, 0)
    rebuilt = run("--rebuild")
    assert (rebuilt["indexed"], rebuilt["remaining"], rebuilt["rebuilt"]) == (6, 0, True)
    index = open_vector_index(env["VECTADB_QDRANT_URL"])
    assert index.mode == "edge" and index.count() == 6
    index.close()


def test_a_configured_model_name_must_match_the_directory() -> None:
    settings = Settings(qdrant_url=":memory:", model_dir=MODEL_DIR, embedding_model="BAAI/bge-large-en-v1.5")
    semantic = SemanticIndex.from_settings(settings)
    assert not semantic.configured
    assert semantic.problem is not None
    assert "holds" in semantic.problem.message
    matching = SemanticIndex.from_settings(settings.model_copy(update={"embedding_model": None}))
    assert matching.check()
    matching.close()
