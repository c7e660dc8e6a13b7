"""API Gateway TOKEN authorizer: ``Authorization: Bearer <key>`` against SHA-256 key digests.

A missing or malformed header gets 401 (the 'Unauthorized' error); an unknown key gets an
explicit Deny, which API Gateway answers with 403. An Allow covers every route of the stage, so
that a cached decision is valid for all routes.
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

from vectadb.auth import ApiKeyVerifier, AuthorizerUnauthorized, bearer_token
from vectadb.config import get_settings

logger = Logger(service="vectadb-authorizer")


@lru_cache(maxsize=1)
def verifier() -> ApiKeyVerifier:
    keys = ApiKeyVerifier.from_settings(get_settings())
    if not len(keys):
        logger.warning("no API keys are configured: every request will be denied")
    return keys


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayAuthorizerTokenEvent(event)
    token = bearer_token(request.authorization_token)
    if token is None:
        logger.info("rejected: missing or malformed Authorization header")
        raise AuthorizerUnauthorized
    key_id = verifier().verify(token)
    policy = APIGatewayAuthorizerResponse.from_route_arn(
        request.method_arn,
        principal_id=key_id or "unknown",
        context={"key_id": key_id or ""},
    )
    if key_id is None:
        logger.info("denied: unknown API key")
        policy.deny_all_routes()
    else:
        logger.append_keys(key_id=key_id)
        logger.debug("allowed")
        policy.allow_all_routes()
    return policy.asdict()
