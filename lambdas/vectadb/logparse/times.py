"""Timestamps as log lines write them, to epoch milliseconds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def parse_log_time(value: object) -> int | None:
    """Epoch milliseconds from ISO 8601 / RFC 3339 text (also ``2026-01-07 17:00:00,123+0000`` as
    Python's logging writes it) or an epoch number in s, ms, µs or ns. None when unreadable.
    A time without a zone is taken as UTC.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        magnitude = abs(value)
        if magnitude >= 1e17:
            return int(value // 1_000_000)
        if magnitude >= 1e14:
            return int(value // 1_000)
        if magnitude >= 1e11:
            return int(value)
        if magnitude >= 1e8:
            return int(value * 1000)
        return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit():
        return parse_log_time(int(text))
    match = _ISO.match(text)
    if match is None:
        return None
    try:  # in C, for every shape the pattern admits that Python's own parser reads
        moment = datetime.fromisoformat(text)
    except ValueError:
        pass  # a lower-case z, a space before the zone, a leap second, ...
    else:
        # Cut to the millisecond, not rounded, as CloudWatch's own timestamps are: a line of
        # 10:00:00.9996 happened in that millisecond, not the next.
        return (moment.replace(tzinfo=moment.tzinfo or UTC) - _EPOCH) // _MILLISECOND
    return _from_groups(match)


def _from_groups(match: re.Match[str]) -> int | None:
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError:
        return None
    ms = int(moment.timestamp()) * 1000 + (int((fraction or "0")[:3].ljust(3, "0")))
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        ms += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * 1000
    return ms
