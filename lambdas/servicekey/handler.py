"""CloudFormation custom resource: the parser's own API key, made at deploy.

Create: a key in the key table, its usage-plan key, and the clear key written into the parser's
secret (the only place it exists). Delete: the key is revoked. Properties: Table, UsagePlanId,
SecretArn, Description.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from vectadb.service.keys import create_key, revoke_key
from vectadb.stores.key_table import DynamoKeyStore

logger = Logger(service="vectadb-servicekey")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    props = event["ResourceProperties"]
    store = DynamoKeyStore(props["Table"])
    if event["RequestType"] == "Delete":
        revoke_key(store, event["PhysicalResourceId"])
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    if event["RequestType"] == "Update" and event.get("PhysicalResourceId", "").startswith("key_"):
        return {"PhysicalResourceId": event["PhysicalResourceId"]}  # keep the key across updates
    key, record = create_key(store, props.get("Description", "VectaDB parser"), props.get("UsagePlanId"))
    boto3.client("secretsmanager").put_secret_value(
        SecretId=props["SecretArn"], SecretString=json.dumps({"api_key": key, "key_id": record.key_id})
    )
    logger.info("service key created", extra={"key_id": record.key_id})
    return {"PhysicalResourceId": record.key_id, "Data": {"KeyId": record.key_id}}
