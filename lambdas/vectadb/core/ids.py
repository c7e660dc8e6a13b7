"""Deterministic ids.

A redelivered log event must land on the record it made the first time, and concurrent
Lambdas must agree on a session's trace without a read-then-create race: every id is a pure
function of the event.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from vectadb.core.models import EventIn, to_millis


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def trace_id_for_session(session_id: str) -> str:
    return "tr_" + _digest("session", session_id)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def log_event_id(log_group: str, log_id: str, part: str | None = None) -> str:
    """The id of the event made from one CloudWatch log event, or of one ``part`` of it (a record
    that holds several tool calls makes one event per call)."""
    if part is None:
        return "ev_" + _digest("log", log_group, log_id)
    return "ev_" + _digest("log", log_group, log_id, part)


def event_id_for(event: EventIn) -> str:
    """``event_id`` when given; else from ``(log_group, log_id)``; else a hash of the canonical event."""
    if event.event_id:
        return event.event_id
    source = event.source
    if source is not None and source.log_group and source.log_id:
        return log_event_id(source.log_group, source.log_id)
    canonical = canonical_json(
        {
            "timestamp": to_millis(event.timestamp),
            "event_type": event.event_type,
            "session_id": event.session_id,
            "agent_id": event.agent_id,
            "trace_id": event.trace_id,
            "parent_event_id": event.parent_event_id,
            "properties": event.properties,
            "source": source.model_dump(exclude_none=True) if source else None,
        }
    )
    return "ev_" + _digest("content", canonical)


def trace_id_for(event: EventIn) -> str | None:
    if event.trace_id:
        return event.trace_id
    if event.session_id:
        return trace_id_for_session(event.session_id)
    return None
