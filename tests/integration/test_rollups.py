"""Stats from per-hour rollups, on the real embedded SurrealDB: for any window they equal what the
events themselves add up to, under redelivery, replacement, retention and a schema upgrade."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vectadb.core.models import format_timestamp
from vectadb.service import queries
from vectadb.service.ingestion import IngestPolicy, ingest_batch
from vectadb.stores.base import TraceQuery
from vectadb.stores.surreal import SurrealStore

T0 = datetime(2026, 11, 28, 9, 17, 23, tzinfo=UTC)
NOW = T0 + timedelta(days=2)
GROUPS = ("event_type", "agent_id", "tool", "model", "hour", "day")


def _corpus(n: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events = []
    for i in range(n):
        kind = rng.choice(["tool_call", "llm_call", "log", "error", "lambda_report"])
        properties: dict[str, Any] = {"i": i}
        if kind in ("tool_call", "error") and rng.random() < 0.8:
            properties["tool_name"] = rng.choice(["get_weather", "lookup_order"])
        if kind == "llm_call":
            properties.update(
                model=rng.choice(["gpt-4o-mini", "claude-3-5-haiku"]),
                input_tokens=rng.randint(1, 900),
                output_tokens=rng.randint(1, 300),
                cost_usd=round(rng.random() / 100, 6),
            )
        if kind in ("lambda_report", "tool_call") and rng.random() < 0.7:
            properties["duration_ms"] = round(rng.uniform(1, 3000), 2)
        event: dict[str, Any] = {
            "timestamp": (T0 + timedelta(seconds=rng.randint(0, 9 * 3600))).isoformat(),
            "event_type": kind,
            "session_id": f"s{i % 9}",
            "properties": properties,
            "source": {
                "system": "cloudwatch",
                "log_group": "/aws/lambda/a",
                "log_stream": "s",
                "log_id": f"{i}",
            },
        }
        if rng.random() < 0.8:
            event["agent_id"] = rng.choice(["planner", "worker"])
        events.append(event)
    return events


def _expected(
    events: list[dict[str, Any]], group_by: str, start: datetime, end: datetime
) -> dict[Any, tuple]:
    sums: dict[Any, list[float]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0.0])
    for event in events:
        at = datetime.fromisoformat(event["timestamp"])
        if not start <= at < end:
            continue
        p = event["properties"]
        if group_by in ("hour", "day"):
            floor = at.replace(minute=0, second=0, microsecond=0)
            key: Any = format_timestamp(floor.replace(hour=0) if group_by == "day" else floor)
        else:
            key = {"event_type": event["event_type"], "agent_id": event.get("agent_id")}.get(group_by)
            if group_by in ("tool", "model"):
                key = p.get("tool_name" if group_by == "tool" else "model")
        row = sums[key]
        row[0] += 1
        row[1] += event["event_type"] == "error"
        row[2] += event["event_type"] in ("tool_call", "llm_call")
        row[3] += p.get("input_tokens", 0)
        row[4] += p.get("output_tokens", 0)
        row[5] += p.get("cost_usd", 0.0)
    return {key: (v[0], v[1], v[2], v[3], v[4], round(v[5], 6)) for key, v in sums.items()}


def _served(store: SurrealStore, group_by: str, start: datetime, end: datetime) -> dict[Any, tuple]:
    out = queries.stats(store, group_by, start, end)
    assert out["total"] == sum(b["total"] for b in out["buckets"])
    return {
        b["key"]: (b["total"], b["errors"], b["calls"], b["input_tokens"], b["output_tokens"], b["cost_usd"])
        for b in out["buckets"]
    }


def _windows(rng: random.Random, count: int) -> list[tuple[datetime, datetime]]:
    windows = [(T0 - timedelta(hours=1), T0 + timedelta(hours=12))]  # everything, whole hours inside
    for _ in range(count):
        a = T0 + timedelta(seconds=rng.randint(-600, 10 * 3600))
        windows.append((a, a + timedelta(seconds=rng.choice([1, 59, 3599, 3600, 7777, 20000]))))
    return windows


def test_stats_equal_what_the_events_add_up_to_under_redelivery(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    events = _corpus(600)
    for chunk in range(0, len(events), 100):
        ingest_batch(events[chunk : chunk + 100], store, policy, now=NOW)
        # A partial redelivery: half of the batch again, with new events mixed in.
        ingest_batch(events[max(0, chunk - 50) : chunk + 50], store, policy, now=NOW)
    rng = random.Random(5)
    for start, end in _windows(rng, 12):
        for group_by in GROUPS:
            assert _served(store, group_by, start, end) == _expected(events, group_by, start, end), (
                group_by,
                start,
                end,
            )


def test_a_replaced_event_moves_its_counts(store: SurrealStore, policy: IngestPolicy) -> None:
    events = _corpus(200)
    ingest_batch(events, store, policy, now=NOW)
    changed = [
        {
            **e,
            "event_type": "error",
            "timestamp": (datetime.fromisoformat(e["timestamp"]) + timedelta(hours=3)).isoformat(),
        }
        for e in events[:30]
    ]
    ingest_batch(changed, store, policy, now=NOW, replace=True)
    now_held = changed + events[30:]
    whole = (T0 - timedelta(hours=1), T0 + timedelta(hours=14))
    for group_by in GROUPS:
        assert _served(store, group_by, *whole) == _expected(now_held, group_by, *whole)


def test_retention_leaves_the_rollups_of_what_it_keeps(store: SurrealStore, policy: IngestPolicy) -> None:
    events = _corpus(300)
    ingest_batch(events, store, policy, now=NOW)
    cutoff = T0 + timedelta(hours=4, minutes=31, seconds=7)  # in the middle of an hour
    while store.delete_events_before(cutoff, 1000) == 1000:
        pass
    store.delete_traces_before(cutoff)
    kept = [e for e in events if datetime.fromisoformat(e["timestamp"]) >= cutoff]
    whole = (T0 - timedelta(hours=1), T0 + timedelta(hours=12))
    for group_by in ("event_type", "hour"):
        assert _served(store, group_by, *whole) == _expected(kept, group_by, *whole)


def test_events_stored_before_rollups_are_summed_when_the_schema_is_upgraded(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    events = _corpus(250)
    ingest_batch(events, store, policy, now=NOW)
    store._run("DELETE rollup RETURN NONE; UPDATE schema_meta:vectadb SET version = 6 RETURN NONE;")
    whole = (T0 - timedelta(hours=1), T0 + timedelta(hours=12))
    assert queries.stats(store, "event_type", *whole)["total"] < len(events)  # only the edges count
    store.ensure_schema()
    for group_by in GROUPS:
        assert _served(store, group_by, *whole) == _expected(events, group_by, *whole)


def test_durations_are_averaged_over_the_events_that_have_one(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    events = _corpus(300)
    ingest_batch(events, store, policy, now=NOW)
    whole = (T0 - timedelta(hours=1), T0 + timedelta(hours=12))
    reports = [
        e["properties"]["duration_ms"]
        for e in events
        if e["event_type"] == "lambda_report" and "duration_ms" in e["properties"]
    ]
    (served,) = [
        b for b in queries.stats(store, "event_type", *whole)["buckets"] if b["key"] == "lambda_report"
    ]
    assert served["avg_duration_ms"] == pytest.approx(sum(reports) / len(reports), abs=1e-3)


def test_whole_hours_are_read_from_the_rollups_not_the_events(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    ingest_batch(_corpus(300), store, policy, now=NOW)
    start, end = (
        T0.replace(minute=0, second=0) + timedelta(hours=1),
        T0.replace(minute=0, second=0) + timedelta(hours=7),
    )
    rows = store.rollups("event_type", int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    assert rows and {r.bucket_ms for r in rows} <= {
        int((start + timedelta(hours=h)).timestamp() * 1000) for h in range(6)
    }
    (plan,) = store._run(
        "SELECT * FROM rollup:[$dim, $from, NONE]..[$dim, $to, NONE] EXPLAIN",
        {"dim": "event_type", "from": int(start.timestamp() * 1000), "to": int(end.timestamp() * 1000)},
    )[-1][:1]
    assert plan["operation"] == "Iterate Range"  # the hours asked for, nothing else


def test_invocation_percentiles_and_trace_counts_are_what_the_events_and_traces_say(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    events = _corpus(1500)
    for i in range(0, len(events), 250):
        ingest_batch(events[i : i + 250], store, policy, now=NOW)
    rng = random.Random(8)
    for start, end in [(T0, NOW), *_windows(rng, 6)]:
        served = queries.stats(store, "event_type", start, end)
        reports = sorted(
            e["properties"]["duration_ms"]
            for e in events
            if e["event_type"] == "lambda_report"
            and "duration_ms" in e["properties"]
            and start <= datetime.fromisoformat(e["timestamp"]) < end
        )
        invocations = served["invocations"]
        assert invocations["count"] == len(reports)
        if reports:
            # Nearest rank: the smallest duration that p % of the reports do not exceed.
            assert invocations["p50_ms"] == reports[-(-len(reports) * 50 // 100) - 1]
            assert invocations["p95_ms"] == reports[-(-len(reports) * 95 // 100) - 1]
            assert sum(d <= invocations["p95_ms"] for d in reports) >= 0.95 * len(reports)
        else:
            assert invocations["p50_ms"] is None
        for status in ("running", "completed", "failed"):
            query = TraceQuery(status=status, start=start, end=end, limit=1000)
            listed = queries.list_traces(store, query)["traces"]
            assert served["traces"][status] == len(listed), (status, start, end)
    assert sum(queries.stats(store, "event_type", T0, NOW)["traces"].values()) > 0


def _trace_sums(events: list[dict[str, Any]], policy: IngestPolicy) -> dict[str, tuple]:
    """Per trace, what its events add up to, as a user would count them from the events."""
    from vectadb.core.ids import trace_id_for_session

    sums: dict[str, list] = defaultdict(lambda: [0, 0, 0, 0.0])
    for e in events:
        p = e["properties"]
        row = sums[trace_id_for_session(e["session_id"])]
        row[0] += e["event_type"] in policy.error_event_types or p.get("level") == "ERROR"
        row[1] += p.get("input_tokens", 0)
        row[2] += p.get("output_tokens", 0)
        row[3] += p.get("cost_usd", 0.0)
    return {trace: (errors, tin, tout, round(cost, 6)) for trace, (errors, tin, tout, cost) in sums.items()}


def _served_trace_sums(store: SurrealStore) -> dict[str, tuple]:
    traces = queries.list_traces(store, TraceQuery(limit=1000))["traces"]
    return {
        t["trace_id"]: (t["error_count"], t["input_tokens"], t["output_tokens"], round(t["cost_usd"], 6))
        for t in traces
    }


def test_traces_carry_what_their_events_add_up_to_under_redelivery_replace_and_upgrade(
    store: SurrealStore, policy: IngestPolicy
) -> None:
    events = _corpus(400, seed=11)
    for chunk in range(0, len(events), 100):
        ingest_batch(events[chunk : chunk + 100], store, policy, now=NOW)
        ingest_batch(events[max(0, chunk - 50) : chunk + 50], store, policy, now=NOW)  # partial redelivery
    assert _served_trace_sums(store) == _trace_sums(events, policy)
    assert any(errors for errors, *_ in _served_trace_sums(store).values())
    # has_errors splits the listing by the same count, page after page.
    sums = _served_trace_sums(store)
    for has_errors in (True, False):
        listed, cursor = [], None
        while True:
            page = queries.list_traces(store, TraceQuery(has_errors=has_errors, limit=2), cursor)
            listed += [t["trace_id"] for t in page["traces"]]
            if not (cursor := page["next_cursor"]):
                break
        assert sorted(listed) == sorted(t for t, (errors, *_) in sums.items() if (errors > 0) == has_errors)

    # A re-parse moves events between traces and changes what they count.
    changed = [{**e, "event_type": "error", "session_id": "s0"} for e in events[:40]]
    ingest_batch(changed, store, policy, now=NOW, replace=True)
    assert _served_trace_sums(store) == _trace_sums(changed + events[40:], policy)

    # A store from before traces carried sums gets them once, on upgrade.
    store._run("UPDATE agent_trace SET error_count = 0, input_tokens = 0, cost_usd = 0.0 RETURN NONE;")
    store._run("UPDATE schema_meta:vectadb SET version = 9 RETURN NONE;")
    store.ensure_schema()
    assert _served_trace_sums(store) == _trace_sums(changed + events[40:], policy)


def test_past_the_cap_the_newest_reports_make_the_percentiles(
    store: SurrealStore, policy: IngestPolicy, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _corpus(600, seed=4)
    ingest_batch(events, store, policy, now=NOW)
    monkeypatch.setattr(queries, "MAX_REPORTS", 7)
    reports = sorted(
        (datetime.fromisoformat(e["timestamp"]), e["properties"]["duration_ms"])
        for e in events
        if e["event_type"] == "lambda_report" and "duration_ms" in e["properties"]
    )
    newest = sorted(duration for _, duration in reports[-7:])
    served = queries.stats(store, "event_type", T0, NOW)["invocations"]
    assert served == {"count": 7, "p50_ms": newest[3], "p95_ms": newest[6], "sampled": True}
