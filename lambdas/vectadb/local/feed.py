"""Feed log files through the parser Lambda into a running VectaDB API.

    python -m vectadb.local.feed FILE [FILE ...] [--api-url http://127.0.0.1:8080] [--api-key KEY]
                           [--log-group NAME] [--log-stream NAME] [--dlq-dir ./.vectadb/dlq]

A FILE is a subscription event (``{"awslogs": {"data": ...}}``), a decoded delivery (the JSON with
``logEvents``), a list of either, or a plain log file: its lines are grouped into records
(tracebacks stay whole) and wrapped as CloudWatch would deliver them. Each delivery goes through
the real parser handler; what cannot be delivered lands in a local dead-letter directory.
Line ids are stable, so feeding a file again stores nothing twice.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from vectadb.core.config import ParserSettings
from vectadb.forwarder.forwarder_runtime import ForwarderRuntime, set_forwarder_runtime
from vectadb.local.cloudwatch import decoded_delivery, encode, log_records
from vectadb.local.context import LocalContext
from vectadb.local.queue import LocalQueue
from vectadb.logparse.times import parse_log_time

_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
DELIVERY_SIZE = 500


# The times a log line can hold, to move them all by one offset: ISO 8601 / logging text (date,
# separator, time, fraction, zone) and epoch numbers of 13 (ms) or 19 (ns) digits.
_SHIFTABLE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})(?P<sep>[T ])(?P<time>\d{2}:\d{2}:\d{2})(?P<rest>(?:[.,]\d+)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)|(?<![\d.-])(?P<epoch>1\d{12}(?:\d{6})?)(?![\d.])"
)


def _record_time(record: str) -> int | None:
    found = _TIME.search(record[:200])
    return parse_log_time(found.group(0)) if found else None


def latest_time(paths: list[Path]) -> int | None:
    """The latest time written in these log files, epoch ms."""
    times = [
        parse_log_time(int(m["epoch"]) if m["epoch"] else m.group(0))
        for path in paths
        for m in _SHIFTABLE.finditer(path.read_text())
    ]
    return max((t for t in times if t is not None), default=None)


def shift_times(text: str, offset_seconds: int) -> str:
    """Every time in ``text`` moved by whole seconds, written as it was (fractions, zones kept)."""

    def moved(match: re.Match[str]) -> str:
        if match["epoch"]:
            scale = 10**9 if len(match["epoch"]) == 19 else 10**3
            return str(int(match["epoch"]) + offset_seconds * scale)
        moment = datetime.fromisoformat(f"{match['date']}T{match['time']}") + timedelta(
            seconds=offset_seconds
        )
        return f"{moment:%Y-%m-%d}{match['sep']}{moment:%H:%M:%S}{match['rest']}"

    return _SHIFTABLE.sub(moved, text)


def deliveries(
    path: Path, log_group: str, log_stream: str | None, offset_seconds: int = 0
) -> Iterator[dict[str, Any]]:
    """Subscription events for one file; a plain log file's times moved by ``offset_seconds``."""
    text = path.read_text()
    if path.suffix == ".json":
        data = json.loads(text)
        for item in data if isinstance(data, list) else [data]:
            yield item if "awslogs" in item else encode(item)
        return
    stream = log_stream or path.stem
    text = shift_times(text, offset_seconds) if offset_seconds else text
    clock = int(time.time() * 1000)  # for records that carry no time of their own
    records: list[tuple[int, str]] = []
    for record in log_records(text.splitlines()):
        clock = _record_time(record) or clock
        records.append((clock, record))
    for start in range(0, len(records), DELIVERY_SIZE):
        chunk = records[start : start + DELIVERY_SIZE]
        yield encode(decoded_delivery(log_group, stream, chunk, first_index=start))


def feed(
    files: list[Path],
    api_url: str,
    api_key: str,
    *,
    log_group: str = "/vectadb/feed",
    log_stream: str | None = None,
    dlq_dir: Path = Path(".vectadb/dlq"),
    offset_seconds: int = 0,
) -> dict[str, int]:
    from parser.handler import handler

    queue = LocalQueue(dlq_dir)
    settings = ParserSettings(api_url=api_url, api_key=SecretStr(api_key), dlq_url=queue.url)
    previous = set_forwarder_runtime(ForwarderRuntime.from_settings(settings, sqs=queue))
    totals = {"deliveries": 0, "lines": 0, "events": 0, "accepted": 0, "duplicates": 0, "parked": 0}
    try:
        for path in files:
            group = f"{log_group}/{path.stem}"
            for event in deliveries(path, group, log_stream, offset_seconds):
                result = handler(event, LocalContext(function_name="vectadb-parser", timeout_ms=300_000))
                totals["deliveries"] += 1
                for key in ("lines", "events", "accepted", "duplicates", "parked"):
                    totals[key] += int(result.get(key, 0))
    finally:
        set_forwarder_runtime(previous)
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--api-url", default="http://127.0.0.1:8080")
    parser.add_argument(
        "--api-key", default=None, help="default: the key `make dev` keeps in .vectadb/dev-api-key"
    )
    parser.add_argument(
        "--log-group", default="/vectadb/feed", help="a prefix: each file becomes <prefix>/<name>"
    )
    parser.add_argument("--log-stream", default=None)
    parser.add_argument("--dlq-dir", type=Path, default=Path(".vectadb/dlq"))
    args = parser.parse_args(argv)
    key = args.api_key
    if key is None:
        key_file = Path(".vectadb/dev-api-key")
        if not key_file.exists():
            print("vectadb: pass --api-key, or run `make dev` first", file=sys.stderr)
            return 2
        key = key_file.read_text().strip()
    totals = feed(
        args.files,
        args.api_url,
        key,
        log_group=args.log_group,
        log_stream=args.log_stream,
        dlq_dir=args.dlq_dir,
    )
    print(json.dumps(totals))
    return 0 if totals["parked"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
