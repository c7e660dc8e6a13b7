"""Ingest throughput through the Lambda handler into surrealkv (no embedding), against a bare INSERT.

Both sides write the same rows into the same schema (all indexes), each into a fresh surrealkv
store, alternating batch by batch so that machine noise hits both alike:

- handler: an API Gateway proxy event with a JSON body of 100 events -> validation, ids, trace
  detection, one transaction with events, traces and edges -> the JSON response;
- bare: ``INSERT INTO agent_event $rows`` of the same stored rows, with the SDK's own types.

Then some batches are delivered again, as they are and with another session (the first stored copy
is kept and the conflict reported), and their rate is compared with the first delivery's.

    python bench/ingest.py [--events 10000] [--batch 100]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Replace this script's own folder on the path: this file is named like the `ingest` function package.
sys.path[0] = str(Path(__file__).resolve().parents[1] / "lambdas")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from surrealdb import RecordID  # noqa: E402

from ingest.handler import handler  # noqa: E402
from vectadb.core.config import Settings  # noqa: E402
from vectadb.core.ids import event_id_for  # noqa: E402
from vectadb.core.models import EventIn  # noqa: E402
from vectadb.local.server import LocalContext, rest_proxy_event  # noqa: E402
from vectadb.semantic.index import SemanticIndex  # noqa: E402
from vectadb.service.api_runtime import Runtime, set_runtime  # noqa: E402
from vectadb.service.ingestion import IngestPolicy, to_record  # noqa: E402
from vectadb.stores.surreal import SurrealStore, _event_row  # noqa: E402

POLICY = IngestPolicy.from_settings(Settings(surreal_url="mem://"))
TOOLS = ["web_search", "sql_query", "http_get", "python_repl", "vector_lookup"]
TYPES = ["tool_call", "tool_result", "llm_call", "log", "agent_start", "agent_end"]


def make_events(count: int, seed: int = 7) -> list[dict]:
    """CloudWatch-shaped agent events of ~600 bytes, 50 per session."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=6)
    events = []
    for i in range(count):
        tool = rng.choice(TOOLS)
        events.append(
            {
                "timestamp": (start + timedelta(milliseconds=i * 137)).isoformat(),
                "event_type": rng.choice(TYPES),
                "session_id": f"req-{i // 50:06d}",
                "agent_id": f"agent-{i % 7}",
                "properties": {
                    "tool_name": tool,
                    "tool_input": {"query": f"{tool} request {i} " + "lorem ipsum " * rng.randint(5, 25)},
                    "level": "INFO",
                    "model": "gpt-4o-mini",
                    "tokens": {"input": rng.randint(10, 900), "output": rng.randint(5, 300)},
                },
                "source": {
                    "system": "cloudwatch",
                    "log_group": "/aws/lambda/langchain-agent",
                    "log_stream": "2026/01/07/[$LATEST]8f3c1a",
                    "log_id": f"3791{i:012d}",
                },
            }
        )
    return events


def bare_rows(events: list[dict]) -> list[dict]:
    """The rows the handler stores (every field, sort keys included), as a plain SDK user would
    insert them."""
    rows = []
    for raw in events:
        row = _event_row(to_record(EventIn.model_validate(raw), POLICY, datetime.now(UTC)))
        ms = row.pop("ms")
        for derived in ("k", "rank", "end_ms"):
            row.pop(derived)
        rows.append(
            {
                **row,
                "id": RecordID("agent_event", event_id_for(EventIn.model_validate(raw))),
                "timestamp": datetime.fromtimestamp(ms / 1000, tz=UTC),
            }
        )
    return [{key: value for key, value in row.items() if value is not None} for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5, help="batches per side before timing")
    parser.add_argument("--redeliver", type=int, default=20, help="batches delivered again, twice")
    args = parser.parse_args()

    events = make_events(args.events + args.warmup * args.batch)
    batches = [events[i : i + args.batch] for i in range(0, len(events), args.batch)]
    proxy_events = [
        rest_proxy_event(
            "POST",
            "/api/v1/events/batch",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"events": batch}),
            authorizer={"principalId": "key_bench"},
        )
        for batch in batches
    ]
    rows = [bare_rows(batch) for batch in batches]

    with tempfile.TemporaryDirectory(prefix="vectadb-bench-") as tmp:
        api_store = SurrealStore(f"surrealkv://{tmp}/api")
        bare_store = SurrealStore(f"surrealkv://{tmp}/bare")
        for store in (api_store, bare_store):
            store.ensure_schema()
        settings = Settings(surreal_url=f"surrealkv://{tmp}/api")
        set_runtime(
            Runtime(
                settings=settings,
                store=api_store,
                policy=IngestPolicy.from_settings(settings),
                semantic=SemanticIndex.off("bench/ingest.py measures the path without embedding"),
            )
        )

        api_times: list[float] = []
        bare_times: list[float] = []
        for i, (proxy_event, batch_rows) in enumerate(zip(proxy_events, rows, strict=True)):
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # the EMF metric lines Lambda would log
                response = handler(proxy_event, LocalContext(function_name="bench"))
            t1 = time.perf_counter()
            bare_store._run("INSERT INTO agent_event $rows RETURN NONE", {"rows": batch_rows})
            t2 = time.perf_counter()
            if response["statusCode"] != 200:
                raise SystemExit(f"handler answered {response['statusCode']}: {response['body'][:300]}")
            if i >= args.warmup:
                api_times.append(t1 - t0)
                bare_times.append(t2 - t1)

        # Redelivery (CloudWatch delivers at least once, the DLQ replays): the same batches again,
        # then copies whose session changed (conflicts reported, first copy kept).
        redelivered = proxy_events[args.warmup : args.warmup + args.redeliver]
        changed = [
            {**p, "body": p["body"].replace('"session_id": "req-', '"session_id": "moved-')}
            for p in redelivered
        ]
        redelivery_times = {}
        for name, requests in (("same copies", redelivered), ("changed session", changed)):
            t0 = time.perf_counter()
            for proxy_event in requests:
                with contextlib.redirect_stdout(io.StringIO()):
                    response = handler(proxy_event, LocalContext(function_name="bench"))
                body = json.loads(response["body"])
                if response["statusCode"] != 200 or not all(r["duplicate"] for r in body["results"]):
                    raise SystemExit(
                        f"redelivery answered {response['statusCode']}: {response['body'][:300]}"
                    )
            redelivery_times[name] = time.perf_counter() - t0
        stored = api_store._select("SELECT count() AS n FROM agent_event GROUP ALL", {})[0]["n"]
        bare_stored = bare_store._select("SELECT count() AS n FROM agent_event GROUP ALL", {})[0]["n"]
        set_runtime(None)
        api_store.close()
        bare_store.close()

    timed_events = len(api_times) * args.batch
    api_rate = timed_events / sum(api_times)
    bare_rate = timed_events / sum(bare_times)
    ms = sorted(t * 1000 for t in api_times)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(
        f"events: {timed_events} timed in batches of {args.batch} (+{args.warmup} warm-up batches per side)"
    )
    print(f"stored: handler store {stored}, bare store {bare_stored}")
    p50 = statistics.median(ms)
    print(f"handler -> surrealkv : {api_rate:8.0f} events/s   batch p50 {p50:.1f} ms  p95 {p95:.1f} ms")
    print(f"bare INSERT          : {bare_rate:8.0f} events/s")
    print(f"ratio handler/bare   : {api_rate / bare_rate:8.2f}   (target >= 0.55)")
    for name, seconds in redelivery_times.items():
        rate = len(redelivered) * args.batch / seconds
        print(f"redelivery, {name:15s}: {rate:8.0f} events/s   ratio to first delivery {rate / api_rate:.2f}")


if __name__ == "__main__":
    main()
