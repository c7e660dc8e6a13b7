"""API Gateway TOKEN authorizer: ``Authorization: Bearer <key>`` against SHA-256 key digests.

Keys come from the DynamoDB table of a deployment (VECTADB_API_KEY_TABLE) and, for local use,
from VECTADB_API_KEYS / VECTADB_API_KEY_HASHES. A missing or malformed header gets 401 (the
'Unauthorized' error); an unknown key gets an explicit Deny, which API Gateway answers with 403.
An Allow covers every route of the stage, so that a cached decision is valid for all routes, and
carries the key's usage-plan key as ``usageIdentifierKey`` for per-key throttling.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from vectadb.core.auth import ApiKeyVerifier, AuthorizerUnauthorized, bearer_token
from vectadb.core.config import get_settings
from vectadb.stores.key_table import DynamoKeyStore, KeyMatch

logger = Logger(service="vectadb-authorizer")


@lru_cache(maxsize=1)
def verifier() -> ApiKeyVerifier:
    return ApiKeyVerifier.from_settings(get_settings())


@lru_cache(maxsize=1)
def key_table() -> DynamoKeyStore | None:
    table = get_settings().api_key_table
    return DynamoKeyStore(table) if table else None


def authenticate(token: str) -> KeyMatch | None:
    key_id = verifier().verify(token)
    if key_id is not None:
        return KeyMatch(key_id, None)
    table = key_table()
    return table.verify(token) if table is not None else None


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayAuthorizerTokenEvent(event)
    token = bearer_token(request.authorization_token)
    if token is None:
        logger.info("rejected: missing or malformed Authorization header")
        raise AuthorizerUnauthorized
    match = authenticate(token)
    policy = APIGatewayAuthorizerResponse.from_route_arn(
        request.method_arn,
        principal_id=match.key_id if match else "unknown",
        context={"key_id": match.key_id if match else ""},
        usage_identifier_key=match.usage_key if match else None,
    )
    if match is None:
        logger.info("denied: unknown API key")
        policy.deny_all_routes()
    else:
        logger.append_keys(key_id=match.key_id)
        logger.debug("allowed")
        policy.allow_all_routes()
    return policy.asdict()
