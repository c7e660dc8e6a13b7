"""The parser Lambda end to end: CloudWatch payloads -> the real local API over HTTP -> embedded
SurrealDB; faults injected between them; the dead-letter queue on moto SQS; the replay.

The invariant checked throughout: events parsed = events stored + events in the dead-letter queue.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import TEST_KEY, Api
from tests.integration.faultproxy import FaultProxy
from vectadb.core.config import ParserSettings
from vectadb.forwarder.forwarder_runtime import ForwarderRuntime, set_forwarder_runtime
from vectadb.local.cloudwatch import control_message, decoded_delivery, encode
from vectadb.local.server import LocalContext, LocalServer
from vectadb.service.api_runtime import Runtime

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "lambdas" / "parser" / "demo"
T0 = 1767805200000  # 2026-01-07T17:00:00Z


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs")


@pytest.fixture
def dlq_url(sqs: Any) -> str:
    return sqs.create_queue(QueueName="vectadb-dlq", Attributes={"MaximumMessageSize": "1048576"})["QueueUrl"]


@pytest.fixture
def proxy(local_api: LocalServer) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(local_api.url)
    yield fault_proxy
    fault_proxy.stop()


def _settings(api_url: str, dlq_url: str, **overrides: Any) -> ParserSettings:
    values: dict[str, Any] = {
        "api_url": api_url,
        "api_key": TEST_KEY,
        "dlq_url": dlq_url,
        "retry_base_seconds": 0.01,
        "retry_cap_seconds": 0.05,
        "http_read_timeout": 1.0,
        "deadline_reserve_seconds": 0.5,
        **overrides,
    }
    return ParserSettings(**values)


@pytest.fixture
def forwarder(proxy: FaultProxy, sqs: Any, dlq_url: str) -> Iterator[ForwarderRuntime]:
    runtime = ForwarderRuntime.from_settings(_settings(proxy.url, dlq_url), sqs=sqs)
    previous = set_forwarder_runtime(runtime)
    yield runtime
    set_forwarder_runtime(previous)


def invoke(event: dict[str, Any], timeout_ms: int = 20_000) -> dict[str, Any]:
    from parser.handler import handler

    return handler(event, LocalContext(function_name="vectadb-parser", timeout_ms=timeout_ms))


def redrive_now(timeout_ms: int = 20_000) -> dict[str, Any]:
    from redrive.handler import handler

    return handler(
        {"source": "aws.events"}, LocalContext(function_name="vectadb-redrive", timeout_ms=timeout_ms)
    )


def dead_letters(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message in the queue, left visible for the next reader."""
    seen: dict[str, dict[str, Any]] = {}
    handles = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        )
        if not batch:
            break
        for message in batch:
            seen[message["MessageId"]] = json.loads(message["Body"])
            handles.append(message["ReceiptHandle"])
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return list(seen.values())


def parked_events(sqs: Any, url: str, kind: str | None = None) -> int:
    return sum(len(m.get("items", [])) for m in dead_letters(sqs, url) if kind is None or m["kind"] == kind)


def stored_events(runtime: Runtime) -> int:
    rows = runtime.store._select("SELECT count() AS n FROM agent_event GROUP ALL", {})  # type: ignore[attr-defined]
    return rows[0]["n"] if rows else 0


def delivery(
    lines: list[str], stream: str = "2026/01/07/[$LATEST]abc", group: str = "/aws/lambda/agent"
) -> dict:
    # CloudWatch stamps each line as it arrives: a little after the time the line itself carries.
    return encode(
        decoded_delivery(group, stream, [(T0 + 50 + i * 100, line) for i, line in enumerate(lines)])
    )


def file_delivery(name: str) -> list[dict[str, Any]]:
    from vectadb.local.feed import deliveries

    return list(deliveries(DEMO / name, f"/aws/lambda/{Path(name).stem}", None))


AGENT_LINES = [
    "START RequestId: 11111111-2222-4333-8444-555555555555 Version: $LATEST",
    "[INFO]\t2026-01-07T17:00:00.100Z\t11111111-2222-4333-8444-555555555555\t> Entering new AgentExecutor chain...",
    '[INFO]\t2026-01-07T17:00:00.200Z\t11111111-2222-4333-8444-555555555555\tTool: web_search | Input: {"q": "x"}',
    "Observation: 14C",
    "[INFO]\t2026-01-07T17:00:00.400Z\t11111111-2222-4333-8444-555555555555\tFinal Answer: bring an umbrella",
    "END RequestId: 11111111-2222-4333-8444-555555555555",
    "REPORT RequestId: 11111111-2222-4333-8444-555555555555\tDuration: 402.25 ms\tBilled Duration: 403 ms\t"
    "Memory Size: 512 MB\tMax Memory Used: 90 MB",
]


# -- end to end --------------------------------------------------------------------------------


def test_a_trace_is_reconstructed_in_order(forwarder: ForwarderRuntime, runtime: Runtime, api: Api) -> None:
    result = invoke(delivery(AGENT_LINES))
    assert result["status"] == "ok"
    assert (result["lines"], result["dropped"], result["events"], result["accepted"], result["parked"]) == (
        7,
        2,
        5,
        5,
        0,
    )
    trace_id = api.get("/api/v1/events", session_id="11111111-2222-4333-8444-555555555555").body["events"][0][
        "trace_id"
    ]
    trace = api.get(f"/api/v1/traces/{trace_id}").body
    assert [e["event_type"] for e in trace["events"]] == [
        "agent_start",
        "tool_call",
        "tool_result",
        "agent_end",
        "lambda_report",
    ]
    assert trace["trace"]["status"] == "completed"
    assert trace["trace"]["total_events"] == 5
    assert trace["events"][1]["properties"]["tool_input"] == {"q": "x"}
    assert trace["events"][4]["properties"]["duration_ms"] == 402.25
    assert trace["events"][0]["source"]["log_group"] == "/aws/lambda/agent"


def test_demo_logs_make_the_expected_traces(forwarder: ForwarderRuntime, api: Api) -> None:
    for name in ("langchain-lambda.log", "powertools-agent.log", "k8s-otel-agent.log"):
        for event in file_delivery(name):
            assert invoke(event)["parked"] == 0
    traces = {t["session_id"]: t for t in api.all_pages("/api/v1/traces", "traces", limit=50)}
    assert traces["ticket-7731"]["status"] == "completed"
    assert traces["ticket-7732"]["status"] == "failed"
    assert traces["conv-42"]["agent_id"] == "research-agent"
    assert traces["6f1d2c3a-8b4e-4f5a-9c6d-7e8f9a0b1c2d"]["status"] == "completed"
    refund = api.get("/api/v1/events", session_id="0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d", event_type="error")
    (error,) = refund.body["events"]
    assert error["properties"]["exception_type"] == "gateway.PaymentGatewayTimeout"
    assert "Traceback (most recent call last):" in error["properties"]["message"]
    answer = api.get(
        "/api/v1/events", session_id="6f1d2c3a-8b4e-4f5a-9c6d-7e8f9a0b1c2d", event_type="log"
    ).body
    sent = next(e for e in answer["events"] if "Answer sent" in e["properties"]["message"])
    assert "user@example.com" not in json.dumps(sent)
    assert "sk-proj-" not in json.dumps(sent)


def test_the_same_delivery_three_times_stores_nothing_twice(
    forwarder: ForwarderRuntime, runtime: Runtime, api: Api
) -> None:
    event = delivery(AGENT_LINES)
    first = invoke(event)
    again = [invoke(event) for _ in range(2)]
    assert first["duplicates"] == 0
    assert all(r["duplicates"] == r["accepted"] == 5 for r in again)
    assert stored_events(runtime) == 5
    (trace,) = api.get("/api/v1/traces").body["traces"]
    assert trace["total_events"] == 5


def test_a_control_message_is_acknowledged(forwarder: ForwarderRuntime, proxy: FaultProxy) -> None:
    assert invoke(control_message())["status"] == "control"
    assert proxy.requests == 0


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ({"awslogs": {"data": "%%% not base64 %%%"}}, "binascii"),
        ({"awslogs": {"data": base64.b64encode(b"not gzip").decode()}}, "zlib"),
        ({"awslogs": {"data": base64.b64encode(gzip.compress(b"{not json")).decode()}}, "JSON"),
        (
            {
                "awslogs": {
                    "data": base64.b64encode(gzip.compress(b'{"messageType": "DATA_MESSAGE"}')).decode()
                }
            },
            "Key",
        ),
        ({"hello": "world"}, "Key"),
    ],
)
def test_a_poison_delivery_goes_to_the_dlq_raw(
    forwarder: ForwarderRuntime, sqs: Any, dlq_url: str, event: dict, why: str
) -> None:
    result = invoke(event)
    assert result["status"] == "undecodable"
    (message,) = dead_letters(sqs, dlq_url)
    assert message["kind"] == "undecodable"
    assert json.loads(message["raw"]) == event
    assert "undecodable delivery" in message["reason"]


# -- faults ------------------------------------------------------------------------------------


def test_transient_faults_are_retried_until_delivered(
    forwarder: ForwarderRuntime, proxy: FaultProxy, runtime: Runtime, sqs: Any, dlq_url: str
) -> None:
    proxy.faults.extend(["reset", "500", "429", "503"])
    result = invoke(delivery(AGENT_LINES))
    assert (result["accepted"], result["parked"], result["retries"]) == (5, 0, 4)
    assert proxy.requests == 5
    assert stored_events(runtime) == 5
    assert dead_letters(sqs, dlq_url) == []


def test_a_hang_is_cut_by_the_timeout_and_retried(
    forwarder: ForwarderRuntime, proxy: FaultProxy, runtime: Runtime
) -> None:
    proxy.faults.append("hang")
    result = invoke(delivery(AGENT_LINES))
    assert (result["accepted"], result["retries"]) == (5, 1)
    assert stored_events(runtime) == 5


def test_an_outage_parks_the_events_and_the_replay_delivers_them(
    forwarder: ForwarderRuntime, proxy: FaultProxy, runtime: Runtime, sqs: Any, dlq_url: str
) -> None:
    proxy.always = "500"
    result = invoke(delivery(AGENT_LINES), timeout_ms=2_000)
    assert (result["events"], result["accepted"], result["parked_transient"]) == (5, 0, 5)
    assert result["retries"] >= 2
    assert stored_events(runtime) + parked_events(sqs, dlq_url) == result["events"]
    (message,) = dead_letters(sqs, dlq_url)
    assert message["kind"] == "transient"
    assert "500" in message["reason"]
    assert message["origin"]["log_group"] == "/aws/lambda/agent"

    # Still down: the replay keeps the message for later, and deletes nothing.
    still = redrive_now(timeout_ms=2_000)
    assert (still["still_failing"], still["delivered"]) == (1, 0)
    assert parked_events(sqs, dlq_url) == 5

    proxy.always = None
    replayed = redrive_now()
    assert (replayed["delivered"], replayed["events_replayed"]) == (1, 5)
    assert stored_events(runtime) == 5
    assert dead_letters(sqs, dlq_url) == []


def test_retry_after_beyond_the_deadline_parks_at_once(
    forwarder: ForwarderRuntime, proxy: FaultProxy, runtime: Runtime, sqs: Any, dlq_url: str
) -> None:
    proxy.always = "429"
    proxy.retry_after = 120
    result = invoke(delivery(AGENT_LINES), timeout_ms=5_000)
    assert (result["accepted"], result["parked_transient"], proxy.requests) == (0, 5, 1)
    assert stored_events(runtime) + parked_events(sqs, dlq_url) == 5


def test_refused_events_are_permanent_and_kept_by_the_replay(
    forwarder: ForwarderRuntime, runtime: Runtime, sqs: Any, dlq_url: str
) -> None:
    lines = [
        '{"message": "fine", "session_id": "s-1"}',
        '{"message": "a type the API refuses", "type": "has spaces", "session_id": "s-1"}',
        '{"message": "also fine", "session_id": "s-1"}',
    ]
    result = invoke(delivery(lines))
    assert (result["events"], result["accepted"], result["parked_permanent"]) == (3, 2, 1)
    assert stored_events(runtime) + parked_events(sqs, dlq_url) == 3
    (message,) = dead_letters(sqs, dlq_url)
    assert message["kind"] == "permanent"
    (item,) = message["items"]
    assert item["error"]["status"] == 422
    assert item["error"]["code"] == "validation_error"
    assert item["event"]["properties"]["message"] == "a type the API refuses"

    kept = redrive_now()
    assert (kept["kept"], kept["delivered"]) == (1, 0)
    assert parked_events(sqs, dlq_url, "permanent") == 1  # never silently deleted


def test_an_unwritable_dlq_makes_the_handler_raise(
    proxy: FaultProxy, sqs: Any, dlq_url: str, runtime: Runtime
) -> None:
    missing = dlq_url.replace("vectadb-dlq", "no-such-queue")
    previous = set_forwarder_runtime(ForwarderRuntime.from_settings(_settings(proxy.url, missing), sqs=sqs))
    proxy.always = "503"
    try:
        from vectadb.forwarder.deadletters import DeadLetterError

        with pytest.raises(DeadLetterError):
            invoke(delivery(AGENT_LINES), timeout_ms=2_000)
    finally:
        set_forwarder_runtime(previous)


def test_api_key_from_secrets_manager_with_rotation(
    proxy: FaultProxy, sqs: Any, dlq_url: str, runtime: Runtime
) -> None:
    from aws_lambda_powertools.utilities import parameters

    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(Name="vectadb/parser-api-key", SecretString='{"api_key": "vdb_revoked"}')[
        "ARN"
    ]
    settings = _settings(proxy.url, dlq_url, api_key=None, api_key_secret_arn=arn)
    previous = set_forwarder_runtime(ForwarderRuntime.from_settings(settings, sqs=sqs))
    try:
        parameters.get_secret(arn, max_age=300)  # a warm container: its cache holds the old key
        secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"api_key": TEST_KEY}))  # rotation
        result = invoke(delivery(AGENT_LINES))
    finally:
        set_forwarder_runtime(previous)
    assert (result["accepted"], result["parked"]) == (5, 0)
    assert proxy.requests == 2  # 403 with the cached key, then one fresh read of the secret


def test_rules_from_an_ssm_parameter(proxy: FaultProxy, sqs: Any, dlq_url: str, api: Api) -> None:
    ssm = boto3.client("ssm")
    ssm.put_parameter(
        Name="/vectadb/parser-rules",
        Type="String",
        Value=(
            "rules:\n"
            "  - name: deploy_line\n"
            "    pattern: 'deployed (?P<service>\\w+) version (?P<version>[\\d.]+)'\n"
            "    event_type: deployment\n"
            "exclude: ['healthcheck']\n"
        ),
    )
    settings = _settings(proxy.url, dlq_url, parser_rules="ssm:/vectadb/parser-rules")
    previous = set_forwarder_runtime(ForwarderRuntime.from_settings(settings, sqs=sqs))
    try:
        result = invoke(
            delivery(["deployed checkout version 1.4.2", "GET /healthcheck 200", "Observation: x"])
        )
    finally:
        set_forwarder_runtime(previous)
    assert (result["filtered"], result["accepted"]) == (1, 2)
    types = sorted(e["event_type"] for e in api.get("/api/v1/events").body["events"])
    assert types == ["deployment", "tool_result"]  # custom rule first, the shipped ones still apply


def test_a_large_delivery_is_sent_in_bounded_batches(
    proxy: FaultProxy, sqs: Any, dlq_url: str, runtime: Runtime
) -> None:
    settings = _settings(proxy.url, dlq_url, batch_max_bytes=20_000)
    previous = set_forwarder_runtime(ForwarderRuntime.from_settings(settings, sqs=sqs))
    try:
        lines = [f"line {i} " + "x" * 300 for i in range(250)]
        result = invoke(delivery(lines))
    finally:
        set_forwarder_runtime(previous)
    assert result["accepted"] == 250
    assert proxy.requests >= 250 * 300 // 20_000  # the byte bound, not only the 100-event bound
    assert stored_events(runtime) == 250


def test_environment_configures_the_parser(
    monkeypatch: pytest.MonkeyPatch, proxy: FaultProxy, dlq_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\ninclude: ['agent']\n")
    for name, value in {
        "VECTADB_API_URL": proxy.url,
        "VECTADB_API_KEY": TEST_KEY,
        "VECTADB_DLQ_URL": dlq_url,
        "VECTADB_PARSER_RULES": str(rules),
        "VECTADB_DROP_START_END": "false",
    }.items():
        monkeypatch.setenv(name, value)
    from vectadb.core.config import get_parser_settings

    get_parser_settings.cache_clear()
    previous = set_forwarder_runtime(None)
    try:
        result = invoke(delivery(["agent says hi", "noise", "START RequestId: agent-1 Version: 1"]))
    finally:
        set_forwarder_runtime(previous)
        get_parser_settings.cache_clear()
    assert (result["filtered"], result["accepted"], result["dropped"]) == (1, 2, 0)
    assert os.environ["VECTADB_API_URL"] == proxy.url


def test_a_bad_rules_file_fails_the_start_naming_the_rule(tmp_path: Path, dlq_url: str, sqs: Any) -> None:
    from vectadb.logparse.rules import RulesError

    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - name: good\n    pattern: 'a'\n    event_type: x\n  - name: refund_line\n    pattern: '(?P<amount'\n    event_type: y\n"
    )
    with pytest.raises(RulesError, match=r"rule 'refund_line' \(#2\): the pattern does not compile"):
        ForwarderRuntime.from_settings(
            _settings("http://127.0.0.1:9", dlq_url, parser_rules=str(rules)), sqs=sqs
        )


def test_random_faults_never_lose_an_event(
    forwarder: ForwarderRuntime, proxy: FaultProxy, runtime: Runtime, sqs: Any, dlq_url: str
) -> None:
    """Deliveries under a random mix of faults, then a replay: every event ends up stored, once."""
    import random

    rng = random.Random(20260107)
    proxy.hang_seconds = 1.2
    total = 0
    for n in range(6):
        lines = [f'{{"message": "step {n}-{i}", "session_id": "s-{n}"}}' for i in range(rng.randint(5, 40))]
        proxy.faults.extend(
            rng.choice(["reset", "500", "503", "429", "hang", "ok"]) for _ in range(rng.randint(0, 6))
        )
        proxy.always = "500" if n % 3 == 2 else None  # some deliveries meet an outage
        result = invoke(delivery(lines, stream=f"stream-{n}"), timeout_ms=3_000)
        total += result["events"]
        assert result["accepted"] + result["parked"] == result["events"]
        assert stored_events(runtime) + parked_events(sqs, dlq_url) == total
        proxy.faults.clear()
    proxy.always = None
    redrive_now()
    assert stored_events(runtime) == total
    assert dead_letters(sqs, dlq_url) == []


def test_the_feed_command_wraps_a_plain_log_file(local_api: LocalServer, api: Api, tmp_path: Path) -> None:
    from vectadb.local.feed import feed

    log = tmp_path / "agent.log"
    log.write_text((DEMO / "langchain-lambda.log").read_text())
    totals = feed([log], local_api.url, TEST_KEY, log_group="/local", dlq_dir=tmp_path / "dlq")
    again = feed([log], local_api.url, TEST_KEY, log_group="/local", dlq_dir=tmp_path / "dlq")
    assert totals["events"] == again["duplicates"] > 10
    assert totals["parked"] == 0
    errors = api.get("/api/v1/events", event_type="error").body["events"]
    assert [e["source"]["log_group"] for e in errors] == ["/local/agent"]


# The example event of the AWS Lambda documentation for CloudWatch Logs, byte for byte.
AWS_DOCS_EVENT = {
    "awslogs": {
        "data": "H4sIAAAAAAAAAHWPwQqCQBCGX0Xm7EFtK+smZBEUgXoLCdMhFtKV3akI8d0bLYmibvPPN3wz00CJxmQnTO41whwWQRIctmEcB6sQbFC3"
        "CjW3XW8kxpOpP+OC22d1Wml1qZkQGtoMsScxaczKN3plG8zlaHIta5KqWsozoTYw3/djzwhpLwivWFGHGpAFe7DL68JlBUk+l7KSN7tCOEJ4"
        "M3/qOI49vMHj+zCKdlFqLaU2ZHV2a4Ct/an0/ivdX8oYc1UVX860fQDQiMdxRQEAAA=="
    }
}


def test_the_documented_example_event(forwarder: ForwarderRuntime, api: Api) -> None:
    result = invoke(AWS_DOCS_EVENT)
    assert (result["lines"], result["accepted"]) == (2, 2)
    events = api.get("/api/v1/events", order="asc").body["events"]
    assert [(e["event_type"], e["properties"]["message"], e["properties"]["level"]) for e in events] == [
        ("error", "First test message", "ERROR"),
        ("error", "Second test message", "ERROR"),
    ]
    assert events[0]["source"] == {
        "system": "cloudwatch",
        "log_group": "testLogGroup",
        "log_stream": "testLogStream",
        "log_id": "eventId1",
        "owner": "123456789123",
    }
    assert events[0]["timestamp"] == "2015-08-24T19:03:07.000Z"


def test_dead_letters_are_chunked_under_the_message_limit(sqs: Any, dlq_url: str) -> None:
    from vectadb.forwarder.deadletters import DeadLetters

    limit = 20_000
    parked = DeadLetters(sqs, dlq_url, max_message_bytes=limit).park(
        "transient",
        "the API answered 503",
        {"log_group": "/g", "log_stream": "s", "owner": None},
        [{"timestamp": 1767805200000 + i, "properties": {"message": "x" * 900, "i": i}} for i in range(60)],
    )
    messages = []
    while batch := sqs.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        messages += batch
    assert parked.messages == len(messages) >= 3
    assert all(len(m["Body"].encode()) <= limit for m in messages)
    items = [item for m in messages for item in json.loads(m["Body"])["items"]]
    assert sorted(item["event"]["properties"]["i"] for item in items) == list(range(60))
    assert {m["MessageAttributes"]["kind"]["StringValue"] for m in messages} == {"transient"}


def _destination_record(payload: dict[str, Any], condition: str = "RetriesExhausted") -> str:
    """What Lambda writes to an on-failure SQS destination (the documented record shape)."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-01-07T17:05:00.000Z",
            "requestContext": {
                "requestId": "c0ffee00-0000-4000-8000-000000000000",
                "functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:vectadb-parser:$LATEST",
                "condition": condition,
                "approximateInvokeCount": 3,
            },
            "requestPayload": payload,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": "Task timed out after 300.00 seconds"},
        }
    )


def test_lambdas_own_failure_records_are_parsed_and_replayed(
    forwarder: ForwarderRuntime, proxy: FaultProxy, runtime: Runtime, sqs: Any, dlq_url: str
) -> None:
    sqs.send_message(QueueUrl=dlq_url, MessageBody=_destination_record(delivery(AGENT_LINES)))
    sqs.send_message(QueueUrl=dlq_url, MessageBody=_destination_record({"awslogs": {"data": "not gzip"}}))
    sqs.send_message(QueueUrl=dlq_url, MessageBody='{"something": "else"}')

    replayed = redrive_now()
    assert replayed["delivered"] == 2  # the delivery, and the undecodable one (parked as ours)
    assert replayed["events_replayed"] == 5
    # Kept for people: the foreign message, and the undecodable delivery, now parked as ours.
    assert replayed["kept"] == 2
    assert stored_events(runtime) == 5
    kinds = sorted(m["kind"] for m in dead_letters(sqs, dlq_url) if "kind" in m)
    assert kinds == ["undecodable"]

    # Replaying the same record again (an at-least-once redelivery) stores nothing twice.
    sqs.send_message(QueueUrl=dlq_url, MessageBody=_destination_record(delivery(AGENT_LINES)))
    redrive_now()
    assert stored_events(runtime) == 5


def test_a_failure_record_replayed_during_an_outage_becomes_our_dead_letters(
    forwarder: ForwarderRuntime, proxy: FaultProxy, runtime: Runtime, sqs: Any, dlq_url: str
) -> None:
    sqs.send_message(QueueUrl=dlq_url, MessageBody=_destination_record(delivery(AGENT_LINES)))
    proxy.always = "503"
    outage = redrive_now(timeout_ms=3_000)
    assert outage["delivered"] == 1 and outage["events_reparked"] == 5
    assert parked_events(sqs, dlq_url, "transient") == 5  # now parsed events, not a raw record
    proxy.always = None
    redrive_now()
    assert stored_events(runtime) == 5
    assert parked_events(sqs, dlq_url) == 0
