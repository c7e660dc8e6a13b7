"""Runs in a log stream that names no request: the run a line without a session belongs to.

Outside Lambda (a container's output in Kubernetes or ECS) nothing names the request. A run is
delimited by its framework's own markers, which the parser types ``agent_start`` and
``agent_end`` / ``agent_error`` and gives a run session. A subscription cuts a stream into
deliveries that the parser sees one at a time, so most of a run's lines reach it in deliveries
that hold neither marker. The ingestion therefore keeps each stream's latest run marks, and gives
a log-derived event without a session the session of the run open in its stream at its time: the
last mark at or before it opened a run, or ended one in that same millisecond. An event before any
mark, or after a run's end, keeps no session (it is stored without a trace, as before). A run whose
framework prints no end marker ends when the next run of its stream starts: its trace becomes
``completed`` unless something failed it. The last run of a stream without an end marker stays
``running`` until it does.

This assumes one run at a time per stream, which is how a worker or a CLI agent prints; a server
that interleaves concurrent runs in one stream must name a session (or an OpenTelemetry trace) in
its records. Marks that arrive late (a delivery retried after later ones were stored) still
attribute the events that come after them, not the ones stored before them.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right, insort
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from vectadb.core.models import EventIn, to_millis

# The marks kept per stream: enough for the runs that deliveries still in flight can belong to.
MAX_MARKS = 64
RUN_START = "agent_start"
LAMBDA_LOG_GROUPS = "/aws/lambda/"
RUN_FAILED = "agent_error"

# What a mark does, in the order marks of one millisecond apply: a run that starts as another ends
# owns what follows.
FAILS, ENDS, STARTS = 0, 1, 2


@dataclass(frozen=True, order=True, slots=True)
class RunMark:
    """A run of a stream starting, ending or failing at a millisecond, ordered by time."""

    at_ms: int
    kind: int  # FAILS, ENDS or STARTS
    session_id: str


class RunMarkStore(Protocol):
    def stream_marks(self, streams: Sequence[str]) -> dict[str, list[RunMark]]:
        """The kept marks of each stream, in order."""
        ...

    def add_stream_marks(self, marks: Mapping[str, Sequence[RunMark]]) -> None:
        """Add marks to their streams, keeping the latest ``MAX_MARKS`` of each."""
        ...


def stream_key(event: EventIn) -> str | None:
    """The log stream of an event that a parser read from CloudWatch Logs (with an id of its own, so
    the event's id never depends on the session given here) outside Lambda, else None."""
    source = event.source
    if source is None or source.system != "cloudwatch":
        return None
    if not (source.log_group and source.log_stream and source.log_id):
        return None
    if source.log_group.startswith(LAMBDA_LOG_GROUPS) or "request_id" in event.properties:
        return None  # a Lambda function's stream: each invocation is a run, its request id says which
    return hashlib.sha256(f"{source.log_group}\x1f{source.log_stream}".encode()).hexdigest()[:32]


def _replay(marks: Sequence[RunMark]) -> tuple[str | None, RunMark | None, list[tuple[RunMark, str]]]:
    """Apply ``marks`` in order. Nested starts of the open run (a chain inside a chain) count, and
    its ends close it when they balance them; a failure closes it at once; a start of another run
    ends it. Returns the run left open, the mark that closed the last run, and the runs that a
    later start ended (with that start)."""
    current: str | None = None
    depth = 0
    closed: RunMark | None = None
    superseded: list[tuple[RunMark, str]] = []
    for mark in marks:
        if mark.kind == STARTS:
            if mark.session_id != current:
                if current is not None:
                    superseded.append((mark, current))
                current, depth = mark.session_id, 0
            depth += 1
            closed = None
        elif mark.session_id == current:
            depth -= 1
            if depth <= 0 or mark.kind == FAILS:
                current, depth, closed = None, 0, mark
        elif current is None:
            closed = mark  # the end of a run whose start this stream never marked (an OTel span)
    return current, closed, superseded


def open_run(marks: Sequence[RunMark], at_ms: int, reports_failure: bool = False) -> str | None:
    """The session of the run open at ``at_ms``, given its stream's marks in order.

    A line of the millisecond a run ended in is that run's last (an end printed twice, ...); a
    failure report (``reports_failure``) after a run failed, before the next one starts, is that
    run's too: the exception that the framework reported goes on to end the process."""
    applied = marks[: bisect_right(marks, RunMark(at_ms, STARTS, "\U0010ffff"))]
    current, closed, _ = _replay(applied)
    if current is not None:
        return current
    if closed is not None and (closed.at_ms == at_ms or (reports_failure and closed.kind == FAILS)):
        return closed.session_id
    return None


@dataclass(frozen=True, slots=True)
class Attribution:
    events: list[EventIn]
    # Runs that a later run of their stream started after, with no end marker of their own: the
    # stream runs one at a time, so they are over.
    ended_sessions: tuple[str, ...] = ()


def attribute_to_runs(
    events: Sequence[EventIn], store: RunMarkStore, closing_types: Collection[str]
) -> Attribution:
    """The events, those without a session or trace given the session of their stream's open run;
    the run markers among them are kept as their streams' marks."""
    keys = [stream_key(event) for event in events]
    # Only streams with a line to attribute or a run starting: an end whose run this batch does
    # not touch was attributed by the parser (its start was in the same delivery).
    wanted = {
        key
        for key, event in zip(keys, events, strict=True)
        if key and ((event.session_id is None and event.trace_id is None) or event.event_type == RUN_START)
    }
    if not wanted:
        return Attribution(list(events))
    known = store.stream_marks(sorted(wanted))
    added: dict[str, list[RunMark]] = {}
    result = list(events)

    def mark(index: int, key: str) -> None:
        event = result[index]
        kind = _kind(event.event_type, closing_types)
        if event.session_id and kind is not None:
            run_mark = RunMark(to_millis(event.timestamp), kind, event.session_id)
            marks = known.setdefault(key, [])
            if run_mark not in marks:
                insort(marks, run_mark)
                added.setdefault(key, []).append(run_mark)

    # The batch's own marks first (a line printed in the millisecond its run started, before the
    # marker, is the run's); then each line without a session, in time order, and the ends that
    # this gave a session.
    for index, key in enumerate(keys):
        if key in wanted:
            mark(index, key)
    for index in sorted(range(len(result)), key=lambda i: to_millis(result[i].timestamp)):
        key = keys[index]
        event = result[index]
        if key not in wanted or event.session_id is not None or event.trace_id is not None:
            continue
        session = open_run(known.get(key, ()), to_millis(event.timestamp), event.event_type == RUN_FAILED)
        if session is not None:
            result[index] = event.model_copy(update={"session_id": session})
            mark(index, key)
    ended: list[str] = []
    for key, new_marks in added.items():
        _, _, superseded = _replay(known[key])
        ended.extend(session for start, session in superseded if start in new_marks)
    if added:
        store.add_stream_marks(added)
    return Attribution(result, tuple(dict.fromkeys(ended)))


def _kind(event_type: str | None, closing_types: Collection[str]) -> int | None:
    if event_type == RUN_START:
        return STARTS
    if event_type == RUN_FAILED:
        return FAILS
    return ENDS if event_type in closing_types else None
