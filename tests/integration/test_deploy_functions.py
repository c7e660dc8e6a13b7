"""The functions a deployment adds: API keys in DynamoDB with usage-plan keys, the authorizer on
them, the custom resources (log-group prefixes, the parser's key), and the scheduled jobs.
AWS services are moto's; everything of ours is real."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import Api
from vectadb.core.auth import hash_api_key
from vectadb.local.context import LocalContext
from vectadb.local.keys import main
from vectadb.service.api_runtime import Runtime
from vectadb.service.keys import create_key, revoke_key
from vectadb.stores.key_table import DynamoKeyStore

METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/POST/api/v1/events/batch"


@pytest.fixture
def table(aws: None) -> str:
    boto3.client("dynamodb").create_table(
        TableName="vectadb-keys",
        KeySchema=[{"AttributeName": "key_hash", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key_hash", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "vectadb-keys"


@pytest.fixture
def usage_plan(aws: None) -> str:
    return boto3.client("apigateway").create_usage_plan(name="vectadb")["id"]


def test_created_keys_are_stored_as_digests_with_a_usage_plan_key(table: str, usage_plan: str) -> None:
    store = DynamoKeyStore(table)
    key, record = create_key(store, "alice's agents", usage_plan)
    item = boto3.client("dynamodb").get_item(TableName=table, Key={"key_hash": {"S": hash_api_key(key)}})[
        "Item"
    ]
    assert key not in json.dumps(item)  # only the digest
    assert item["key_id"]["S"] == record.key_id
    plan_keys = boto3.client("apigateway").get_usage_plan_keys(usagePlanId=usage_plan)["items"]
    assert [k["id"] for k in plan_keys] == [record.usage_key_id]
    match = store.verify(key)
    assert match is not None and (match.key_id, match.usage_key) == (record.key_id, record.usage_key)
    assert store.verify(key + "x") is None
    assert revoke_key(store, record.key_id) is True
    assert store.verify(key) is None
    assert boto3.client("apigateway").get_usage_plan_keys(usagePlanId=usage_plan)["items"] == []


def test_the_keys_command(table: str, usage_plan: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create", "--table", table, "--usage-plan", usage_plan, "--description", "ci"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["api_key"].startswith("vdb_")
    assert main(["list", "--table", table]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["key_id"] == created["key_id"]
    assert "key_hash" not in listed and "usage_key" not in listed
    assert main(["revoke", "--table", table, "--key-id", created["key_id"]]) == 0
    assert main(["revoke", "--table", table, "--key-id", created["key_id"]]) == 1


def test_the_authorizer_on_the_key_table(
    table: str, usage_plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VECTADB_API_KEY_TABLE", table)
    monkeypatch.delenv("VECTADB_API_KEYS", raising=False)
    from authorizer import handler as module
    from vectadb.core.config import get_settings

    get_settings.cache_clear()
    module.verifier.cache_clear()
    module.key_table.cache_clear()
    try:
        key, record = create_key(DynamoKeyStore(table), "bob", usage_plan)
        event = {"type": "TOKEN", "authorizationToken": f"Bearer {key}", "methodArn": METHOD_ARN}
        allowed = module.handler(event, LocalContext(function_name="authorizer"))
        assert allowed["principalId"] == record.key_id
        assert allowed["usageIdentifierKey"] == record.usage_key
        assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        denied = module.handler(
            event | {"authorizationToken": "Bearer vdb_nope"}, LocalContext(function_name="a")
        )
        assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
        assert "usageIdentifierKey" not in denied
    finally:
        module.verifier.cache_clear()
        module.key_table.cache_clear()


def _cfn(request: str, props: dict[str, Any], physical: str | None = None, old: dict | None = None) -> dict:
    event: dict[str, Any] = {"RequestType": request, "ResourceProperties": props}
    if physical:
        event["PhysicalResourceId"] = physical
    if old:
        event["OldResourceProperties"] = old
    return event


def test_prefixes_are_expanded_into_subscriptions_but_never_vectadbs_own(aws: None) -> None:
    from subscriptions.handler import handler

    logs = boto3.client("logs")
    for name in ("/aws/lambda/agent-a", "/aws/lambda/agent-b", "/aws/lambda/vectadb-parser", "/ecs/other"):
        logs.create_log_group(logGroupName=name)
    # moto cannot invoke a Lambda destination; the handler does not care what the destination is.
    boto3.client("kinesis").create_stream(StreamName="logs", ShardCount=1)
    destination = boto3.client("kinesis").describe_stream(StreamName="logs")["StreamDescription"]["StreamARN"]
    props = {
        "Prefixes": ["/aws/lambda/"],
        "Exclude": ["/aws/lambda/vectadb-"],
        "FilterName": "vectadb",
        "FilterPattern": "",
        "DestinationArn": destination,
    }
    result = handler(_cfn("Create", props), LocalContext(function_name="subscriptions"))
    assert result["Data"]["Subscribed"] == 2

    def filters(name: str) -> list[str]:
        return [
            f["filterName"]
            for f in logs.describe_subscription_filters(logGroupName=name)["subscriptionFilters"]
        ]

    assert filters("/aws/lambda/agent-a") == filters("/aws/lambda/agent-b") == ["vectadb"]
    assert filters("/aws/lambda/vectadb-parser") == filters("/ecs/other") == []

    # The schedule follows log groups created since the deploy.
    logs.create_log_group(logGroupName="/aws/lambda/agent-c")
    handler({"RequestType": "Sync", "ResourceProperties": props}, LocalContext(function_name="s"))
    assert filters("/aws/lambda/agent-c") == ["vectadb"]

    # An update that narrows the prefixes lets the dropped groups go, and keeps the others.
    narrowed = props | {"Prefixes": ["/aws/lambda/agent-a"]}
    handler(
        _cfn("Update", narrowed, result["PhysicalResourceId"], old=props), LocalContext(function_name="s")
    )
    assert filters("/aws/lambda/agent-a") == ["vectadb"]
    assert filters("/aws/lambda/agent-b") == filters("/aws/lambda/agent-c") == []
    handler(
        _cfn("Delete", narrowed, result["PhysicalResourceId"]), LocalContext(function_name="subscriptions")
    )
    assert filters("/aws/lambda/agent-a") == []


def test_the_parser_key_is_made_at_deploy(table: str, usage_plan: str) -> None:
    from servicekey.handler import handler

    secret = boto3.client("secretsmanager").create_secret(Name="vectadb/parser", SecretString="{}")["ARN"]
    props = {"Table": table, "UsagePlanId": usage_plan, "SecretArn": secret, "Description": "parser"}
    created = handler(_cfn("Create", props), LocalContext(function_name="servicekey"))
    stored = json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"])
    assert DynamoKeyStore(table).verify(stored["api_key"]).key_id == created["PhysicalResourceId"]  # type: ignore[union-attr]
    updated = handler(_cfn("Update", props, created["PhysicalResourceId"]), LocalContext(function_name="s"))
    assert updated["PhysicalResourceId"] == created["PhysicalResourceId"]  # the same key across updates
    handler(_cfn("Delete", props, created["PhysicalResourceId"]), LocalContext(function_name="servicekey"))
    assert DynamoKeyStore(table).verify(stored["api_key"]) is None


def test_the_scheduled_jobs(api: Api, runtime: Runtime) -> None:
    from reindex.handler import handler as reindex_handler
    from retention.handler import handler as retention_handler

    old = (datetime.now(UTC) - timedelta(days=45)).isoformat()
    working = runtime.semantic
    from vectadb.semantic.index import SemanticIndex

    object.__setattr__(runtime, "semantic", SemanticIndex.off("pretend Qdrant was down"))
    try:
        api.post(
            "/api/v1/events/batch",
            {
                "events": [
                    {"timestamp": old, "event_type": "log", "properties": {"message": f"old {i}"}}
                    for i in range(3)
                ]
            },
        )
    finally:
        object.__setattr__(runtime, "semantic", working)
    reindexed = reindex_handler({}, LocalContext(function_name="vectadb-reindex"))
    assert (reindexed["indexed"], reindexed["remaining"]) == (3, 0)
    expired = retention_handler({}, LocalContext(function_name="vectadb-retention"))
    assert (expired["events_deleted"], expired["finished"]) == (3, True)
    assert working.index is not None and working.index.count() == 0
