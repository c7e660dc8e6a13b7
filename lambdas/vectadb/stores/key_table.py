"""The API key table of a deployment: DynamoDB items of SHA-256 digests (never a key in clear)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from vectadb.core.auth import hash_api_key


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
