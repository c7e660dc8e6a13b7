"""API keys in a deployment: a key is made once and shown once; only its digest is stored. Each key
also gets an API Gateway API key in the usage plan: the authorizer returns it as
``usageIdentifierKey``, so that throttling and quotas apply per key (that value only meters; it does
not authenticate)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from vectadb.core.auth import generate_api_key, hash_api_key, key_id_for_hash
from vectadb.stores.key_table import DynamoKeyStore, KeyRecord


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
