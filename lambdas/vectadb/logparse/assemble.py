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
    # Set when the last line taken completes the group (or fills it): it is to be closed.
    done: bool = False

    def add(self, part: Part, text: str) -> None:
        self.parts.append(part)
        self.texts.append(text)
        self.size += len(text)

    @property
    def full(self) -> bool:
        return len(self.parts) >= MAX_LINES or self.size >= MAX_BYTES

    def take(self, part: Part, text: str, clean: str) -> bool:
        """Add the line if it continues this group; whether it did."""
        if self.kind == "json":
            self.add(part, text)
            self.depth += _depth_change(clean)
            self.done = self.depth <= 0 or self.full
            return True
        if self.kind == "panel":
            self.add(part, text)
            self.done = clean.startswith("╰") or self.full
            return True
        if self.kind == "traceback":
            return self._take_traceback(part, text, clean)
        if self.kind == "continuation" and text[:1] == " " and clean.startswith("│"):
            self.add(part, text)
            self.done = self.full
            return True
        return False

    def _take_traceback(self, part: Part, text: str, clean: str) -> bool:
        """A traceback goes on with indented frames, blank lines and chained tracebacks, and ends
        with its exception line."""
        if text[:1] in (" ", "\t", "\u00a0") or not clean or clean.startswith(_CHAINED):
            self.add(part, text)
            self.done = self.full
            return True
        if clean.startswith("Traceback (most recent call last):"):
            self.add(part, text)
            return True
        if _EXCEPTION_LINE.match(clean):
            self.add(part, text)
            self.done = True
            return True
        return False

    def message(self) -> str:
        """The group's parts as one message."""
        if len(self.parts) == 1:
            return self.parts[0].message  # a group of one is its line, as it came
        if self.wrapper is not None:
            text = "\n".join(self.texts)
            return json.dumps({**self.wrapper, "log": text + "\n"}, ensure_ascii=False)
        return "\n".join(self.texts) + "\n"


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
    assembler = _Assembler()
    for log_id, timestamp_ms, message in lines:
        assembler.add(Part(log_id, timestamp_ms, message))
    return assembler.finish()


@dataclass(slots=True)
class _Assembler:
    """One pass over a stream's lines: the records so far and what may still grow."""

    records: list[Record] = field(default_factory=list)
    group: _Group | None = None
    # The last single-line record, while a continuation could still join it.
    last_single: Record | None = None
    # A line ending in ":" that may introduce a JSON block on the next line.
    pending_header: tuple[Part, str, dict[str, Any] | None] | None = None

    def add(self, part: Part) -> None:
        text, wrapper = _inner(part.message)
        text = text.rstrip("\n")
        clean = ANSI.sub("", text).strip() if "\x1b" in text else text.strip()

        own = _is_own_record(text, clean)
        group = self.group
        if group is not None and _is_platform(clean):
            self._close()  # an invocation ends: what is open belongs to it
        elif group is not None and not own:
            if group.take(part, text, clean):
                if group.done:
                    self._close()
                return
            self._close()
        if own:
            # Never joins a group, never breaks one (an open group waits for its next part).
            self._flush_header()
            self._emit_single(part)
            self.last_single = None
            return
        self._start(part, text, clean, wrapper)

    def finish(self) -> list[Record]:
        self._flush_header()
        self._close()
        return _join_blank_lines(self.records)

    def _start(self, part: Part, text: str, clean: str, wrapper: dict[str, Any] | None) -> None:
        """A line that no group took: it opens a group, waits as a header, or is a record."""
        if _opens_json(clean):
            self._open_json(part, text, clean, wrapper)
            return
        self._flush_header()
        if self.group is not None:
            self._close()
        if clean.startswith("Traceback (most recent call last):"):
            self._open_traceback(part, text, wrapper)
        elif clean.startswith("╭"):
            self.group = _Group("panel", [], [], wrapper=wrapper)
            self.group.add(part, text)
        elif text[:1] == " " and clean.startswith("│") and self.last_single is not None:
            self._reopen(self.last_single, part, text)
        elif clean.endswith(":") and not clean.startswith("│"):
            # Perhaps the header of a JSON block on the next line (LangChain's debug output).
            self.pending_header = (part, text, wrapper)
        else:
            self.last_single = self._emit_single(part)
            return
        self.last_single = None  # the line is a group's or a header: a continuation does not join it

    def _open_json(self, part: Part, text: str, clean: str, wrapper: dict[str, Any] | None) -> None:
        """A JSON block, with the header line that introduced it if one waits."""
        if self.group is not None:
            self._close()
        group = self.group = _Group("json", [], [], wrapper=wrapper)
        if self.pending_header is not None:
            header_part, header_text, header_wrapper = self.pending_header
            group.add(header_part, header_text)
            group.wrapper = header_wrapper
            self.pending_header = None
        group.add(part, text)
        group.depth = _depth_change(clean)
        self.last_single = None

    def _open_traceback(self, part: Part, text: str, wrapper: dict[str, Any] | None) -> None:
        """A traceback, with the logging record it was written with (the line just before it)."""
        group = self.group = _Group("traceback", [], [], wrapper=wrapper)
        header = self.last_single
        if header is not None and 0 <= part.timestamp_ms - header.timestamp_ms <= _SAME_WRITE_MS:
            header_text, header_wrapper = _inner(header.message)
            if _LOGGING_HEADER.match(ANSI.sub("", header_text)):
                # logger.exception(...) / exc_info=True: the record's message line, then its
                # traceback, written at once; one record (with the message's level).
                self.records.pop()
                group.wrapper = header_wrapper
                group.add(Part(header.log_id, header.timestamp_ms, header.message), header_text.rstrip("\n"))
        group.add(part, text)

    def _reopen(self, previous: Record, part: Part, text: str) -> None:
        """Indented under the previous line: re-open it as a group of its own parts."""
        self.records.pop()
        first_text, first_wrapper = _inner(previous.message)
        self.group = _Group("continuation", [], [], wrapper=first_wrapper)
        self.group.add(
            Part(previous.log_id, previous.timestamp_ms, previous.message), first_text.rstrip("\n")
        )
        self.group.add(part, text)

    def _emit_single(self, part: Part) -> Record:
        record = Record(part.log_id, part.timestamp_ms, part.message, [part.log_id])
        self.records.append(record)
        return record

    def _close(self) -> None:
        group = self.group
        if group is None:
            return
        first = group.parts[0]
        self.records.append(
            Record(first.log_id, first.timestamp_ms, group.message(), [p.log_id for p in group.parts])
        )
        self.group = None

    def _flush_header(self) -> None:
        if self.pending_header is not None:
            self.last_single = self._emit_single(self.pending_header[0])
            self.pending_header = None


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
