"""Log lines to agent events, in steps: assemble the records that were cut into lines
(``assemble.py``), frame them (Lambda's runtime and platform lines, Lambda's JSON format, Fluent
Bit's wrapper), recognise them (a JSON record through one classifier, ``_classify_record``; a
text line through the regex rules and framework profiles; else a fallback event), normalise them,
and attribute them (the Lambda request, an explicit session, an OpenTelemetry trace, a framework's
run markers).

No AWS shapes here: a delivery is its log group, stream and owner, and lines with their
CloudWatch id and timestamp. The normalisation, shared by every path, is documented in docs/parser.md:

| field | taken from |
|---|---|
| session_id | session_id, sessionId, session, conversation_id, thread_id, gen_ai.conversation.id; else the Lambda request id, else the X-Ray trace id |
| agent_id | agent_id, agent, gen_ai.agent.id, gen_ai.agent.name |
| properties.tool_name | tool, tool_name, gen_ai.tool.name |
| properties.tool_input | input, tool_input, arguments, gen_ai.tool.call.arguments |
| properties.level | the log level |
"""  # noqa: E501 - a table

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vectadb.core import jsoncodec
from vectadb.core.ids import log_event_id
from vectadb.logparse.assemble import ANSI, assemble
from vectadb.logparse.redaction import Redactor
from vectadb.logparse.rules import FIELD_GROUPS, RuleSet
from vectadb.logparse.times import parse_log_time

SESSION_KEYS = (
    "session_id",
    "sessionId",
    "session",
    "conversation_id",
    "thread_id",
    "gen_ai.conversation.id",
)
AGENT_KEYS = ("agent_id", "agent", "gen_ai.agent.id", "gen_ai.agent.name")
TOOL_KEYS = ("tool_name", "tool", "gen_ai.tool.name")
INPUT_KEYS = ("tool_input", "input", "arguments", "gen_ai.tool.call.arguments")
LEVEL_KEYS = ("level", "levelname", "severity", "severity_text", "severityText", "SeverityText", "log.level")
TIME_KEYS = ("timestamp", "time", "@timestamp", "ts", "timeUnixNano", "observedTimeUnixNano", "asctime")
MESSAGE_KEYS = ("message", "msg", "body", "Body")
TYPE_KEYS = ("event_type", "type")
REQUEST_KEYS = ("requestId", "function_request_id", "aws_request_id", "AWSRequestId")
XRAY_KEYS = ("xray_trace_id", "_X_AMZN_TRACE_ID", "traceId", "trace_id")
GEN_AI_OPERATIONS = {
    "execute_tool": "tool_call",
    "chat": "llm_call",
    "text_completion": "llm_call",
    "generate_content": "llm_call",
    "invoke_agent": "agent_start",
}
ERROR_LEVELS = frozenset({"ERROR", "CRITICAL", "FATAL", "EMERGENCY", "ALERT"})
LEVELS = frozenset({"TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", *ERROR_LEVELS})
# Keys of Lambda's JSON log format and of Powertools Logger that describe the runtime, not the agent.
RUNTIME_KEYS = frozenset(
    {
        "requestId",
        "function_request_id",
        "xray_trace_id",
        "cold_start",
        "function_arn",
        "function_memory_size",
        "function_name",
        "sampling_rate",
        "location",
        "logger",
    }
)
_TEXT_PREFIX = re.compile(
    r"^(?:\[?(?P<time>\d{4}-\d{2}-\d{2}[T ][\d:.,]+(?:Z|[+-]\d{2}:?\d{2})?)\]?\s+)?\[?"
    r"(?P<level>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL)\]?(?::|\s+-?\s*)"
    # logging.basicConfig's "INFO:httpx:HTTP Request: ..." also names its logger
    r"(?:(?<=:)(?P<logger>[A-Za-z_][\w.]*):(?=\S))?"
)  # upper case only: "info about ..." is prose, "INFO ..." is a level
_XRAY = re.compile(r"(?:Root=)?(1-[0-9a-f]{8}-[0-9a-f]{24})")
_REPORT_FIELDS = {
    "Status": "status",
    "Error Type": "error_type",
    "Duration": "duration_ms",
    "Billed Duration": "billed_duration_ms",
    "Memory Size": "memory_size_mb",
    "Max Memory Used": "max_memory_used_mb",
    "Init Duration": "init_duration_ms",
}
_REPORT_METRICS = {
    "durationMs": "duration_ms",
    "billedDurationMs": "billed_duration_ms",
    "memorySizeMB": "memory_size_mb",
    "maxMemoryUsedMB": "max_memory_used_mb",
    "initDurationMs": "init_duration_ms",
}
_PLATFORM_NOISE = ("INIT_START", "INIT_REPORT", "INIT_RUNTIME_DONE", "EXTENSION", "TELEMETRY", "RESTORE_")
_PLATFORM_INITIALS = frozenset("SERIT")  # START, END, REPORT, INIT_*, EXTENSION, TELEMETRY, RESTORE_*
_NOT_PROPERTIES = frozenset(
    {*SESSION_KEYS, *AGENT_KEYS, *TYPE_KEYS, *LEVEL_KEYS, *TIME_KEYS, *RUNTIME_KEYS, *MESSAGE_KEYS}
)
# Record types that agent libraries log, by their letters in lower case -> the vocabulary.
_STRUCTURED_TYPES = {
    "toolcall": "tool_call",
    "functioncall": "tool_call",
    "toolcallrequested": "tool_call",
    "toolcallrequestevent": "tool_call",
    "toolcallresult": "tool_result",
    "toolresult": "tool_result",
    "toolcallexecutionevent": "tool_result",
    "llmcall": "llm_call",
    "llmcallevent": "llm_call",
    "llmstart": "llm_call",
}
_USAGE_CONTAINERS = frozenset({"token_usage", "usage_metadata", "usage", "llm_output"})
_MAX_OUTPUT_SCAN = 256 * 1024
_EXCEPTION_KEYS = ("exception", "exc_info", "stack_trace", "stackTrace", "traceback", "exception_name")
_MODEL_KEYS = ("model", "gen_ai.request.model", "gen_ai.response.model", "model_name", "modelId")
_TOKEN_KEYS = (
    "prompt_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "usage",
)
# The normalised names of an LLM call's properties, and where libraries put them.
_LLM_FIELDS = (
    ("model", _MODEL_KEYS),
    ("input_tokens", ("input_tokens", "prompt_tokens", "gen_ai.usage.input_tokens", "inputTokens")),
    ("output_tokens", ("output_tokens", "completion_tokens", "gen_ai.usage.output_tokens", "outputTokens")),
    ("total_tokens", ("total_tokens", "totalTokens")),
    ("cost_usd", ("cost_usd", "cost")),
)
_GEN_AI_USAGE = (
    ("gen_ai.request.model", "model"),
    ("gen_ai.usage.input_tokens", "input_tokens"),
    ("gen_ai.usage.output_tokens", "output_tokens"),
)
_NODE_INVOKE_ERROR = "Invoke Error "
_RUNTIME_ERROR = re.compile(r"\[ERROR\] (?P<type>[A-Za-z_][\w.]*)(?::[ \t]*(?P<error>[^\n]*))?(?:\n|\Z)")
_TIMEOUT = re.compile(r"Task timed out after (?P<seconds>[\d.]+) seconds")
_MARGIN = re.compile(r"\n[ \t]*│[ \t]?")
_MAX_ORPHANS = 1000  # lines kept for a span to claim, per delivery
_MAX_JSON_DEPTH = 3  # a JSON message inside a JSON record inside a Fluent Bit wrapper
_KUBERNETES_KEYS = ("namespace_name", "pod_name", "container_name", "host", "labels")


@dataclass(frozen=True)
class ParserOptions:
    drop_start_end: bool = True
    session_from_log_stream: bool = False


@dataclass(slots=True)
class Delivery:
    """One subscription delivery: every line comes from one log stream, in order."""

    log_group: str
    log_stream: str
    owner: str | None = None
    # Lambda runs one request at a time per stream: lines without a prefix (print) belong to the
    # request that the last START or prefixed line named.
    request_id: str | None = None
    xray_trace_id: str | None = None
    # The explicit session a request's lines named: its later lines (print, REPORT) join it.
    sessions: dict[str, str] = field(default_factory=dict)
    # Set when a START line named the request: lines before it belong to an earlier invocation.
    started: bool = False
    # Outside Lambda: the run that a framework's start marker opened, and how deep it is nested.
    run_id: str | None = None
    run_depth: int = 0
    # Whether the last line parsed named its session itself (else it came from a fallback).
    session_named: bool = False
    # The model each run (by session) last named: the model of its LLM calls that do not say it.
    models: dict[str, str] = field(default_factory=dict)
    # Per run: its last LLM call that said no tokens, and the token totals it last printed.
    open_calls: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_totals: dict[str, tuple[int, int]] = field(default_factory=dict)
    # Events that the last line made besides its own (one per tool call it held).
    derived: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ParseStats:
    lines: int = 0
    dropped: int = 0  # START/END and other platform lines
    filtered: int = 0  # include/exclude
    methods: Counter[str] = field(default_factory=Counter)  # json, regex, fallback, platform
    redacted: int = 0

    @property
    def events(self) -> int:
        return sum(self.methods.values())


@dataclass(slots=True)
class _Extract:
    """What one line said, before normalisation."""

    fields: dict[str, Any]
    message: str | None
    level: str | None = None
    time_ms: int | None = None
    event_type: str | None = None
    method: str = "fallback"
    # Tool calls that the line holds besides its own event: (name, input, call id).
    tool_calls: list[tuple[str, Any, str | None]] | None = None


_DROP = object()


class LogParser:
    def __init__(
        self, rules: RuleSet, options: ParserOptions | None = None, redactor: Redactor | None = None
    ) -> None:
        self.rules = rules
        self.options = options or ParserOptions()
        self.redactor = redactor if redactor is not None else Redactor(rules.redact)

    # -- entry points ------------------------------------------------------------------------

    def parse_delivery(
        self, delivery: Delivery, lines: Iterable[tuple[str, int, str]]
    ) -> tuple[list[dict[str, Any]], ParseStats]:
        """Events for ``lines`` of (CloudWatch id, timestamp ms, message), in order, with counts."""
        stats = ParseStats()
        redacted_before = self.redactor.count
        events = []
        # A delivery can begin in the middle of an invocation: its first lines (print output, a
        # library's own handler) name no request. Lambda runs one invocation at a time per stream,
        # so they belong to the request that the next marker names, unless that marker is a
        # START (then they ended an earlier invocation that this delivery does not name).
        # Each with whether the line named its own session (which outranks the invocation's).
        unattributed: list[tuple[dict[str, Any], bool]] | None = [] if delivery.request_id is None else None
        # Outside Lambda, lines that no run claims yet: a span printed later may cover them.
        orphans: list[dict[str, Any]] = []
        for record in assemble(lines):
            delivery.started = False
            event = self.parse_line(delivery, record.log_id, record.timestamp_ms, record.message, stats)
            stats.lines += len(record.log_ids) - 1
            if event is not None and len(record.log_ids) > 1:
                event["properties"]["log_ids"] = record.log_ids  # every part, the first is log_id
            if unattributed is not None and delivery.request_id is not None:
                if not delivery.started:
                    _attribute(unattributed, delivery)
                unattributed = None
            if event is not None:
                made = [event, *delivery.derived] if delivery.derived else [event]
                delivery.derived.clear()
                events.extend(made)
                if unattributed is not None:
                    unattributed.extend((item, delivery.session_named) for item in made)
                if delivery.request_id is None:
                    _claim_by_span(event, orphans)
                    orphans.extend(item for item in made if "session_id" not in item)
                    del orphans[:-_MAX_ORPHANS]
        stats.redacted = self.redactor.count - redacted_before
        return events, stats

    def parse_line(
        self,
        delivery: Delivery,
        log_id: str,
        timestamp_ms: int,
        message: str,
        stats: ParseStats | None = None,
    ) -> dict[str, Any] | None:
        stats = stats if stats is not None else ParseStats()
        stats.lines += 1
        if not self.rules.admits(message):
            stats.filtered += 1
            return None
        # Redact the line once, before it is taken apart: every value below comes from it.
        extract = self._extract(delivery, self.redactor.text(message.rstrip("\n")), 0)
        if extract is _DROP:
            stats.dropped += 1
            return None
        assert isinstance(extract, _Extract)
        stats.methods[extract.method] += 1
        return self._event(delivery, log_id, timestamp_ms, extract)

    # -- extraction --------------------------------------------------------------------------

    def _extract(self, delivery: Delivery, text: str, depth: int) -> _Extract | object:
        first = text[:1]
        if (first == "{" or (first.isspace() and text.lstrip().startswith("{"))) and depth < _MAX_JSON_DEPTH:
            record = _json_object(text.strip())
            if record is not None:
                return self._from_record(delivery, record, depth)
        if first in _PLATFORM_INITIALS:
            platform = self._platform_text(delivery, text)
            if platform is not None:
                return platform
        failure = _invocation_failure(text)
        if failure is not None:
            return failure
        level, time_ms, body = self._runtime_prefix(delivery, text)
        if body.startswith(_NODE_INVOKE_ERROR):
            invoke_error = self._node_invoke_error(delivery, body, level, time_ms, depth)
            if invoke_error is not None:
                return invoke_error
        if body is not text:
            return _under_prefix(self._extract(delivery, body, depth + 1), level, time_ms)
        if "{" in text[:120] and depth < _MAX_JSON_DEPTH:
            logged = self._logged_record(delivery, text, depth)
            if logged is not None:
                return logged
        return self._from_text(text, level, time_ms)

    def _node_invoke_error(
        self, delivery: Delivery, body: str, level: str | None, time_ms: int | None, depth: int
    ) -> _Extract | object | None:
        """Node's runtime reports an uncaught exception as ``Invoke Error {"errorType": ...}``: the
        invocation failed. None when what follows is not a JSON record."""
        record = _json_object(body[len(_NODE_INVOKE_ERROR) :].strip())
        if record is None:
            return None
        extract = self._from_record(delivery, record, depth + 1)
        if isinstance(extract, _Extract):
            extract.level, extract.time_ms, extract.message = level or "ERROR", time_ms, body
            extract.event_type = "agent_error"  # the runtime's report: the invocation failed
        return extract

    def _logged_record(self, delivery: Delivery, text: str, depth: int) -> _Extract | object | None:
        """A JSON record after a logging prefix:  INFO:autogen_core.events:{"type": "LLMCall", ...};
        None when the text is not one."""
        prefix = _TEXT_PREFIX.match(text)
        if prefix is None or text[prefix.end() : prefix.end() + 1] != "{":
            return None
        record = _json_object(text[prefix.end() :].strip())
        if record is None:
            return None
        extract = self._from_record(delivery, record, depth + 1)
        if isinstance(extract, _Extract):
            extract.level = extract.level or prefix.group("level").upper()
            extract.time_ms = extract.time_ms or parse_log_time(prefix.group("time") or "")
        return extract

    def _from_text(self, text: str, level: str | None, time_ms: int | None) -> _Extract:
        clean = ANSI.sub("", text) if "\x1b" in text else text
        if level is None:
            prefix = _TEXT_PREFIX.match(clean)
            if prefix is not None:  # "2026-01-07T17:00:00Z WARNING message", "ERROR: message"
                level = prefix.group("level").upper()
                time_ms = time_ms or parse_log_time(prefix.group("time") or "")
                clean = clean[prefix.end() :]
        found = self.rules.first_match(clean)
        if found is None:
            return _Extract({}, clean, level, time_ms, None, "fallback")
        rule, match = found
        extract = _Extract({}, clean, level, time_ms, rule.event_type, "regex")
        extract.fields["rule"] = rule.name
        for group, value in match.groupdict().items():
            if value is None:
                continue
            if group in FIELD_GROUPS:
                if group == "timestamp":
                    extract.time_ms = parse_log_time(value) or extract.time_ms
                elif group == "level":
                    extract.level = value.upper()
                elif group == "message":
                    extract.message = value
                else:
                    extract.fields[group] = value
                continue
            name = rule.properties.get(group, group)
            extract.fields[name] = _literal(value) if name in INPUT_KEYS else _number(value)
        if rule.tool_calls:
            extract.tool_calls = _tool_calls_in(clean)
        if "is_error" in extract.fields:  # a tool result that says whether it failed
            failed = extract.fields["is_error"] = extract.fields["is_error"] in ("True", "true")
            if failed:
                extract.level = extract.level or "ERROR"
        return extract

    def _from_record(self, delivery: Delivery, record: dict[str, Any], depth: int) -> _Extract | object:
        kind = record.get("type")
        if isinstance(kind, str) and kind.startswith("platform."):
            return self._platform_record(delivery, record, kind)
        inner_log = record.get("log")
        if isinstance(inner_log, str) and ("kubernetes" in record or "stream" in record):
            return self._from_fluent_bit(delivery, record, inner_log, depth)
        flat = dict(record)
        attributes = flat.pop("attributes", None)
        if isinstance(attributes, dict):  # an OpenTelemetry log record or span
            flat.update(attributes)
        span_time = _otel_ids(record, flat)
        message = _record_message(flat, depth)
        extract = _Extract(flat, message if isinstance(message, str) else None, method="json")
        level = _first(flat, LEVEL_KEYS)
        extract.level = level.upper() if isinstance(level, str) else None
        # A span is printed when it ends: place it where it started.
        extract.time_ms = span_time if span_time is not None else _record_time(flat)
        extract.event_type = _classify_record(flat, message, extract.level)
        request_id = _first(flat, REQUEST_KEYS)
        if isinstance(request_id, str):
            delivery.request_id = request_id
        xray = _xray(_first(flat, XRAY_KEYS))
        if xray:
            delivery.xray_trace_id = xray
        if extract.event_type is None and extract.message:
            self._message_by_rules(extract, extract.message)
        return extract

    def _from_fluent_bit(
        self, delivery: Delivery, record: dict[str, Any], inner_log: str, depth: int
    ) -> _Extract | object:
        """Fluent Bit / Kubernetes: the container's own line is inside "log"; the wrapper adds
        where it ran and, when the line says no time, when it was read."""
        inner = self._extract(delivery, inner_log.rstrip("\n"), depth + 1)
        if isinstance(inner, _Extract):
            k8s = record.get("kubernetes")
            if isinstance(k8s, dict):
                inner.fields["kubernetes"] = {key: k8s[key] for key in _KUBERNETES_KEYS if key in k8s}
            inner.time_ms = inner.time_ms or parse_log_time(record.get("time"))
        return inner

    def _message_by_rules(self, extract: _Extract, message: str) -> None:
        """A structured log that no field classified, whose message is a shape the rules know
        (LangChain output, ...): the rule's type and fields."""
        by_rule = self._from_text(message, extract.level, extract.time_ms)
        if by_rule.method == "regex":
            extract.fields = {**extract.fields, **by_rule.fields}
            extract.event_type = by_rule.event_type

    # -- Lambda ------------------------------------------------------------------------------

    def _runtime_prefix(self, delivery: Delivery, text: str) -> tuple[str | None, int | None, str]:
        """Python's ``[LEVEL]\\t<time>\\t<request id>\\t<message>`` or Node's
        ``<time>\\t<request id>\\t<LEVEL>\\t<message>``; anything else comes back unchanged."""
        if "\t" not in text:
            return None, None, text
        parts = text.split("\t", 3)
        if len(parts) < 4:
            return None, None, text
        first, second, third, body = parts
        if first.startswith("[") and first.endswith("]") and first[1:-1].upper() in LEVELS:
            level, time_text, request_id = first[1:-1].upper(), second, third
        elif third.upper() in LEVELS:
            level, time_text, request_id = third.upper(), first, second
        else:
            return None, None, text
        time_ms = parse_log_time(time_text)
        if time_ms is None:
            return None, None, text
        if len(request_id) >= 8 and request_id != "undefined":
            delivery.request_id = request_id
        return level, time_ms, body

    def _platform_text(self, delivery: Delivery, text: str) -> _Extract | object | None:
        if text.startswith("START RequestId: "):
            delivery.request_id = text[17:].split()[0] if len(text) > 17 else delivery.request_id
            delivery.started = True
            return (
                _DROP
                if self.options.drop_start_end
                else _Extract({}, text, method="platform", event_type="log")
            )
        if text.startswith("END RequestId: "):
            delivery.request_id = text[15:].split()[0] if len(text) > 15 else delivery.request_id
            return (
                _DROP
                if self.options.drop_start_end
                else _Extract({}, text, method="platform", event_type="log")
            )
        if text.startswith("REPORT RequestId: "):
            fields: dict[str, Any] = {}
            for part in text.split("\t"):
                key, _, value = part.strip().partition(": ")
                if key == "REPORT RequestId":
                    delivery.request_id = value.strip()
                elif key in _REPORT_FIELDS:
                    fields[_REPORT_FIELDS[key]] = _number(value.split()[0])
                elif key.endswith("XRAY TraceId"):
                    delivery.xray_trace_id = value.strip()
            return _Extract(fields, text, method="platform", event_type=_report_type(fields.get("status")))
        if text.startswith(_PLATFORM_NOISE) and self.options.drop_start_end:
            return _DROP
        return None

    def _platform_record(self, delivery: Delivery, record: dict[str, Any], kind: str) -> _Extract | object:
        body = record.get("record")
        body = body if isinstance(body, dict) else {}
        request_id = body.get("requestId")
        if isinstance(request_id, str):
            delivery.request_id = request_id
        tracing = body.get("tracing")
        if isinstance(tracing, dict):
            delivery.xray_trace_id = _xray(tracing.get("value")) or delivery.xray_trace_id
        time_ms = parse_log_time(record.get("time"))
        if kind == "platform.report":
            metrics = body.get("metrics")
            metrics = metrics if isinstance(metrics, dict) else {}
            fields = {name: metrics[key] for key, name in _REPORT_METRICS.items() if key in metrics}
            for key in ("status", "errorType"):
                if key in body:
                    fields["error_type" if key == "errorType" else key] = body[key]
            return _Extract(
                fields,
                None,
                time_ms=time_ms,
                method="platform",
                event_type=_report_type(fields.get("status")),
            )
        if kind == "platform.start":
            delivery.started = True
        if self.options.drop_start_end:
            return _DROP
        return _Extract(
            {"platform": kind, **body}, None, time_ms=time_ms, method="platform", event_type="log"
        )

    # -- normalisation -----------------------------------------------------------------------

    def _event(self, delivery: Delivery, log_id: str, timestamp_ms: int, extract: _Extract) -> dict[str, Any]:
        fields = extract.fields
        properties = _properties(extract)
        event_type = _event_type(delivery, extract)
        if event_type == "llm_call":
            _normalise_llm(properties, fields)
        session = agent = None
        if fields:  # text lines have few fields or none: skip the lookups
            _gen_ai_usage(properties, fields)
            session = _first(fields, SESSION_KEYS)
            agent = _first(fields, AGENT_KEYS)
        session = self._session(delivery, log_id, event_type, fields, session)
        _run_context(delivery, session or "", event_type, properties)
        _invocation_properties(delivery, properties)
        event: dict[str, Any] = {
            "timestamp": _event_time(extract.time_ms, timestamp_ms, properties),
            "event_type": event_type,
            "properties": properties,
            "source": {
                "system": "cloudwatch",
                "log_group": delivery.log_group,
                "log_stream": delivery.log_stream,
                "log_id": log_id,
            },
        }
        if delivery.owner:
            event["source"]["owner"] = delivery.owner
        if "otel_span_id" in fields:
            _span_identity(event, fields)
        if session:
            event["session_id"] = session[:256]
        if isinstance(agent, str | int) and str(agent):
            event["agent_id"] = str(agent)[:256]
        if extract.tool_calls:
            delivery.derived = _tool_call_events(event, extract.tool_calls)
        return event

    def _session(
        self, delivery: Delivery, log_id: str, event_type: str, fields: dict[str, Any], named: Any
    ) -> str | None:
        """The session the line named (its request's later lines join it), else the one its context
        gives it."""
        session = str(named) if isinstance(named, str | int) and not isinstance(named, bool) else None
        delivery.session_named = bool(session)
        if session and delivery.request_id:
            delivery.sessions[delivery.request_id] = session
        elif not session:
            session = self._context_session(delivery, log_id, event_type, fields)
        return session

    def _context_session(
        self, delivery: Delivery, log_id: str, event_type: str, fields: dict[str, Any]
    ) -> str | None:
        """The session of a line that names none, first found: its request's explicit session, the
        request itself, the X-Ray trace, the OpenTelemetry trace, the framework's run, the stream
        (if the options say so)."""
        session = delivery.sessions.get(delivery.request_id or "") or delivery.request_id
        session = session or delivery.xray_trace_id or _otel_session(fields)
        if session is None:
            session = _run_session(delivery, log_id, event_type)
        if session is None and self.options.session_from_log_stream:
            session = delivery.log_stream
        return session


# -- helpers ---------------------------------------------------------------------------------


def _under_prefix(extract: _Extract | object, level: str | None, time_ms: int | None) -> _Extract | object:
    """A line inside a runtime's prefix: the prefix's level and time, unless the line says its own."""
    if isinstance(extract, _Extract):
        extract.level = extract.level or level
        extract.time_ms = extract.time_ms or time_ms
    return extract


def _record_message(flat: dict[str, Any], depth: int) -> Any:
    """A record's message. A message that is itself a record (Powertools' ``logger.info({...})``,
    a JSON string) is merged into ``flat``: its own message, if it has one, is the message."""
    message = _first(flat, MESSAGE_KEYS)
    if isinstance(message, dict):  # Powertools: logger.info({...})
        flat.update(message)
        return None
    if isinstance(message, str) and message.lstrip().startswith("{") and depth + 1 < _MAX_JSON_DEPTH:
        nested = _json_object(message.strip())
        if nested is not None:
            flat.update(nested)
            return _first(nested, MESSAGE_KEYS)
    return message


def _record_time(flat: Mapping[str, Any]) -> int | None:
    """A record's time: the first of its time fields that reads as one."""
    for key in TIME_KEYS:
        value = flat.get(key)
        if value is not None:
            time_ms = parse_log_time(value)
            if time_ms is not None:
                return time_ms
    return None


def _properties(extract: _Extract) -> dict[str, Any]:
    """The event's properties: the line's fields but those the event holds elsewhere (session,
    agent, type, time, the runtime's), tools under one set of names, the message and the level."""
    fields = extract.fields
    properties = {key: value for key, value in fields.items() if key not in _NOT_PROPERTIES}
    if fields:
        for name, keys in (("tool_name", TOOL_KEYS), ("tool_input", INPUT_KEYS)):
            value = _first(fields, keys)
            if value is not None:
                properties[name] = value
                properties.pop(keys[1], None)  # the short alias ("tool", "input") says the same
    if extract.message is not None:
        properties["message"] = extract.message
    level = extract.level
    if level:
        properties["level"] = "WARNING" if level == "WARN" else level
    return properties


def _event_type(delivery: Delivery, extract: _Extract) -> str:
    """The line's event type; a line that says none is an error or a log, by its level."""
    event_type = extract.event_type
    if event_type is None:
        return "error" if extract.level in ERROR_LEVELS else "log"
    if event_type == "error" and _interpreter_crash(delivery, extract):
        return "agent_error"
    return event_type


def _interpreter_crash(delivery: Delivery, extract: _Extract) -> bool:
    """Outside Lambda, a traceback that no logger printed is the interpreter's last words: the run
    crashed. (In Lambda, the runtime's own report says so.)"""
    return (
        extract.level is None
        and extract.fields.get("rule") == "python_traceback"
        and delivery.request_id is None
        and not delivery.log_group.startswith("/aws/lambda/")
    )


def _gen_ai_usage(properties: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """OpenTelemetry GenAI's model and token counts, under the names of an LLM call's, unless the
    properties already have them."""
    for key, name in _GEN_AI_USAGE:
        if key in fields and name not in properties:
            properties[name] = fields[key]


def _invocation_properties(delivery: Delivery, properties: dict[str, Any]) -> None:
    """The Lambda request and X-Ray trace the line was written in, unless the line named its own."""
    if delivery.request_id and "request_id" not in properties:
        properties["request_id"] = delivery.request_id
    if delivery.xray_trace_id and "xray_trace_id" not in properties:
        properties["xray_trace_id"] = delivery.xray_trace_id


def _event_time(time_ms: int | None, timestamp_ms: int, properties: dict[str, Any]) -> int:
    """The event's time: the line's own, unless CloudWatch's ``timestamp_ms`` is more precise, or
    the line has none or one out of range (kept as ``line_timestamp_ms``)."""
    if time_ms is not None and time_ms % 1000 == 0 and 0 <= timestamp_ms - time_ms < 1000:
        # A whole-second time (Lambda's JSON format, many loggers) that CloudWatch's agrees
        # with: CloudWatch's milliseconds are the more precise, and keep the lines in order.
        time_ms = timestamp_ms
    if time_ms is None or time_ms > timestamp_ms + 300_000 or time_ms < 946_684_800_000:
        # No time in the line, or one the API would refuse (a zone-less local time, ...):
        # CloudWatch's own timestamp is right, and the line's is kept.
        if time_ms is not None:
            properties["line_timestamp_ms"] = time_ms
        time_ms = timestamp_ms
    return time_ms


def _span_identity(event: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """An OpenTelemetry span's event id and parent, or the span a log record was written in."""
    span = fields.get("otel_span_id")
    if span and "duration_ms" in fields:
        # A span is its own identity (redelivered or printed twice, it is one event), and its
        # parent span is its cause: a causedBy edge.
        event["event_id"] = f"otel:{fields['otel_trace_id']}:{span}"
        if fields.get("otel_parent_span_id"):
            event["parent_event_id"] = f"otel:{fields['otel_trace_id']}:{fields['otel_parent_span_id']}"
    elif span and fields.get("otel_trace_id"):
        event["parent_event_id"] = f"otel:{fields['otel_trace_id']}:{span}"  # the span it was logged in


def _hex_id(value: Any, length: int) -> str | None:
    if isinstance(value, str):
        text = value.removeprefix("0x").lower()
        if len(text) == length and all(c in "0123456789abcdef" for c in text) and text.strip("0"):
            return text
    return None


def _otel_ids(record: Mapping[str, Any], flat: dict[str, Any]) -> int | None:
    """An OpenTelemetry span (ConsoleSpanExporter) or log record (ConsoleLogExporter): its trace,
    span and parent ids, a span's duration and status; the span's start time, if it is one."""
    context = record.get("context")
    if isinstance(context, Mapping) and "span_id" in context:
        trace_id, span_id = _hex_id(context.get("trace_id"), 32), _hex_id(context.get("span_id"), 16)
        if trace_id is None or span_id is None:
            return None
        flat.update(otel_trace_id=trace_id, otel_span_id=span_id)
        parent = _hex_id(record.get("parent_id"), 16)
        if parent:
            flat["otel_parent_span_id"] = parent
        start, end = parse_log_time(record.get("start_time")), parse_log_time(record.get("end_time"))
        if start is not None and end is not None:
            flat["duration_ms"] = end - start
        status = record.get("status")
        if isinstance(status, Mapping) and status.get("status_code") == "ERROR":
            flat["level"] = "ERROR"
            if status.get("description"):
                flat.setdefault("error", status["description"])
        flat.pop("context", None)
        flat.pop("resource", None)
        return start
    trace_id, span_id = _hex_id(record.get("trace_id"), 32), _hex_id(record.get("span_id"), 16)
    if trace_id is not None:
        flat["otel_trace_id"] = trace_id
        flat.pop("trace_id", None)
        if span_id is not None:
            flat["otel_span_id"] = span_id
            flat.pop("span_id", None)
        flat.pop("resource", None)
    return None


def _run_session(delivery: Delivery, log_id: str, event_type: str) -> str | None:
    """Outside Lambda, a framework's start marker opens a run and its end marker closes it (nested
    chains counted, a failure at once); the lines between belong to it. The run's id is its first
    line's. The ingestion applies the same rule across deliveries (``vectadb.core.runs``)."""
    if event_type == "agent_start":
        if delivery.run_id is None:
            digest = hashlib.blake2b(f"{delivery.log_stream}\n{log_id}".encode(), digest_size=8).hexdigest()
            delivery.run_id = f"run-{digest}"
        delivery.run_depth += 1
        return delivery.run_id
    run_id = delivery.run_id
    if run_id is not None and event_type in ("agent_end", "agent_error"):
        delivery.run_depth -= 1
        if delivery.run_depth <= 0 or event_type == "agent_error":
            delivery.run_id, delivery.run_depth = None, 0
    return run_id


_TOOL_CALL_REPR = re.compile(
    r"\{'name': '(?P<name>[^']+)', 'args': (?P<args>\{.*?\}), 'id': (?:'(?P<id>[^']*)'|None), "
    r"'type': 'tool_call'\}"
)
_TOOL_CALL_JSON = re.compile(
    r'\{\s*"name":\s*"(?P<name>[^"]+)",\s*"args":\s*(?P<args>\{.*?\}),\s*"id":\s*(?:"(?P<id>[^"]*)"|null),'
    r'\s*"type":\s*"tool_call"\s*\}',
    re.DOTALL,
)


def _tool_calls_in(text: str) -> list[tuple[str, Any, str | None]]:
    """LangChain tool-call objects in a line: an AIMessage's ``tool_calls=[...]`` as Python prints
    it, or a chain's JSON input; each call once (by id)."""
    calls: dict[str, tuple[str, Any, str | None]] = {}
    for pattern in (_TOOL_CALL_REPR, _TOOL_CALL_JSON):
        for match in pattern.finditer(text):
            name, call_id = match.group("name"), match.group("id")
            calls.setdefault(call_id or f"{len(calls)}", (name, _literal(match.group("args")), call_id))
    return list(calls.values())


def _tool_call_events(
    record: dict[str, Any], calls: list[tuple[str, Any, str | None]]
) -> list[dict[str, Any]]:
    """One tool_call event per call that ``record`` held, in its place, caused by it."""
    source = record["source"]
    record_id = log_event_id(source["log_group"], source["log_id"])
    events = []
    for index, (name, tool_input, call_id) in enumerate(calls):
        properties: dict[str, Any] = {"tool_name": name, "tool_input": tool_input, "from_record": record_id}
        if call_id:
            properties["tool_call_id"] = call_id
        for key in ("request_id", "xray_trace_id", "level"):
            if key in record["properties"]:
                properties[key] = record["properties"][key]
        event = {
            "event_id": log_event_id(source["log_group"], source["log_id"], f"tool_call:{index}"),
            "parent_event_id": record_id,
            "timestamp": record["timestamp"],
            "event_type": "tool_call",
            "properties": properties,
            "source": source,
        }
        for key in ("session_id", "agent_id"):
            if key in record:
                event[key] = record[key]
        events.append(event)
    return events


def _run_context(delivery: Delivery, run: str, event_type: str, properties: dict[str, Any]) -> None:
    """What a run's lines say about its LLM calls when the call's own line does not.

    A line that names a model (a run's header, the call's span, request or token estimate) names
    the model of the calls of its run that follow it: a call that does not say its model takes
    that one, marked ``model_inferred``. A line with the run's token totals so far (smolagents'
    step summary) gives the run's last call without tokens the difference from the previous
    totals, when they are known (the first step's totals are its call's)."""
    model = properties.get("model")
    if isinstance(model, str) and model:
        delivery.models[run] = model
    elif event_type == "llm_call" and run in delivery.models:
        properties["model"] = delivery.models[run]
        properties["model_inferred"] = True
    if event_type == "llm_call":
        if properties.get("input_tokens") is None:
            delivery.open_calls[run] = properties
        return
    run_input, run_output = (
        _count(properties.get("run_input_tokens")),
        _count(properties.get("run_output_tokens")),
    )
    if run_input is None or run_output is None:
        return
    totals = run_input, run_output
    properties["run_input_tokens"], properties["run_output_tokens"] = totals
    previous = delivery.run_totals.get(run) or ((0, 0) if properties.get("step") == 1 else None)
    delivery.run_totals[run] = totals
    call = delivery.open_calls.pop(run, None)
    if previous is not None and call is not None:
        call["input_tokens"] = totals[0] - previous[0]
        call["output_tokens"] = totals[1] - previous[1]


def _count(value: Any) -> int | None:
    """A token count as printed: 2028, or "2,028"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.replace(",", "").isdigit():
        return int(value.replace(",", ""))
    return None


def _claim_by_span(event: dict[str, Any], orphans: list[dict[str, Any]]) -> None:
    """A span is printed when it ends; the lines without a run printed while it was open (an HTTP
    client's request line, a warning) belong to its trace."""
    properties = event["properties"]
    duration = properties.get("duration_ms")
    session = event.get("session_id")
    if not orphans or not session or "otel_span_id" not in properties or not isinstance(duration, int):
        return
    start = event["timestamp"]
    claimed = [orphan for orphan in orphans if start <= orphan["timestamp"] <= start + duration]
    for orphan in claimed:
        orphan["session_id"] = session
    if claimed:
        orphans[:] = [orphan for orphan in orphans if "session_id" not in orphan]


def _otel_session(fields: Mapping[str, Any] | None) -> str | None:
    """Outside Lambda, an OpenTelemetry trace is one run: its id groups the run's records."""
    trace_id = fields.get("otel_trace_id") if fields else None
    return f"otel-{trace_id}" if trace_id else None


def _classify_record(flat: dict[str, Any], message: Any, level: str | None) -> str | None:
    """The event type of a structured record; None leaves it to the rules (on its message) and
    then to the fallback. The first answer wins, in this order (each check answers a type or
    None, and changes ``flat`` only when it answers)."""
    return (
        _explicit_type(flat)
        or _agent_span_type(flat, level)
        or _gen_ai_operation_type(flat)
        or _runtime_error_type(flat, message)
        or _logged_exception_type(flat, level)
        or _llm_call_type(flat)
        or _tool_type(flat)
    )


def _explicit_type(flat: dict[str, Any]) -> str | None:
    """The record's own type. A library's record type (AutoGen's "ToolCall", "LLMCall", ...) in
    the vocabulary, the original kept; any other explicit type is the sender's and stays as given."""
    explicit = _first(flat, TYPE_KEYS)
    if not isinstance(explicit, str) or not explicit:
        return None
    known = _STRUCTURED_TYPES.get(re.sub(r"[^a-z]", "", explicit.lower()))
    if known is None:
        return explicit
    flat["original_type"] = explicit
    return known


def _agent_span_type(flat: dict[str, Any], level: str | None) -> str | None:
    """A finished span of the whole agent run: it ends the run, failed if its status says so."""
    if (
        flat.get("gen_ai.operation.name") == "invoke_agent"
        and "otel_span_id" in flat
        and "duration_ms" in flat
    ):
        return "agent_error" if level in ERROR_LEVELS else "agent_end"
    return None


def _gen_ai_operation_type(flat: dict[str, Any]) -> str | None:
    """OpenTelemetry GenAI's operation name, in the vocabulary."""
    operation = flat.get("gen_ai.operation.name")
    return GEN_AI_OPERATIONS.get(operation) if isinstance(operation, str) else None


def _runtime_error_type(flat: dict[str, Any], message: Any) -> str | None:
    """The runtime's report of an uncaught exception has no message: the invocation failed. A
    logging record with exc_info (Lambda's JSON format) carries both: an error only."""
    if "errorType" not in flat and "errorMessage" not in flat:
        return None
    flat.setdefault("exception_type", flat.get("errorType"))
    flat.setdefault("error", flat.get("errorMessage"))
    return "error" if message is not None else "agent_error"


def _logged_exception_type(flat: dict[str, Any], level: str | None) -> str | None:
    """logger.exception("tool failed", extra={"tool_name": ...}): an error first."""
    if level in ERROR_LEVELS and any(key in flat for key in _EXCEPTION_KEYS):
        return "error"
    return None


def _llm_call_type(flat: dict[str, Any]) -> str | None:
    """A record that names a model and counts tokens."""
    if _first(flat, _MODEL_KEYS) is not None and any(key in flat for key in _TOKEN_KEYS):
        return "llm_call"
    return None


def _tool_type(flat: dict[str, Any]) -> str | None:
    """A record that names a tool: its result if it holds one, else its call."""
    if _first(flat, TOOL_KEYS) is None:
        return None
    return "tool_result" if any(key in flat for key in ("output", "result", "tool_output")) else "tool_call"


def _nested(value: Any, names: frozenset[str], depth: int = 0) -> list[Mapping[str, Any]]:
    """The mappings found under any of ``names``, and the mappings that hold a model name,
    anywhere in ``value`` (bounded depth), nearest first."""
    found: list[Mapping[str, Any]] = []
    if depth > 12:
        return found
    if isinstance(value, Mapping):
        if "model_name" in value or "model" in value:
            found.append(value)
        for key, item in value.items():
            if key in names and isinstance(item, Mapping):
                found.append(item)
            elif isinstance(item, Mapping | list):
                found.extend(_nested(item, names, depth + 1))
    elif isinstance(value, list):
        for item in value[:50]:
            found.extend(_nested(item, names, depth + 1))
    return found


def _normalise_llm(properties: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """One set of names for an LLM call's model and usage, wherever the record kept them."""
    sources: list[Mapping[str, Any]] = [fields]
    output = fields.get("output")
    if isinstance(output, str) and output[:1] == "{" and len(output) <= _MAX_OUTPUT_SCAN:
        # A client's printed result (LangChain's [llm/end] block): its usage and model inside.
        found = _json_object(output)
        if found is not None:
            sources.extend(_nested(found, _USAGE_CONTAINERS))
    for container in (fields.get("response"), fields.get("usage")):
        if isinstance(container, Mapping):
            sources.append(container)
            if isinstance(container.get("usage"), Mapping):
                sources.append(container["usage"])
    for name, keys in _LLM_FIELDS:
        if properties.get(name) is not None:
            continue
        for source in sources:
            value = _first(source, keys)
            if value is not None and not isinstance(value, Mapping | list):
                properties[name] = value
                break


def _attribute(events: list[tuple[dict[str, Any], bool]], delivery: Delivery) -> None:
    """Give events parsed before their request was named that request, and its session unless the
    line named a session itself (a fallback, an X-Ray or OTel trace or a run, yields to it)."""
    request_id = delivery.request_id or ""
    session = delivery.sessions.get(request_id) or request_id
    for event, named in events:
        event["properties"].setdefault("request_id", request_id)
        if not named:
            event["session_id"] = session[:256]


def _report_type(status: Any) -> str:
    """A REPORT ends its invocation: an error, a timeout or a runtime failure fail it."""
    return (
        "agent_error"
        if isinstance(status, str) and status.lower() not in ("", "success")
        else "lambda_report"
    )


def _invocation_failure(text: str) -> _Extract | None:
    """Lambda's own reports that an invocation failed, in its text format.

    ``[ERROR] <Type>: <message>`` and its traceback (Python's runtime, one event; a logging record
    would be ``[ERROR]\t<time>\t<request id>\t...``), and ``Task timed out after N seconds``.
    """
    if text.startswith("[ERROR] "):
        match = _RUNTIME_ERROR.match(text)
        if match is not None:
            fields: dict[str, Any] = {"exception_type": match.group("type")}
            if match.group("error"):
                fields["error"] = match.group("error")
            traceback_at = text.find("\nTraceback (most recent call last):")
            if traceback_at != -1:
                fields["traceback"] = text[traceback_at + 1 :].replace("\u00a0", " ")
            return _Extract(fields, text.split("\n", 1)[0], "ERROR", None, "agent_error", "platform")
    if "Task timed out after" in text:
        match = _TIMEOUT.search(text)
        if match is not None:
            fields = {"error_type": "Sandbox.Timedout", "timeout_seconds": _number(match.group("seconds"))}
            return _Extract(fields, match.group(0), "ERROR", None, "agent_error", "platform")
    return None


def _first(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value is not None and value != "":
            return value
    return None


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = jsoncodec.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _literal(text: str) -> Any:
    """Tool inputs as logged: JSON, or a Python literal (LangChain prints dicts with repr); a value
    continued on lines indented under a box-drawn margin (Logfire) is read without the margin."""
    if "│" in text:
        text = _MARGIN.sub("\n", text)
    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            return json.loads(stripped)
        except ValueError:
            pass
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return stripped
        return value if isinstance(value, dict | list) and _jsonable(value) else stripped
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        return stripped[1:-1]
    return stripped


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _number(text: str) -> Any:
    """'102.25' -> 102.25, '128' -> 128; anything else ('007', 'v2', ...) unchanged."""
    if text[:1].isdigit() and not (len(text) > 1 and text[0] == "0" and text[1].isdigit()):
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    return text


def _xray(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    match = _XRAY.search(value)
    return match.group(1) if match else None
