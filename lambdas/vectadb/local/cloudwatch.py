"""CloudWatch Logs subscription payloads, built exactly as CloudWatch builds them.

The Lambda receives ``{"awslogs": {"data": base64(gzip(json))}}``; the JSON holds ``messageType``,
``owner``, ``logGroup``, ``logStream``, ``subscriptionFilters`` and ``logEvents`` of
``{id, timestamp, message}``. Used by the local feed and by the tests.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

_NEW_RECORD = re.compile(r"^\S")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::|$)")  # what closes a traceback: "pkg.SomeError: message"


def event_id(log_group: str, log_stream: str, index: int) -> str:
    """A 56-digit id as CloudWatch writes them, the same every time for a given line of a stream."""
    digest = int(hashlib.sha256(f"{log_group}\x1f{log_stream}\x1f{index}".encode()).hexdigest()[:46], 16)
    return f"{digest:056d}"[-56:]


def decoded_delivery(
    log_group: str,
    log_stream: str,
    events: Sequence[tuple[int, str]],
    *,
    owner: str = "123456789012",
    filter_name: str = "vectadb",
    first_index: int = 0,
    message_type: str = "DATA_MESSAGE",
) -> dict[str, Any]:
    return {
        "messageType": message_type,
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": [filter_name] if message_type == "DATA_MESSAGE" else [],
        "logEvents": [
            {"id": event_id(log_group, log_stream, first_index + i), "timestamp": ts, "message": message}
            for i, (ts, message) in enumerate(events)
        ],
    }


def encode(decoded: dict[str, Any]) -> dict[str, Any]:
    data = base64.b64encode(gzip.compress(json.dumps(decoded).encode())).decode()
    return {"awslogs": {"data": data}}


def control_message(log_group: str = "testLogGroup", log_stream: str = "testLogStream") -> dict[str, Any]:
    decoded = decoded_delivery(
        log_group, log_stream, [], owner="CloudwatchLogs", message_type="CONTROL_MESSAGE"
    )
    decoded["logEvents"] = [
        {
            "id": "",
            "timestamp": 1440442987000,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        }
    ]
    return encode(decoded)


def _continues(line: str, record: list[str], in_traceback: bool) -> bool:
    """Whether ``line`` belongs to the record before it, as one write of the program would."""
    if not record:
        return False
    if not _NEW_RECORD.match(line) or line.startswith("Traceback (most recent call last):"):
        return True  # indented frames; logging writes a message and its traceback as one record
    if in_traceback and _EXCEPTION_LINE.match(line):
        return True  # the exception line that closes a traceback
    # A ReAct step (Thought / Action / Action Input) is printed as one block.
    return line.startswith(("Action:", "Action Input:")) and record[0].startswith(("Thought:", "Action:"))


def log_records(lines: Iterable[str]) -> Iterator[str]:
    """Lines of a plain log file grouped into records, as a CloudWatch agent's multi-line setting
    would: a traceback stays with its message, and a ReAct step stays whole."""
    record: list[str] = []
    in_traceback = False
    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        if _continues(line, record, in_traceback):
            record.append(line)
            if line.startswith("Traceback (most recent call last):"):
                in_traceback = True
            elif in_traceback and _EXCEPTION_LINE.match(line):
                in_traceback = False
            continue
        if record:
            yield "\n".join(record)
        record = [line]
        in_traceback = "Traceback (most recent call last):" in line
    if record:
        yield "\n".join(record)
