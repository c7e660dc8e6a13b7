"""Decode and parse throughput of the parser, in log lines per second on one core.

A 10,000-line mixed corpus (Lambda text and JSON formats, Powertools, Fluent Bit, OpenTelemetry
GenAI, LangChain output, LLM calls, tracebacks, START/END/REPORT, plain lines, some secrets) is
built into CloudWatch subscription payloads of 500 lines, exactly as CloudWatch builds them. The
timed work is what the Lambda does before sending: base64 + gzip + JSON decoding through
Powertools' CloudWatchLogsEvent, then parsing, normalisation and redaction of every line.
Baseline in the same run: plain ``json.loads`` over the same lines.

    python bench/parse.py [--lines 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1] / "lambdas")

from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent  # noqa: E402

from vectadb.local.cloudwatch import decoded_delivery, encode  # noqa: E402
from vectadb.logparse.parser import Delivery, LogParser  # noqa: E402
from vectadb.logparse.rules import default_rules  # noqa: E402

TOOLS = ["web_search", "sql_query", "send_email", "crm_lookup", "calculator"]


def corpus(n: int, rng: random.Random) -> list[str]:
    lines = []
    rid = "8f5c1c7e-1b7c-4a4e-9d2a-123456789abc"
    for i in range(n):
        tool = rng.choice(TOOLS)
        ts = f"2026-01-07T17:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
        kind = rng.random()
        if kind < 0.30:
            lines.append(f"[INFO]\t{ts}\t{rid}\tcalling {tool} for customer {rng.randint(1, 9999)} step {i}")
        elif kind < 0.40:
            lines.append(f'[INFO]\t{ts}\t{rid}\tTool: {tool} | Input: {{"query": "item {i}", "limit": 5}}')
        elif kind < 0.55:
            lines.append(
                json.dumps(
                    {
                        "level": "INFO",
                        "location": "tools:58",
                        "message": {"tool_name": tool, "tool_input": {"id": i}},
                        "timestamp": "2026-01-07 17:00:03,123+0000",
                        "service": "support",
                        "function_request_id": rid,
                        "session_id": f"chat-{i // 50}",
                    }
                )
            )
        elif kind < 0.62:
            lines.append(
                json.dumps(
                    {"timestamp": ts, "level": "INFO", "message": f"planning step {i}", "requestId": rid}
                )
            )
        elif kind < 0.70:
            inner = json.dumps({"level": "info", "msg": f"agent step {i}", "thread_id": f"t-{i // 40}"})
            lines.append(
                json.dumps(
                    {
                        "log": inner + "\n",
                        "stream": "stdout",
                        "time": ts,
                        "kubernetes": {"pod_name": "agent-1"},
                    }
                )
            )
        elif kind < 0.75:
            lines.append(
                json.dumps(
                    {
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.usage.input_tokens": rng.randint(10, 999),
                        "gen_ai.conversation.id": f"c-{i // 30}",
                    }
                )
            )
        elif kind < 0.83:
            lines.append(
                rng.choice(
                    [
                        f"Invoking: `{tool}` with `{{'query': 'item {i}'}}`",
                        f"Observation: found {rng.randint(0, 50)} results",
                        "Thought: I need more data\nAction: web_search\nAction Input: latest pricing",
                        "Final Answer: done",
                        "> Entering new AgentExecutor chain...",
                        'HTTP Request: POST https://api.openai.com/v1/chat/completions "HTTP/1.1 200 OK"',
                        f"llm call model=gpt-4o-mini prompt_tokens={i % 900} completion_tokens=30",
                    ]
                )
            )
        elif kind < 0.86:
            lines.append(
                'tool failed\nTraceback (most recent call last):\n  File "/var/task/t.py", line 9, in run\n'
                f"    return fetch({i})\nTimeoutError: timed out after {i % 30}s"
            )
        elif kind < 0.91:
            lines.append(
                rng.choice(
                    [
                        f"START RequestId: {rid} Version: $LATEST",
                        f"END RequestId: {rid}",
                        f"REPORT RequestId: {rid}\tDuration: 102.25 ms\tBilled Duration: 103 ms\t"
                        "Memory Size: 128 MB\tMax Memory Used: 70 MB",
                    ]
                )
            )
        elif kind < 0.95:
            lines.append(f"user {i} emailed support@example.com with key sk-abcdefghijklmnopqrstuvwxyz{i}")
        else:
            lines.append(f"plain line {i}: nothing special here, just some text for the log")
    return lines


def main() -> None:
    parser_cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser_cli.add_argument("--lines", type=int, default=10_000)
    parser_cli.add_argument("--repeat", type=int, default=5)
    args = parser_cli.parse_args()
    lines = corpus(args.lines, random.Random(3))
    payloads = [
        encode(
            decoded_delivery(
                "/aws/lambda/agent",
                "2026/01/07/[$LATEST]abc",
                [(1767805200000 + i, line) for i, line in enumerate(lines[start : start + 500], start)],
                first_index=start,
            )
        )
        for start in range(0, len(lines), 500)
    ]
    parser = LogParser(default_rules())

    def run_parser() -> int:
        produced = 0
        for payload in payloads:
            data = CloudWatchLogsEvent(payload).parse_logs_data()
            delivery = Delivery(data.log_group, data.log_stream, data.owner)
            events, _ = parser.parse_delivery(
                delivery, [(e.get_id, e.timestamp, e.message) for e in data.log_events]
            )
            produced += len(events)
        return produced

    def run_json() -> int:
        parsed = 0
        for line in lines:
            try:
                json.loads(line)
                parsed += 1
            except ValueError:
                pass
        return parsed

    run_parser()  # warm up: regex compilation, imports
    parser_times, json_times = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        events = run_parser()
        t1 = time.perf_counter()
        run_json()
        t2 = time.perf_counter()
        parser_times.append(t1 - t0)
        json_times.append(t2 - t1)
    tracemalloc.start()
    run_parser()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    parser_rate = len(lines) / statistics.median(parser_times)
    json_rate = len(lines) / statistics.median(json_times)
    stats = parser.parse_delivery(
        Delivery("/g", "s"), [(str(i), 1767805200000, m) for i, m in enumerate(lines)]
    )[1]
    print(f"corpus: {len(lines)} lines in {len(payloads)} CloudWatch deliveries -> {events} events")
    print(f"methods: {dict(stats.methods)}, dropped {stats.dropped}, secrets redacted {stats.redacted}")
    print(
        f"decode + parse : {parser_rate:9.0f} lines/s on one core (median of {args.repeat})  target >= 50,000"
    )
    print(f"json.loads     : {json_rate:9.0f} lines/s over the same lines")
    print(f"ratio          : {parser_rate / json_rate:9.2f}")
    print(
        f"memory         : peak {peak / 2**20:.1f} MiB traced while parsing all deliveries, "
        f"process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


def real_library_corpus(repeat: int) -> None:
    """The same measure over what twelve real agent libraries printed (tests/fixtures/agent_logs),
    in all three formats, against json.loads over the same messages in the same run."""
    root = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "agent_logs"
    payloads = []
    for path in sorted(root.glob("*/deliveries/*.json")):
        payloads += [encode(item) for item in json.loads(path.read_text())]
    if not payloads:
        print("real libraries : no corpus (make agent-logs)")
        return
    parser = LogParser(default_rules())
    decoded = [CloudWatchLogsEvent(p).parse_logs_data() for p in payloads]
    messages = [e.message for data in decoded for e in data.log_events]

    def run_parser() -> None:
        for payload in payloads:
            data = CloudWatchLogsEvent(payload).parse_logs_data()
            parser.parse_delivery(
                Delivery(data.log_group, data.log_stream, data.owner),
                [(e.get_id, e.timestamp, e.message) for e in data.log_events],
            )

    def run_json() -> int:
        parsed = 0
        for message in messages:
            try:
                json.loads(message)
                parsed += 1
            except ValueError:
                pass
        return parsed

    run_parser()
    parser_times, json_times = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run_parser()
        t1 = time.perf_counter()
        run_json()
        parser_times.append(t1 - t0)
        json_times.append(time.perf_counter() - t1)
    parser_rate = len(messages) / statistics.median(parser_times)
    json_rate = len(messages) / statistics.median(json_times)
    print(f"real libraries : {len(messages)} lines in {len(payloads)} deliveries (12 libraries x 3 formats)")
    print(f"decode + parse : {parser_rate:9.0f} lines/s on one core (median of {repeat})")
    print(
        f"json.loads     : {json_rate:9.0f} lines/s over the same lines; ratio {parser_rate / json_rate:.2f}"
    )


def lambda_delivery(n: int, rng: random.Random) -> list[str]:
    """One delivery shaped like an agent's Lambda log group: 40% runtime text lines with a tool
    call, 30% Powertools JSON records of ~300 B, 10% START/END/REPORT, 10% tracebacks printed line
    by line, 10% plain print lines."""
    rid = "8f5c1c7e-1b7c-4a4e-9d2a-123456789abc"
    lines: list[str] = []
    traceback = [
        "Traceback (most recent call last):",
        '  File "/var/task/agent.py", line 42, in handler',
        "    result = tools[name](**arguments)",
        '  File "/var/task/tools.py", line 17, in lookup_order',
        '    raise KeyError(f"order {order_id} not found")',
        "KeyError: 'order A-17 not found'",
    ]
    while len(lines) < n:
        i = len(lines)
        ts = f"2026-01-07T17:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}Z"
        kind = rng.random()
        tool = rng.choice(TOOLS)
        if kind < 0.40:
            lines.append(f'[INFO]\t{ts}\t{rid}\tTool: {tool} | Input: {{"query": "item {i}", "limit": 5}}')
        elif kind < 0.70:
            lines.append(
                json.dumps(
                    {
                        "level": "INFO",
                        "location": "agent:88",
                        "message": "llm call",
                        "timestamp": "2026-01-07 17:00:03,123+0000",
                        "service": "support-agent",
                        "function_request_id": rid,
                        "model": "gpt-4o-mini",
                        "prompt_tokens": rng.randint(10, 900),
                        "completion_tokens": rng.randint(5, 300),
                        "step": i,
                    }
                )
            )
        elif kind < 0.80:
            lines.append(
                rng.choice(
                    [
                        f"START RequestId: {rid} Version: $LATEST",
                        f"END RequestId: {rid}",
                        f"REPORT RequestId: {rid}\tDuration: 812.33 ms\tBilled Duration: 813 ms\t"
                        "Memory Size: 1024 MB\tMax Memory Used: 212 MB\t",
                    ]
                )
            )
        elif kind < 0.90:
            lines.extend(traceback)
        else:
            lines.append(f"step {i}: thinking about {tool} for customer {rng.randint(1, 9999)}")
    return lines[:n]


def handler_body(n: int, repeat: int) -> None:
    """The parser Lambda's handler body on one Lambda-shaped delivery of ``n`` events, network
    stubbed (each batch is serialised and compressed as it would be sent), against a baseline in
    the same run: base64 + gunzip + json.loads of the delivery, and json.loads tried on every
    message (the Datadog Forwarder's body ran at 0.15-0.21 of it on this machine, per the issue)."""
    import base64
    import gzip

    import requests

    from vectadb.forwarder.client import ApiClient
    from vectadb.forwarder.deadletters import DeadLetters
    from vectadb.forwarder.delivery import decode
    from vectadb.forwarder.pipeline import forward

    lines = lambda_delivery(n, random.Random(11))
    payload = encode(
        decoded_delivery(
            "/aws/lambda/support-agent",
            "2026/01/07/[$LATEST]abc",
            [(1767805200000 + i, line) for i, line in enumerate(lines)],
        )
    )
    sent_bytes = [0, 0]
    stub_seconds = [0.0]
    # The API's answer to a batch, as it gives it: one result per event.
    answers = {
        n: json.dumps({"results": [{"index": i, "status": 201} for i in range(n)]}).encode()
        for n in range(1001)
    }

    class Stub(requests.Session):
        """The network: answers 200 to every batch, after the client encoded and compressed it.
        Its own time (reading the batch to answer for each event) is not the handler's."""

        def post(self, url: Any, data: Any = None, *args: Any, **kwargs: Any) -> requests.Response:
            # Takes what Session.post takes; the client always sends its batch as gzipped bytes.
            started = time.perf_counter()
            sent_bytes[0] += len(data or b"")
            sent_bytes[1] += 1
            response = requests.Response()
            response.status_code = 200
            response._content = answers[len(json.loads(gzip.decompress(data or b""))["events"])]
            stub_seconds[0] += time.perf_counter() - started
            return response

    parser = LogParser(default_rules())
    client = ApiClient("http://api.invalid", lambda _: "key", session=Stub())
    dead = DeadLetters(None, None)

    def body() -> None:
        decoded = decode(payload)
        forward(decoded.delivery, decoded.lines, parser, client, dead, time.monotonic() + 60)

    def baseline() -> None:
        data = json.loads(gzip.decompress(base64.b64decode(payload["awslogs"]["data"])))
        for event in data["logEvents"]:
            with contextlib.suppress(ValueError):
                json.loads(event["message"])

    body()
    body_times, base_times = [], []
    for _ in range(repeat):
        sent_bytes[:] = [0, 0]
        stub_seconds[0] = 0.0
        t0 = time.perf_counter()
        body()
        t1 = time.perf_counter()
        baseline()
        body_times.append(t1 - t0 - stub_seconds[0])
        base_times.append(time.perf_counter() - t1)
    body_rate = n / statistics.median(body_times)
    base_rate = n / statistics.median(base_times)
    print(f"lambda delivery: {n} events in one delivery (40% runtime tool lines, 30% Powertools JSON, ...)")
    print(f"handler body   : {body_rate:9.0f} lines/s (median of {repeat}), network stubbed")
    print(f"baseline       : {base_rate:9.0f} lines/s (b64 + gunzip + json.loads, json.loads per message)")
    print(
        f"ratio          : {body_rate / base_rate:9.2f}   (the Datadog Forwarder: 0.15-0.21; 1.5 x is >= 0.3)"
    )
    print(f"sent           : {sent_bytes[0] / 1e6:.2f} MB in {sent_bytes[1]} POSTs (gzip)")


if __name__ == "__main__":
    main()
    real_library_corpus(5)
    handler_body(10_000, 5)
