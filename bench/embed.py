"""Ingest with embedding, through the Lambda handler, against raw fastembed on the same texts.

For two corpora of CloudWatch-shaped agent events:

- unique: every event's text differs (the worst case for the cache);
- repetitive: the texts repeat as real agent logs do (a few hundred distinct lines, Zipf-like).

Raw: ``fastembed.TextEmbedding.embed`` over every event's text (batch 32, nothing skipped), from
the same model directory, measured before and after the handler run and averaged.
Handler: batches of 100 as API Gateway events -> SurrealDB (surrealkv) -> embed (in-batch dedupe
and an LRU across invocations, empty at the start) -> Qdrant (the journaled local mode) -> flags.

    python bench/embed.py [--unique 1000] [--repetitive 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Replace this folder on the path: bench/ingest.py would shadow the `ingest` function package.
sys.path[0] = str(ROOT / "lambdas")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

from ingest.handler import handler  # noqa: E402
from vectadb.core.config import Settings  # noqa: E402
from vectadb.core.event_text import event_text  # noqa: E402
from vectadb.local.server import LocalContext, rest_proxy_event  # noqa: E402
from vectadb.semantic.embedder import Embedder  # noqa: E402
from vectadb.semantic.index import SemanticIndex  # noqa: E402
from vectadb.semantic.vector_index import QdrantIndex  # noqa: E402
from vectadb.service.api_runtime import Runtime, set_runtime  # noqa: E402
from vectadb.service.ingestion import IngestPolicy  # noqa: E402
from vectadb.stores.surreal import SurrealStore  # noqa: E402

MODEL_DIR = Path(os.environ.get("VECTADB_MODEL_DIR") or ROOT / "build" / "model")
WORDS = [
    "customer",
    "order",
    "refund",
    "invoice",
    "shipment",
    "delay",
    "payment",
    "card",
    "account",
    "password",
    "reset",
    "ticket",
    "database",
    "timeout",
    "query",
    "index",
    "cache",
    "latency",
    "region",
    "bucket",
    "lambda",
    "queue",
    "retry",
    "webhook",
    "token",
    "weather",
    "forecast",
    "flight",
    "hotel",
    "booking",
    "price",
    "currency",
    "stock",
    "news",
    "report",
    "summary",
    "translation",
]
TOOLS = ["web_search", "sql_query", "send_email", "http_get", "vector_lookup", "python_repl"]


def _event(i: int, event_type: str, start: datetime, **properties: object) -> dict:
    return {
        "timestamp": (start + timedelta(milliseconds=i * 50)).isoformat(),
        "event_type": event_type,
        "session_id": f"req-{i // 40:05d}",
        "agent_id": f"agent-{i % 5}",
        "properties": properties,
        "source": {"system": "cloudwatch", "log_group": "/aws/lambda/agent", "log_id": f"{i:016d}"},
    }


def unique_corpus(n: int, rng: random.Random) -> list[dict]:
    start = datetime.now(UTC) - timedelta(hours=2)
    events = []
    for i in range(n):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18)))
        events.append(
            _event(i, "tool_call", start, tool_name=rng.choice(TOOLS), tool_input={"query": f"{words} #{i}"})
        )
    return events


def repetitive_corpus(n: int, rng: random.Random, distinct: int = 300) -> list[dict]:
    """Agent logs: the same tool calls, LLM calls and errors, over and over."""
    start = datetime.now(UTC) - timedelta(hours=1)
    templates = []
    for j in range(distinct):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18)))
        kind = j % 3
        if kind == 0:
            templates.append(("tool_call", {"tool_name": rng.choice(TOOLS), "tool_input": {"query": words}}))
        elif kind == 1:
            templates.append(("llm_call", {"model": "gpt-4o-mini", "prompt": words}))
        else:
            templates.append(("error", {"error": f"TimeoutError: {words}", "level": "ERROR"}))
    weights = [1 / (rank + 1) for rank in range(distinct)]  # Zipf: a few lines dominate
    picks = rng.choices(range(distinct), weights=weights, k=n)
    return [_event(i, templates[p][0], start, **templates[p][1]) for i, p in enumerate(picks)]


def raw_rate(texts: list[str]) -> float:
    model = Embedder(MODEL_DIR, cache_size=0).model()  # fastembed's TextEmbedding from the same directory
    list(model.embed(texts[:64], batch_size=32))  # warm up
    t0 = time.perf_counter()
    list(model.embed(texts, batch_size=32))
    return len(texts) / (time.perf_counter() - t0)


def handler_run(events: list[dict], tmp: Path) -> tuple[float, list[float], int, float]:
    settings = Settings(
        surreal_url=f"surrealkv://{tmp}/surreal", qdrant_url=str(tmp / "qdrant"), model_dir=MODEL_DIR
    )
    store = SurrealStore(settings.surreal_url)
    store.ensure_schema()
    embedder = Embedder(MODEL_DIR, cache_size=settings.embedding_cache_size)
    embedder.warm_up()
    semantic = SemanticIndex(embedder, QdrantIndex(settings.qdrant_url))
    semantic.check()
    set_runtime(
        Runtime(
            settings=settings, store=store, policy=IngestPolicy.from_settings(settings), semantic=semantic
        )
    )
    proxy_events = [
        rest_proxy_event(
            "POST",
            "/api/v1/events/batch",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"events": events[i : i + 100]}),
            authorizer={"principalId": "key_bench"},
        )
        for i in range(0, len(events), 100)
    ]
    latencies = []
    indexed = 0
    for proxy_event in proxy_events:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the EMF metric lines Lambda would log
            response = handler(proxy_event, LocalContext(function_name="bench", timeout_ms=900_000))
        latencies.append(time.perf_counter() - t0)
        body = json.loads(response["body"])
        if response["statusCode"] != 200:
            raise SystemExit(f"handler answered {response['statusCode']}: {response['body'][:300]}")
        indexed += sum(r["indexed"] for r in body["results"])
    hit_rate = embedder.hits / max(1, embedder.hits + embedder.misses)
    set_runtime(None)
    semantic.close()
    store.close()
    return len(events) / sum(latencies), latencies, indexed, hit_rate


COLD_START = """
import time
t0 = time.perf_counter()
import ingest.handler
t1 = time.perf_counter()
from vectadb.core.config import Settings
from vectadb.service.api_runtime import Runtime
runtime = Runtime.from_settings(Settings(surreal_url="mem://", qdrant_url=":memory:", model_dir=MODEL_DIR))
t2 = time.perf_counter()
runtime.semantic.embedder.warm_up()
t3 = time.perf_counter()
runtime.semantic.embedder.embed(["first request after a cold start"])
t4 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.2f} {t4 - t3:.3f}")
"""


def cold_start() -> str:
    """A fresh interpreter, as a new Lambda container: import, model load, first embedding."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "lambdas")}
    runs = []
    for _ in range(3):
        out = subprocess.run(  # noqa: S603 - this interpreter, a fixed snippet
            [sys.executable, "-c", f"MODEL_DIR = {str(MODEL_DIR)!r}\n" + COLD_START],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append([float(x) for x in out.stdout.split()])
    imp, init, load, first = (statistics.median(col) for col in zip(*runs, strict=True))
    return (
        f"cold start (median of 3): import ingest.handler {imp:.2f} s, runtime (stores, Qdrant client) "
        f"{init:.2f} s, model load {load:.2f} s, first embedding {first * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unique", type=int, default=1000)
    parser.add_argument("--repetitive", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(11)
    info = Embedder(MODEL_DIR).info
    print(f"model: {info.model} ({info.quantization}), batch 32, {os.cpu_count()} cores")
    print(cold_start())
    for name, events, target in (
        ("unique", unique_corpus(args.unique, rng), ">= 0.8"),
        ("repetitive", repetitive_corpus(args.repetitive, rng), "> 1.5"),
    ):
        texts = [event_text(e["event_type"], e["properties"], info.max_tokens) for e in events]
        before = raw_rate(texts)
        with tempfile.TemporaryDirectory(prefix="vectadb-bench-") as tmp:
            rate, latencies, indexed, hit_rate = handler_run(events, Path(tmp))
        after = raw_rate(texts)
        raw = (before + after) / 2
        ms = sorted(t * 1000 for t in latencies)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        print(
            f"{name:10s}: {len(events)} events, {len(set(texts))} distinct texts, {indexed} indexed, "
            f"cache hits {hit_rate:.0%}\n"
            f"  raw fastembed : {raw:7.1f} texts/s (before {before:.1f}, after {after:.1f})\n"
            f"  handler       : {rate:7.1f} events/s  batch of 100: p50 {statistics.median(ms):.0f} ms, "
            f"p95 {p95:.0f} ms\n"
            f"  ratio         : {rate / raw:7.2f}  (target {target})"
        )


if __name__ == "__main__":
    main()
