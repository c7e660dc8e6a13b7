"""Multi-line records put back together: consecutive CloudWatch events of one stream that one
logical record was cut into, because Lambda and Fluent Bit make an event of every line written.

Recognised (real shapes, see tests/fixtures/agent_logs):

- a JSON object or array printed with indentation (an OpenTelemetry console span, a LangChain
  debug block), with the header line that introduces it (``... Entering LLM run with input:``);
- a Python traceback printed to stdout or stderr, up to and with its exception line;
- a ``rich`` / box-drawing panel, from ``╭`` to ``╰`` (smolagents, CrewAI);
- continuation lines indented under the line they belong to (``             │ key=value``,
  Logfire's console).

Lines that are records of their own (a Lambda runtime line, a JSON record) never join a group and
never break one. Groups are bounded in lines and bytes; a group the delivery ends inside is cut
there, so the same delivery always assembles the same way (redeliveries stay idempotent). Nothing
is dropped or held back: every line ends up in exactly one record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

MAX_LINES = 400
MAX_BYTES = 256 * 1024

# Terminal colour codes (LangChain, CrewAI, rich): stripped before a line is read.
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?::|$)")
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
_FLUENT_BIT = '{"log":'
# A logging record's first line (basicConfig's "ERROR:name:msg", "2026-... ERROR msg", "[ERROR] msg").
_LOGGING_HEADER = re.compile(
    r"^(?:\[?\d{4}-\d{2}-\d{2}[T ][\d:.,]+\S*\]?\s+)?\[?"
    r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\]?[:\s]"
)
# The lines of one write (a record and its traceback) reach the log within a millisecond; a line
# further apart is a record of its own, printed before an unrelated traceback.
_SAME_WRITE_MS = 1


@dataclass(slots=True)
class Part:
    log_id: str
    timestamp_ms: int
    message: str


@dataclass(slots=True)
class Record:
    """One logical record: its first part's id and time, its text, and every part's id."""

    log_id: str
    timestamp_ms: int
    message: str
    log_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Group:
    kind: str  # json, traceback, panel, continuation
    parts: list[Part]
    texts: list[str]
    depth: int = 0
    size: int = 0
    wrapper: dict[str, Any] | None = None  # the Fluent Bit record of the first part

    def add(self, part: Part, text: str) -> None:
        self.parts.append(part)
        self.texts.append(text)
        self.size += len(text)

    @property
    def full(self) -> bool:
        return len(self.parts) >= MAX_LINES or self.size >= MAX_BYTES


def _inner(message: str) -> tuple[str, dict[str, Any] | None]:
    """The line a process wrote: Fluent Bit's ``log`` field, or the message itself."""
    if message.startswith(_FLUENT_BIT):
        try:
            wrapper = json.loads(message)
        except ValueError:
            return message, None
        if isinstance(wrapper, dict) and isinstance(wrapper.get("log"), str):
            return wrapper["log"], wrapper
    return message, None


def _depth_change(text: str) -> int:
    """How much a line opens (+) or closes (-) JSON brackets, outside strings."""
    if "{" not in text and "}" not in text and "[" not in text and "]" not in text:
        return 0
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth


def _opens_json(clean: str) -> bool:
    return clean in ("{", "[")


_RUNTIME = ("[INFO]\t", "[DEBUG]\t", "[WARNING]\t", "[ERROR]\t", "[CRITICAL]\t", "[TRACE]\t")
_PLATFORM = ("START RequestId:", "END RequestId:", "REPORT RequestId:", '{"time":')


def _is_platform(clean: str) -> bool:
    """A line of the Lambda service (an invocation's boundary): it closes any open group."""
    return clean.startswith(_PLATFORM)


def _is_own_record(text: str, clean: str) -> bool:
    """A line that is a record by itself: Lambda's runtime prefix or platform line, or a JSON
    record written at the start of the line (one indented is part of a printed block)."""
    return (
        clean.startswith(_RUNTIME)
        or _is_platform(clean)
        or (text.startswith("{") and clean.endswith("}") and len(clean) > 2)
    )


def assemble(lines: Iterable[tuple[str, int, str]]) -> list[Record]:
    """Records from (CloudWatch id, timestamp ms, message) lines of one stream, in order."""
    records: list[Record] = []
    group: _Group | None = None
    # The last single-line record, while a continuation could still join it.
    last_single: Record | None = None
    pending_header: tuple[Part, str, dict[str, Any] | None] | None = None

    def emit_single(part: Part) -> Record:
        record = Record(part.log_id, part.timestamp_ms, part.message, [part.log_id])
        records.append(record)
        return record

    def close() -> None:
        nonlocal group
        if group is None:
            return
        first = group.parts[0]
        if len(group.parts) == 1:
            message = first.message  # a group of one is its line, as it came
        elif group.wrapper is not None:
            text = "\n".join(group.texts)
            message = json.dumps({**group.wrapper, "log": text + "\n"}, ensure_ascii=False)
        else:
            message = "\n".join(group.texts) + "\n"
        records.append(Record(first.log_id, first.timestamp_ms, message, [p.log_id for p in group.parts]))
        group = None

    def flush_header() -> None:
        nonlocal pending_header, last_single
        if pending_header is not None:
            last_single = emit_single(pending_header[0])
            pending_header = None

    for log_id, timestamp_ms, message in lines:
        part = Part(log_id, timestamp_ms, message)
        text, wrapper = _inner(message)
        text = text.rstrip("\n")
        clean = ANSI.sub("", text).strip() if "\x1b" in text else text.strip()

        own = _is_own_record(text, clean)
        if group is not None and _is_platform(clean):
            close()  # an invocation ends: what is open belongs to it
        if group is not None and not own:
            if group.kind == "json":
                group.add(part, text)
                group.depth += _depth_change(clean)
                if group.depth <= 0 or group.full:
                    close()
                continue
            if group.kind == "panel":
                group.add(part, text)
                if clean.startswith("╰") or group.full:
                    close()
                continue
            if group.kind == "traceback":
                if text[:1] in (" ", "\t", "\u00a0") or not clean or clean.startswith(_CHAINED):
                    group.add(part, text)
                    if group.full:
                        close()
                    continue
                if clean.startswith("Traceback (most recent call last):"):
                    group.add(part, text)
                    continue
                if _EXCEPTION_LINE.match(clean):
                    group.add(part, text)
                    close()
                    continue
                close()
            elif group.kind == "continuation":
                if text[:1] == " " and clean.startswith("│"):
                    group.add(part, text)
                    if group.full:
                        close()
                    continue
                close()

        if own:
            # Never joins a group, never breaks one (an open group waits for its next part).
            flush_header()
            emit_single(part)
            last_single = None
            continue

        if _opens_json(clean):
            if group is not None:
                close()
            group = _Group("json", [], [], wrapper=wrapper)
            if pending_header is not None:
                header_part, header_text, header_wrapper = pending_header
                group.add(header_part, header_text)
                group.wrapper = header_wrapper
                pending_header = None
            group.add(part, text)
            group.depth = _depth_change(clean)
            last_single = None
            continue
        flush_header()
        if group is not None:
            close()
        if clean.startswith("Traceback (most recent call last):"):
            group = _Group("traceback", [], [], wrapper=wrapper)
            header = last_single
            if header is not None and 0 <= timestamp_ms - header.timestamp_ms <= _SAME_WRITE_MS:
                header_text, header_wrapper = _inner(header.message)
                if _LOGGING_HEADER.match(ANSI.sub("", header_text)):
                    # logger.exception(...) / exc_info=True: the record's message line, then its
                    # traceback, written at once; one record (with the message's level).
                    records.pop()
                    group.wrapper = header_wrapper
                    group.add(
                        Part(header.log_id, header.timestamp_ms, header.message), header_text.rstrip("\n")
                    )
            group.add(part, text)
            last_single = None
            continue
        if clean.startswith("╭"):
            group = _Group("panel", [], [], wrapper=wrapper)
            group.add(part, text)
            last_single = None
            continue
        if text[:1] == " " and clean.startswith("│") and last_single is not None:
            # Indented under the previous line: re-open it as a group of its own parts.
            records.pop()
            first_text, first_wrapper = _inner(last_single.message)
            group = _Group("continuation", [], [], wrapper=first_wrapper)
            first = Part(last_single.log_id, last_single.timestamp_ms, last_single.message)
            group.add(first, first_text.rstrip("\n"))
            group.add(part, text)
            last_single = None
            continue
        if clean.endswith(":") and not clean.startswith("│"):
            # Perhaps the header of a JSON block on the next line (LangChain's debug output).
            pending_header = (part, text, wrapper)
            last_single = None
            continue
        last_single = emit_single(part)
    flush_header()
    close()
    return _join_blank_lines(records)


def _is_blank(record: Record) -> bool:
    return len(record.log_ids) == 1 and not _inner(record.message)[0].strip()


def _join_blank_lines(records: list[Record]) -> list[Record]:
    """An empty line written with a record ("\n\n> Entering new AgentExecutor chain...", a
    print's trailing newlines) is part of it: its id joins the record's ids (it is kept, not
    dropped), and it makes no event of its own. An empty line written apart stays a record."""
    if not any(_is_blank(record) for record in records):
        return records
    joined: list[Record] = []
    waiting: list[Record] = []  # blank lines that the next record may take
    for record in records:
        if _is_blank(record):
            previous = joined[-1] if joined and not waiting else None
            if (
                previous is not None
                and 0 <= record.timestamp_ms - previous.timestamp_ms <= _SAME_WRITE_MS
                and not _is_platform(previous.message)
            ):
                previous.log_ids.append(record.log_id)
            else:
                waiting.append(record)
            continue
        takes = [
            blank
            for blank in waiting
            if 0 <= record.timestamp_ms - blank.timestamp_ms <= _SAME_WRITE_MS
            and not _is_platform(record.message)
        ]
        joined.extend(blank for blank in waiting if blank not in takes)
        if takes:
            first = takes[0]
            record = Record(
                first.log_id, first.timestamp_ms, record.message, [b.log_id for b in takes] + record.log_ids
            )
        waiting = []
        joined.append(record)
    joined.extend(waiting)
    return joined
