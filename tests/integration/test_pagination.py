"""Keyset pagination returns every event exactly once, in order, whatever the filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Api

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
SESSIONS = ("alpha", "beta", "gamma")
TYPES = ("tool_call", "llm_call", "log", "error")


def _corpus() -> list[dict]:
    events = []
    for i in range(360):
        # Several events share each millisecond, so ties must be broken by id.
        ts = BASE + timedelta(milliseconds=(i // 4) * 250)
        events.append(
            {
                "timestamp": ts.isoformat(),
                "event_type": TYPES[i % 4],
                "session_id": SESSIONS[i % 3],
                "agent_id": f"agent-{i % 5}",
                "event_id": f"e{i:04d}",
                "properties": {"i": i},
            }
        )
    return events


@pytest.fixture
def corpus(api: Api) -> list[dict]:
    events = _corpus()
    for chunk in range(0, len(events), 100):
        response = api.post("/api/v1/events/batch", {"events": events[chunk : chunk + 100]})
        assert response.status == 200, response.raw
    return events


def _expected(events: list[dict], order: str, **filters: object) -> list[str]:
    def keep(e: dict) -> bool:
        return all(e.get(k) == v for k, v in filters.items())

    chosen = sorted((e for e in events if keep(e)), key=lambda e: (e["timestamp"], e["event_id"]))
    ids = [e["event_id"] for e in chosen]
    if order == "desc":
        # Newest first; events of the same millisecond keep ascending id order.
        by_time: dict[str, list[str]] = {}
        for e in chosen:
            by_time.setdefault(e["timestamp"], []).append(e["event_id"])
        ids = [i for ts in sorted(by_time, reverse=True) for i in by_time[ts]]
    return ids


@pytest.mark.parametrize("order", ["desc", "asc"])
@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"event_type": "error"},
        {"agent_id": "agent-3"},
        {"session_id": "beta"},
        {"session_id": "beta", "event_type": "log"},
    ],
    ids=["all", "type", "agent", "session", "session+type"],
)
def test_every_event_exactly_once(api: Api, corpus: list[dict], order: str, filters: dict) -> None:
    pages = api.all_pages("/api/v1/events", "events", order=order, limit=7, **filters)
    ids = [e["event_id"] for e in pages]
    assert len(ids) == len(set(ids))
    assert ids == _expected(corpus, order, **filters)


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_trace_filter_pages(api: Api, corpus: list[dict], order: str) -> None:
    trace_id = api.get("/api/v1/events", session_id="gamma", limit=1).body["events"][0]["trace_id"]
    pages = api.all_pages("/api/v1/events", "events", order=order, limit=11, trace_id=trace_id)
    assert [e["event_id"] for e in pages] == _expected(corpus, order, session_id="gamma")


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_time_window_pages(api: Api, corpus: list[dict], order: str) -> None:
    start = BASE + timedelta(seconds=5)
    end = BASE + timedelta(seconds=15, milliseconds=250)
    pages = api.all_pages(
        "/api/v1/events", "events", order=order, limit=9, start=start.isoformat(), end=end.isoformat()
    )
    inside = [e for e in corpus if start <= datetime.fromisoformat(e["timestamp"]) < end]
    assert [e["event_id"] for e in pages] == _expected(inside, order)
    assert pages  # the window is not empty


def test_trace_detail_pages_in_time_order(api: Api, corpus: list[dict]) -> None:
    trace_id = api.get("/api/v1/events", session_id="alpha", limit=1).body["events"][0]["trace_id"]
    seen: list[str] = []
    cursor = None
    while True:
        page = api.get(f"/api/v1/traces/{trace_id}", limit=13, cursor=cursor)
        assert page.status == 200
        assert page.body["trace"]["total_events"] == 120
        seen += [e["event_id"] for e in page.body["events"]]
        cursor = page.body["next_cursor"]
        if cursor is None:
            break
    assert seen == _expected(corpus, "asc", session_id="alpha")


def test_exact_page_boundary_has_no_empty_last_page(api: Api, corpus: list[dict]) -> None:
    first = api.get("/api/v1/events", session_id="beta", event_type="log", limit=30)
    assert len(first.body["events"]) == 30
    assert first.body["next_cursor"] is None


def test_traces_paginate(api: Api) -> None:
    events = [
        {
            "timestamp": (BASE + timedelta(seconds=i // 2)).isoformat(),
            "session_id": f"s{i:03d}",
            "event_type": "log",
        }
        for i in range(45)
    ]
    assert api.post("/api/v1/events/batch", {"events": events}).status == 200
    for order in ("desc", "asc"):
        traces = api.all_pages("/api/v1/traces", "traces", order=order, limit=4)
        sessions = [t["session_id"] for t in traces]
        assert sorted(sessions) == sorted(f"s{i:03d}" for i in range(45))
        starts = [t["start_time"] for t in traces]
        assert starts == sorted(starts, reverse=order == "desc")


def test_cursor_of_another_order_is_refused(api: Api, corpus: list[dict]) -> None:
    cursor = api.get("/api/v1/events", limit=5).body["next_cursor"]
    response = api.get("/api/v1/events", limit=5, order="asc", cursor=cursor)
    assert response.status == 400
    assert response.body["error"]["code"] == "invalid_cursor"


def test_events_of_one_millisecond_keep_their_place_in_the_stream(api: Api) -> None:
    """ "Action" then "Observation", printed in the same millisecond: their CloudWatch ids order
    them in every listing (reversed newest-first), whatever their event ids' hashes, page by page."""
    at = (BASE + timedelta(hours=1)).isoformat()
    lines = [f"step {i}" for i in range(12)]
    events = [
        {
            "timestamp": at,
            "session_id": "same-ms",
            "event_type": "log",
            "properties": {"message": line},
            "source": {
                "system": "cloudwatch",
                "log_group": "/aws/lambda/agent",
                "log_stream": "s",
                "log_id": f"{37914201234567890123456789012345678901234567890000000 + i * 7:056d}",
            },
        }
        for i, line in enumerate(lines)
    ]
    assert api.post("/api/v1/events/batch", {"events": events[::-1]}).status == 200

    def messages(items: list[dict]) -> list[str]:
        return [e["properties"]["message"] for e in items]

    ascending = api.all_pages("/api/v1/events", "events", order="asc", limit=2, session_id="same-ms")
    descending = api.all_pages("/api/v1/events", "events", order="desc", limit=2, session_id="same-ms")
    assert messages(ascending) == lines
    assert messages(descending) == lines[::-1]
    trace_id = ascending[0]["trace_id"]
    seen, cursor = [], None
    while True:
        page = api.get(f"/api/v1/traces/{trace_id}", limit=5, cursor=cursor).body
        seen += page["events"]
        if not (cursor := page["next_cursor"]):
            break
    assert messages(seen) == lines
    every = api.all_pages("/api/v1/events", "events", order="desc", limit=3)
    assert [m for m in messages(every) if m.startswith("step ")] == lines[::-1]
