"""The generated data set the browser tests look at, and how it is posted (gzip batches).

Every timestamp is relative to ``now`` (within the last 24 hours, the overview's default range), so
the same pages show the same kind of data on any day. Texts repeat across events the way real agent
logs do (the same tools, models and messages): the embedder's cache then spares most of the
10,000-event trace's embeddings, and the data set is stored, indexed and searchable in seconds.
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests

SMALL_TRACES = 80  # more than one page of the console's trace list (50 a page)
FAILED_EVERY = 5  # one small trace in five ends in agent_error
BIG_EVENTS = 10_000
BATCH = 1000  # the API's max_batch_events

AGENTS = ("research-agent", "support-agent", "billing-agent")
TOOLS = {"web_search": 900, "crm_lookup": 250, "sql_query": 600, "issue_refund": 3000, "send_email": 400}
MODELS = {"gpt-4o": (2.5e-6, 1e-5), "gpt-4o-mini": (1.5e-7, 6e-7), "claude-3-5-sonnet": (3e-6, 1.5e-5)}
TOPICS = ("order status", "refund policy", "shipping delay", "invoice copy", "account access", "pricing")
TOOL_ERRORS = {
    "issue_refund": "refund API did not answer within 10s",
    "sql_query": 'syntax error at or near "FROM"',
}
# The event semantic search must find: its words appear nowhere else in the data set.
NEEDLE_ERROR = "the payment gateway declined the customer's credit card: insufficient funds"
NEEDLE_QUERY = "credit card payment was rejected by the bank"


@dataclass
class Trace:
    trace_id: str
    agent_id: str
    session_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    failed: bool = False


@dataclass
class Dataset:
    now: datetime
    small: list[Trace]
    big: Trace
    needle_event_id: str

    @property
    def traces(self) -> list[Trace]:
        return [*self.small, self.big]

    @property
    def events(self) -> list[dict[str, Any]]:
        return [e for t in self.traces for e in t.events]

    @property
    def failed(self) -> list[Trace]:
        return [t for t in self.small if t.failed]


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class _Builder:
    """Appends one trace's events, each after the one before it."""

    def __init__(self, trace: Trace, start: datetime, rng: random.Random) -> None:
        self.trace = trace
        self.t = start
        self.rng = rng
        self.source = {
            "system": "cloudwatch",
            "log_group": f"/aws/lambda/{trace.agent_id}",
            "log_stream": f"{start:%Y/%m/%d}/[$LATEST]{rng.getrandbits(64):016x}",
            "owner": "123456789012",
        }

    def add(
        self, event_type: str, properties: dict[str, Any], after_ms: int = 0, parent: str | None = None
    ) -> str:
        self.t += timedelta(milliseconds=after_ms)
        event_id = f"{self.trace.trace_id}-e{len(self.trace.events):05d}"
        event: dict[str, Any] = {
            "event_id": event_id,
            "timestamp": _iso(self.t),
            "event_type": event_type,
            "session_id": self.trace.session_id,
            "agent_id": self.trace.agent_id,
            "trace_id": self.trace.trace_id,
            "properties": properties,
            "source": self.source,
        }
        if parent:
            event["parent_event_id"] = parent
        self.trace.events.append(event)
        return event_id

    def step(self, root: str, tool: str | None = None, error: str | None = None) -> None:
        """An LLM call, the tool call it asks for, and the tool's result."""
        rng = self.rng
        model = rng.choice(list(MODELS))
        tokens_in, tokens_out, took = rng.randint(300, 4000), rng.randint(40, 800), rng.randint(400, 3000)
        price_in, price_out = MODELS[model]
        llm = self.add(
            "llm_call",
            {
                "model": model,
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "cost_usd": round(tokens_in * price_in + tokens_out * price_out, 6),
                "duration_ms": took,
                "message": f"{model} chose the next step",
                "level": "INFO",
            },
            rng.randint(20, 200) + took,
            root,
        )
        tool = tool or rng.choice(list(TOOLS))
        took = int(rng.expovariate(1 / TOOLS.get(tool, 500))) + 20
        if error is None and tool in TOOL_ERRORS and rng.random() < 0.3:
            error = TOOL_ERRORS[tool]
        props: dict[str, Any] = {
            "tool_name": tool,
            "tool_input": {"topic": rng.choice(TOPICS)},
            "duration_ms": took,
            "message": f"calling {tool}",
            "level": "ERROR" if error else "INFO",
        }
        if error:
            props["error"] = error
        call = self.add("tool_call", props, rng.randint(5, 60) + took, llm)
        self.add("tool_result", {"tool_name": tool, "message": f"{tool} returned"}, 3, call)

    def finish(self, failed: bool) -> None:
        root = self.trace.events[0]["event_id"]
        if failed:
            self.trace.failed = True
            self.add(
                "agent_error", {"message": "agent failed after a tool error", "level": "ERROR"}, 50, root
            )
        else:
            self.add("agent_end", {"message": "agent finished", "level": "INFO"}, 50, root)
        start = datetime.fromisoformat(self.trace.events[0]["timestamp"])
        took = round((self.t - start).total_seconds() * 1000 + 80, 1)
        self.add("lambda_report", {"duration_ms": took, "message": "REPORT RequestId"}, 5)


def build(now: datetime, seed: int = 7) -> Dataset:
    rng = random.Random(seed)
    small: list[Trace] = []
    needle = ""
    for n in range(SMALL_TRACES):
        agent = AGENTS[n % len(AGENTS)]
        trace = Trace(f"e2e-{n:03d}", agent, f"sess-{n % 23:03d}")
        # Spread over the last 20 hours, newest first in the list; none in the last 5 minutes.
        b = _Builder(trace, now - timedelta(minutes=5 + n * 14 + rng.randint(0, 10)), rng)
        root = b.add("agent_start", {"message": f"{agent} started", "level": "INFO"})
        for _ in range(rng.randint(1, 4)):
            b.step(root)
        if n == 7:
            b.step(root, tool="charge_card", error=NEEDLE_ERROR)
            needle = trace.events[-2]["event_id"]
        b.finish(failed=n % FAILED_EVERY == 2 or n == 7)
        small.append(trace)

    big = Trace("e2e-big", "research-agent", "big-run")
    b = _Builder(big, now - timedelta(hours=3), rng)
    root = b.add("agent_start", {"message": "research-agent started a long run", "level": "INFO"})
    while len(big.events) + 3 <= BIG_EVENTS - 2:
        b.step(root)
    while len(big.events) < BIG_EVENTS - 2:
        b.add("agent_step", {"message": "thinking", "level": "INFO"}, 100, root)
    b.finish(failed=False)
    assert len(big.events) == BIG_EVENTS
    return Dataset(now=now, small=small, big=big, needle_event_id=needle)


def post(session: requests.Session, url: str, key: str, events: list[dict[str, Any]]) -> None:
    """POST /api/v1/events/batch, gzip-compressed, BATCH events at a time; every event must be stored."""
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    for i in range(0, len(events), BATCH):
        body = gzip.compress(json.dumps({"events": events[i : i + BATCH]}).encode(), compresslevel=5)
        response = session.post(f"{url}/api/v1/events/batch", data=body, headers=headers, timeout=300)
        assert response.status_code == 200, response.text[:2000]
        assert response.json()["failed"] == 0, response.text[:2000]
