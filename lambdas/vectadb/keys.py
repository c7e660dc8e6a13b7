"""API keys in a deployment: a DynamoDB table of SHA-256 digests, and API Gateway usage-plan keys.

    python -m vectadb.keys create --table TABLE [--usage-plan ID] [--description TEXT]
    python -m vectadb.keys list   --table TABLE
    python -m vectadb.keys revoke --table TABLE --key-id key_0123456789ab

``create`` prints the key once; only its digest is stored. Each key also gets an API Gateway API
key in the usage plan: the authorizer returns it as ``usageIdentifierKey``, so that throttling and
quotas apply per key (that value only meters; it does not authenticate).
"""

from __future__ import annotations

import argparse
import hmac
import json
import secrets
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from vectadb.auth import generate_api_key, hash_api_key, key_id_for_hash


@dataclass(frozen=True)
class KeyRecord:
    key_hash: str
    key_id: str
    description: str
    created_at: str
    usage_key_id: str | None = None
    usage_key: str | None = None
    usage_plan_id: str | None = None
    revoked: bool = False


@dataclass(frozen=True)
class KeyMatch:
    key_id: str
    usage_key: str | None


class DynamoKeyStore:
    """Keys looked up by digest: the presented key is hashed, then compared in constant time."""

    def __init__(self, table_name: str, dynamodb: Any = None) -> None:
        if dynamodb is None:
            import boto3

            dynamodb = boto3.client("dynamodb")
        self._db = dynamodb
        self.table = table_name

    def verify(self, token: str) -> KeyMatch | None:
        digest = hash_api_key(token)
        item = self._db.get_item(
            TableName=self.table, Key={"key_hash": {"S": digest}}, ConsistentRead=True
        ).get("Item")
        if not item or item.get("revoked", {}).get("BOOL"):
            return None
        if not hmac.compare_digest(item["key_hash"]["S"], digest):
            return None
        return KeyMatch(item["key_id"]["S"], item.get("usage_key", {}).get("S"))

    def put(self, record: KeyRecord) -> None:
        item: dict[str, Any] = {
            "key_hash": {"S": record.key_hash},
            "key_id": {"S": record.key_id},
            "description": {"S": record.description},
            "created_at": {"S": record.created_at},
            "revoked": {"BOOL": record.revoked},
        }
        if record.usage_key_id and record.usage_key and record.usage_plan_id:
            item["usage_key_id"] = {"S": record.usage_key_id}
            item["usage_key"] = {"S": record.usage_key}
            item["usage_plan_id"] = {"S": record.usage_plan_id}
        self._db.put_item(
            TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(key_hash)"
        )

    def records(self) -> list[KeyRecord]:
        out = []
        for page in self._db.get_paginator("scan").paginate(TableName=self.table):
            for item in page["Items"]:
                out.append(
                    KeyRecord(
                        key_hash=item["key_hash"]["S"],
                        key_id=item["key_id"]["S"],
                        description=item.get("description", {}).get("S", ""),
                        created_at=item.get("created_at", {}).get("S", ""),
                        usage_key_id=item.get("usage_key_id", {}).get("S"),
                        usage_key=item.get("usage_key", {}).get("S"),
                        usage_plan_id=item.get("usage_plan_id", {}).get("S"),
                        revoked=item.get("revoked", {}).get("BOOL", False),
                    )
                )
        return out

    def mark_revoked(self, key_hash: str) -> None:
        self._db.update_item(
            TableName=self.table,
            Key={"key_hash": {"S": key_hash}},
            UpdateExpression="SET revoked = :true",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )


def create_key(
    store: DynamoKeyStore, description: str, usage_plan_id: str | None = None, apigateway: Any = None
) -> tuple[str, KeyRecord]:
    """A new key (returned once, in clear) and its stored record."""
    key = generate_api_key()
    digest = hash_api_key(key)
    key_id = key_id_for_hash(digest)
    usage_key_id = usage_key = None
    if usage_plan_id:
        if apigateway is None:
            import boto3

            apigateway = boto3.client("apigateway")
        usage_key = secrets.token_urlsafe(30)
        created = apigateway.create_api_key(
            name=f"vectadb-{key_id}", description=description[:120], enabled=True, value=usage_key
        )
        usage_key_id = created["id"]
        apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=usage_key_id, keyType="API_KEY")
    record = KeyRecord(
        key_hash=digest,
        key_id=key_id,
        description=description,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        usage_key_id=usage_key_id,
        usage_key=usage_key,
        usage_plan_id=usage_plan_id,
    )
    store.put(record)
    return key, record


def revoke_key(store: DynamoKeyStore, key_id: str, apigateway: Any = None) -> bool:
    """Revoke by key id; the record stays (marked), its usage-plan key is deleted."""
    for record in store.records():
        if record.key_id == key_id and not record.revoked:
            store.mark_revoked(record.key_hash)
            if record.usage_key_id:
                if apigateway is None:
                    import boto3

                    apigateway = boto3.client("apigateway")
                if record.usage_plan_id:
                    apigateway.delete_usage_plan_key(
                        usagePlanId=record.usage_plan_id, keyId=record.usage_key_id
                    )
                apigateway.delete_api_key(apiKey=record.usage_key_id)
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="make a key and print it once")
    create.add_argument("--table", required=True)
    create.add_argument("--usage-plan", default=None)
    create.add_argument("--description", default="")
    listing = sub.add_parser("list", help="the keys (never their values)")
    listing.add_argument("--table", required=True)
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("--table", required=True)
    revoke.add_argument("--key-id", required=True)
    args = parser.parse_args(argv)
    store = DynamoKeyStore(args.table)
    if args.command == "create":
        key, record = create_key(store, args.description, args.usage_plan)
        print(json.dumps({"api_key": key, "key_id": record.key_id, "usage_key_id": record.usage_key_id}))
        print("Keep the key now: only its SHA-256 digest is stored.", file=sys.stderr)
        return 0
    if args.command == "list":
        for record in store.records():
            shown = {k: v for k, v in asdict(record).items() if k not in ("key_hash", "usage_key")}
            print(json.dumps(shown))
        return 0
    if not revoke_key(store, args.key_id):
        print(f"vectadb: no active key {args.key_id}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
