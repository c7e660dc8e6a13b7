"""The real-library corpus (tests/fixtures/agent_logs) through the parser into the local API, scored.

Each library's deliveries, in each format, go through the real parser handler into a fresh local
API (real authorizer, real ingestion handler, embedded SurrealDB). Then every expectation of every
run is checked against what the API serves. An expectation comes from what really happened in the
run (see the corpus README), never from the log text:

- ``attributed``: every event of the invocation (by time) is in one trace;
- ``status``: that trace's status is the run's (``completed`` / ``failed``);
- ``tool:<name>``: a ``tool_call`` event names the tool, and its properties hold the input values
  that the run printed;
- ``tool_error:<name>``: an error event names the tool that raised;
- ``llm``, ``llm_model``, ``llm_tokens``: as many ``llm_call`` events as answered requests, each
  with the model, and with input and output tokens, where the run printed them;
- ``run_error``: a failed invocation has an error event naming the exception's type.

    python -m tests.integration.agent_logs [library ...]    (prints the score per library and format)
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "agent_logs"
FORMATS = ("lambda_text", "lambda_json", "k8s")
# Terminal colours: their digits ("\x1b[32;1m") are not numbers the run printed.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
KEY = "vdb_agent-logs-score-0123456789abcdefghijklmnop"


def libraries() -> list[str]:
    return sorted(p.parent.name for p in CORPUS.glob("*/capture.json"))


def load(library: str) -> dict[str, Any]:
    return json.loads((CORPUS / library / "capture.json").read_text())


def delivery_file(library: str, fmt: str) -> Path:
    return CORPUS / library / "deliveries" / f"{fmt}.json"


@dataclass
class Score:
    library: str
    fmt: str
    met: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        total = len(self.met) + len(self.missed)
        return len(self.met) / total if total else 1.0


@contextmanager
def local_api() -> Iterator[str]:
    """A fresh local API on the embedded store: its base URL. The environment is restored after."""
    saved = dict(os.environ)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ["VECTADB_API_KEYS"] = KEY
    from authorizer import handler as authorizer_module
    from ingest.handler import handler as api_handler
    from vectadb.core.config import Settings, get_settings
    from vectadb.local.server import LocalGateway, LocalServer
    from vectadb.semantic.index import SemanticIndex
    from vectadb.service.api_runtime import Runtime, set_runtime
    from vectadb.service.ingestion import IngestPolicy
    from vectadb.stores.surreal import SurrealStore

    get_settings.cache_clear()
    authorizer_module.verifier.cache_clear()
    settings = Settings(surreal_url="mem://", api_keys=KEY)
    store = SurrealStore("mem://")
    store.ensure_schema()
    runtime = Runtime(
        settings=settings,
        store=store,
        policy=IngestPolicy.from_settings(settings),
        semantic=SemanticIndex.off("the corpus score does not need vectors"),
    )
    previous = set_runtime(runtime)
    server = LocalServer(
        ("127.0.0.1", 0),
        LocalGateway(api_handler, authorizer_module.handler, settings.max_body_bytes),
        quiet=True,
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        set_runtime(previous)
        store.close()
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        authorizer_module.verifier.cache_clear()


def feed(library: str, fmt: str, api_url: str, dlq_dir: Path) -> dict[str, int]:
    from vectadb.local.feed import feed as feed_files

    return feed_files([delivery_file(library, fmt)], api_url, KEY, dlq_dir=dlq_dir)


def _get(api_url: str, path: str, **params: Any) -> dict[str, Any]:
    response = requests.get(
        f"{api_url}{path}", params=params, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def _all(api_url: str, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = _get(api_url, path, limit=1000, cursor=cursor, **params)
        items.extend(page[key])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def _windows(capture: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Each run's invocation, by request id: the first and last millisecond of its records."""
    spans: dict[str, list[int]] = {}
    for record in capture["records"]:
        if record["request_id"]:
            spans.setdefault(record["request_id"], []).append(record["t_ns"] // 1_000_000)
    return {request_id: (min(times), max(times)) for request_id, times in spans.items()}


def _text(event: dict[str, Any]) -> str:
    return json.dumps(event["properties"], ensure_ascii=False)


def score(library: str, fmt: str, capture: dict[str, Any], api_url: str) -> Score:
    result = Score(library, fmt)
    events = _all(api_url, "/api/v1/events", "events", order="asc", start="2000-01-01T00:00:00Z")
    windows = _windows(capture)

    def check(name: str, ok: bool) -> None:
        (result.met if ok else result.missed).append(name)

    for run in capture["runs"]:
        # What a parser can only find when the library printed it: an input value, a model name,
        # a token count. Whatever the run's own output never shows is not expected of the parser.
        logged = _ANSI.sub(
            "", "\n".join(r["text"] for r in capture["records"] if r["request_id"] == run["request_id"])
        )
        first, last = windows[run["request_id"]]
        mine = [e for e in events if first <= _ms(e["timestamp"]) <= last]
        traces = {e["trace_id"] for e in mine}
        check(f"{run['run']}:attributed", bool(mine) and len(traces) == 1 and None not in traces)
        trace_id = run_trace(run, mine, fmt)
        # What was recognised is checked on the run's events, in a trace or not: attribution and
        # status are expectations of their own.
        trace_events = mine
        if trace_id is not None:
            detail = _get(api_url, f"/api/v1/traces/{trace_id}", limit=1)
            check(f"{run['run']}:status", detail["trace"]["status"] == run["status"])
        else:
            check(f"{run['run']}:status", False)
        for call in run["tool_calls"]:
            named = [
                e
                for e in trace_events
                if e["event_type"] == "tool_call" and e["properties"].get("tool_name") == call["name"]
            ]
            values = [json.dumps(v, ensure_ascii=False).strip('"') for v in call["input"].values()]
            # As the parser must store them: with personal data and secrets redacted.
            values = [_redacted(v) for v in values if v in logged]
            check(
                f"{run['run']}:tool:{call['name']}",
                any(all(v in _text(e) for v in values) for e in named),
            )
            if call["error"] and _printed_error(call["name"], call["error"], logged):
                check(
                    f"{run['run']}:tool_error:{call['name']}",
                    any(e["is_error"] and call["name"] in _text(e) for e in trace_events),
                )
        answered = [c for c in run["llm_calls"] if c["status"] == 200]
        llm_events = [e for e in trace_events if e["event_type"] == "llm_call"]
        if answered:
            check(f"{run['run']}:llm", len(llm_events) >= len(answered))
            if any(c["model"] in logged for c in answered):
                with_model = [e for e in llm_events if e["properties"].get("model")]
                check(f"{run['run']}:llm_model", len(with_model) >= len(answered))
            printed = [
                c
                for c in answered
                if _shows(logged, c["input_tokens"]) and _shows(logged, c["output_tokens"])
            ]
            if printed:
                with_tokens = [
                    e
                    for e in llm_events
                    if e["properties"].get("input_tokens") is not None
                    and e["properties"].get("output_tokens") is not None
                ]
                check(f"{run['run']}:llm_tokens", len(with_tokens) >= len(printed))
        if run["error"]:
            check(
                f"{run['run']}:run_error",
                any(e["is_error"] and run["error"]["type"] in _text(e) for e in trace_events),
            )
    return result


def _redacted(value: str) -> str:
    from vectadb.logparse.redaction import Redactor
    from vectadb.logparse.rules import default_rules

    return Redactor(default_rules().redact).text(value)


def _printed_error(tool: str, error: str, logged: str) -> bool:
    """Whether the run printed the tool's failure: its exception's type or message, or a line that
    says the tool failed (a pydantic-ai ModelRetry, for one, goes to the model and is printed
    nowhere)."""
    kind, _, message = error.partition(": ")
    if kind.rsplit(".", 1)[-1] in logged or (message and message.strip("'\"") in logged):
        return True
    name = re.escape(tool)
    return (
        re.search(rf"{name}[^\n]{{0,80}}(?:fail|error)|(?:fail|error)[^\n]{{0,80}}{name}", logged, re.I)
        is not None
    )


def _shows(logged: str, number: int) -> bool:
    """Whether the run printed this number as a number of its own: not inside 2,028, 1.31, a date,
    a time or an id (2026-11-30, 10:17:41, 91e2390e-3922-...)."""
    return re.search(rf"(?<![\w.,])(?<!\w[:\-]){number}(?!\w|[.,:\-]\w)", logged) is not None


def run_trace(run: dict[str, Any], window: list[dict[str, Any]], fmt: str) -> str | None:
    """The trace that stands for a run: in Lambda, its invocation's (the session is the request
    id); elsewhere the trace holding most of the run's events."""
    if fmt.startswith("lambda"):
        from vectadb.core.ids import trace_id_for
        from vectadb.core.models import EventIn

        trace_id = trace_id_for(EventIn(timestamp="2026-01-01T00:00:00Z", session_id=run["request_id"]))
        return trace_id if any(e["trace_id"] == trace_id for e in window) else None
    counts: dict[str, int] = {}
    for event in window:
        if event["trace_id"]:
            counts[event["trace_id"]] = counts.get(event["trace_id"], 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def _ms(timestamp: str) -> int:
    from vectadb.core.models import parse_timestamp, to_millis

    return to_millis(parse_timestamp(timestamp))


def run(selected: list[str] | None = None) -> list[Score]:
    scores = []
    for library in selected or libraries():
        capture = load(library)
        for fmt in FORMATS:
            with local_api() as api_url, tempfile.TemporaryDirectory() as dlq:
                feed(library, fmt, api_url, Path(dlq))
                scores.append(score(library, fmt, capture, api_url))
    return scores


def table(scores: list[Score]) -> str:
    lines = ["| library | " + " | ".join(FORMATS) + " |", "|---|" + "---|" * len(FORMATS)]
    by_library: dict[str, dict[str, Score]] = {}
    for s in scores:
        by_library.setdefault(s.library, {})[s.fmt] = s
    for library, formats in by_library.items():
        cells = [
            f"{len(s.met)}/{len(s.met) + len(s.missed)} ({s.ratio:.0%})" if (s := formats.get(f)) else "-"
            for f in FORMATS
        ]
        lines.append(f"| {library} | " + " | ".join(cells) + " |")
    met = sum(len(s.met) for s in scores)
    total = sum(len(s.met) + len(s.missed) for s in scores)
    lines.append(f"\noverall: {met}/{total} expectations met ({met / total:.0%})" if total else "")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "lambdas"))
    results = run(sys.argv[1:] or None)
    print(table(results))
    if "-v" in os.environ.get("SCORE_VERBOSE", "-v"):
        for s in results:
            if s.missed:
                print(f"{s.library} {s.fmt} missed: {', '.join(s.missed)}")
