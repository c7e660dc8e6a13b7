from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from vectadb.core.models import (
    MAX_EVENT_BYTES,
    MAX_PROPERTIES_DEPTH,
    EventIn,
    format_timestamp,
    parse_timestamp,
)


def _error_types(exc: ValidationError) -> set[str]:
    return {e["type"] for e in exc.errors()}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-07T17:00:00Z", datetime(2026, 1, 7, 17, tzinfo=UTC)),
        ("2026-01-07T17:00:00.123456789Z", datetime(2026, 1, 7, 17, 0, 0, 123000, tzinfo=UTC)),
        ("2026-01-07 17:00:00", datetime(2026, 1, 7, 17, tzinfo=UTC)),  # naive means UTC
        ("2026-01-07T19:00:00+02:00", datetime(2026, 1, 7, 17, tzinfo=UTC)),
        ("2026-01-07t17:00:00z", datetime(2026, 1, 7, 17, tzinfo=UTC)),
        (1767805200000, datetime(2026, 1, 7, 17, tzinfo=UTC)),
        (1767805200123.9, datetime(2026, 1, 7, 17, 0, 0, 123000, tzinfo=UTC)),
        ("1767805200000", datetime(2026, 1, 7, 17, tzinfo=UTC)),
        (datetime(2026, 1, 7, 18, tzinfo=timezone(timedelta(hours=1))), datetime(2026, 1, 7, 17, tzinfo=UTC)),
    ],
)
def test_timestamps_normalise_to_utc_milliseconds(raw: object, expected: datetime) -> None:
    parsed = parse_timestamp(raw)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("yesterday", "RFC 3339"),
        ("2026-01-07", "RFC 3339"),
        ("2026-13-07T00:00:00Z", "not a valid date"),
        (True, "RFC 3339"),
        (1767805200, "milliseconds, not seconds"),  # epoch seconds by mistake
        (float("nan"), "finite"),
        (10**30, "out of range"),
        (None, "RFC 3339"),
    ],
)
def test_bad_timestamps_say_what_is_wrong(raw: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        EventIn.model_validate({"timestamp": raw})
    assert fragment in str(exc.value)
    assert exc.value.errors()[0]["loc"] == ("timestamp",)


def test_format_is_rfc3339_utc_milliseconds() -> None:
    assert format_timestamp(datetime(2026, 1, 7, 17, 0, 0, 5000, tzinfo=UTC)) == "2026-01-07T17:00:00.005Z"


def test_unknown_fields_are_named() -> None:
    with pytest.raises(ValidationError) as exc:
        EventIn.model_validate({"timestamp": 1767805200000, "sessionId": "s"})
    assert exc.value.errors()[0]["loc"] == ("sessionId",)
    assert _error_types(exc.value) == {"extra_forbidden"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", "x" * 257),
        ("event_id", "has space"),
        ("trace_id", "a/b"),
        ("trace_id", "t" * 129),
        ("session_id", "s" * 257),
        ("session_id", "line\nbreak"),
        ("agent_id", ""),
        ("event_type", "Tool Call"),
        ("parent_event_id", "../etc"),
    ],
)
def test_id_limits(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        EventIn.model_validate({"timestamp": 1767805200000, field: value})
    assert exc.value.errors()[0]["loc"] == (field,)


def test_properties_depth_limit() -> None:
    nested: dict = {}
    node = nested
    for _ in range(MAX_PROPERTIES_DEPTH):
        node["k"] = {}
        node = node["k"]
    with pytest.raises(ValidationError) as exc:
        EventIn.model_validate({"timestamp": 1767805200000, "properties": nested})
    assert _error_types(exc.value) == {"too_deep"}
    # One level less is fine.
    EventIn.model_validate({"timestamp": 1767805200000, "properties": nested["k"]})


def test_lists_count_towards_depth() -> None:
    deep: list = []
    for _ in range(MAX_PROPERTIES_DEPTH + 1):
        deep = [deep]
    with pytest.raises(ValidationError) as exc:
        EventIn.model_validate({"timestamp": 1767805200000, "properties": {"a": deep}})
    assert _error_types(exc.value) == {"too_deep"}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (float("inf"), "non_finite_number"),
        (float("nan"), "non_finite_number"),
        (2**63, "integer_out_of_range"),
    ],
)
def test_properties_hold_only_storable_numbers(value: object, kind: str) -> None:
    with pytest.raises(ValidationError) as exc:
        EventIn.model_validate({"timestamp": 1767805200000, "properties": {"x": [1, {"y": value}]}})
    assert _error_types(exc.value) == {kind}


def test_event_size_limit_is_one_mebibyte() -> None:
    fits = "a" * (MAX_EVENT_BYTES - 20)
    EventIn.model_validate({"timestamp": 1767805200000, "properties": {"m": fits}})
    with pytest.raises(ValidationError) as exc:
        EventIn.model_validate({"timestamp": 1767805200000, "properties": {"m": fits + "é" * 20}})
    assert _error_types(exc.value) == {"event_too_large"}


def test_source_is_strict() -> None:
    event = EventIn.model_validate(
        {
            "timestamp": "2026-01-07T17:00:00Z",
            "source": {
                "system": "cloudwatch",
                "log_group": "/aws/lambda/a",
                "log_stream": "s",
                "log_id": "1",
            },
        }
    )
    assert event.source is not None and event.source.log_group == "/aws/lambda/a"
    with pytest.raises(ValidationError) as exc:
        EventIn.model_validate({"timestamp": "2026-01-07T17:00:00Z", "source": {"logGroup": "x"}})
    assert exc.value.errors()[0]["loc"] == ("source", "logGroup")
