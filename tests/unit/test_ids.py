from __future__ import annotations

from vectadb.core.ids import event_id_for, trace_id_for, trace_id_for_session
from vectadb.core.models import EventIn

BASE = {
    "timestamp": "2026-01-07T17:00:00Z",
    "event_type": "tool_call",
    "properties": {"tool_name": "web_search"},
}
SOURCE = {"system": "cloudwatch", "log_group": "/aws/lambda/agent", "log_stream": "s1", "log_id": "3791"}


def _event(**fields: object) -> EventIn:
    return EventIn.model_validate({**BASE, **fields})


def test_client_event_id_wins() -> None:
    assert event_id_for(_event(event_id="my-key-1", source=SOURCE)) == "my-key-1"


def test_log_coordinates_identify_a_redelivered_log_event() -> None:
    first = _event(source=SOURCE)
    # A redelivery may be re-parsed differently (another timestamp, new properties): same record.
    again = _event(source={**SOURCE, "log_stream": "other"}, timestamp="2026-01-07T17:00:01Z", properties={})
    assert event_id_for(first) == event_id_for(again)
    assert event_id_for(first) != event_id_for(_event(source={**SOURCE, "log_id": "3792"}))
    assert event_id_for(first) != event_id_for(_event(source={**SOURCE, "log_group": "/aws/lambda/other"}))


def test_content_hash_is_canonical() -> None:
    a = _event(properties={"a": 1, "b": [1, 2]})
    b = EventIn.model_validate(
        {"properties": {"b": [1, 2], "a": 1}, "event_type": "tool_call", "timestamp": 1767805200000}
    )
    assert event_id_for(a) == event_id_for(b)
    assert event_id_for(a) != event_id_for(_event(properties={"a": 2, "b": [1, 2]}))
    assert event_id_for(a) != event_id_for(_event(properties={"a": 1, "b": [2, 1]}))
    assert event_id_for(a).startswith("ev_") and len(event_id_for(a)) == 35


def test_trace_id_follows_the_session_unless_explicit() -> None:
    assert trace_id_for(_event(session_id="req-abc123")) == trace_id_for_session("req-abc123")
    assert trace_id_for(_event(session_id="req-abc123")) != trace_id_for(_event(session_id="req-abc124"))
    assert trace_id_for(_event(session_id="req-abc123", trace_id="t-1")) == "t-1"
    assert trace_id_for(_event()) is None
