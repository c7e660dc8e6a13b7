"""The TOKEN authorizer with the event API Gateway sends it."""

from __future__ import annotations

import pytest

from vectadb.core.auth import AuthorizerUnauthorized, hash_api_key, key_id_for_hash
from vectadb.local.server import LocalContext

KEY = "vdb_unit-test-key-abcdefghijklmnopqrstuvwxyz012345"
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/api/v1/events"


@pytest.fixture
def authorizer(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VECTADB_API_KEY_HASHES", hash_api_key(KEY))
    monkeypatch.delenv("VECTADB_API_KEYS", raising=False)
    from authorizer import handler as module

    module.verifier.cache_clear()
    module.key_table.cache_clear()
    yield module.handler
    module.verifier.cache_clear()
    module.key_table.cache_clear()


def _event(token: str) -> dict:
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": METHOD_ARN}


def test_valid_key_is_allowed_on_every_route_of_the_stage(authorizer) -> None:
    policy = authorizer(_event(f"Bearer {KEY}"), LocalContext(function_name="authorizer"))
    assert policy["principalId"] == key_id_for_hash(hash_api_key(KEY))
    assert policy["context"] == {"key_id": policy["principalId"]}
    (statement,) = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "execute-api:Invoke"
    # Cached decisions are reused across routes, so the grant must cover them all.
    assert statement["Resource"] == ["arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*/*"]


def test_unknown_key_gets_an_explicit_deny(authorizer) -> None:
    policy = authorizer(_event("Bearer vdb_wrong"), LocalContext(function_name="authorizer"))
    (statement,) = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"


@pytest.mark.parametrize("token", ["", "Basic dXNlcjpwYXNz", KEY, "Bearer"])
def test_malformed_header_is_unauthorized(authorizer, token: str) -> None:
    with pytest.raises(AuthorizerUnauthorized) as exc:
        authorizer(_event(token), LocalContext(function_name="authorizer"))
    assert str(exc.value) == "Unauthorized"  # API Gateway maps exactly this message to 401


def test_keys_never_reach_the_logs(authorizer, capsys: pytest.CaptureFixture[str]) -> None:
    authorizer(_event(f"Bearer {KEY}"), LocalContext(function_name="authorizer"))
    authorizer(_event("Bearer vdb_guess"), LocalContext(function_name="authorizer"))
    with pytest.raises(AuthorizerUnauthorized):
        authorizer(_event(KEY), LocalContext(function_name="authorizer"))
    out = capsys.readouterr()
    assert KEY not in out.out + out.err
    assert "vdb_guess" not in out.out + out.err
