from __future__ import annotations

import hashlib

import pytest
from pydantic import ValidationError

from vectadb.core.auth import ApiKeyVerifier, bearer_token, generate_api_key, hash_api_key, key_id_for_hash
from vectadb.core.config import Settings


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("  Bearer   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer a b", None),
        ("abc", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_parsing(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_generated_keys_are_long_and_distinct() -> None:
    keys = {generate_api_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith("vdb_") and len(k) >= 40 for k in keys)


def test_verifier_knows_keys_only_by_digest() -> None:
    key = generate_api_key()
    digest = hashlib.sha256(key.encode()).hexdigest()
    verifier = ApiKeyVerifier([digest.upper()])
    assert verifier.verify(key) == key_id_for_hash(digest)
    assert verifier.verify(key + "x") is None
    assert verifier.verify(digest) is None  # the digest itself is not a key
    assert key not in repr(vars(verifier))


def test_settings_accept_plaintext_keys_locally_and_digests_in_deployments() -> None:
    digest = hash_api_key("vdb_deployed")
    settings = Settings(api_keys="vdb_local1, vdb_local2", api_key_hashes=f"{digest},")
    verifier = ApiKeyVerifier.from_settings(settings)
    assert len(verifier) == 3
    assert verifier.verify("vdb_local2") is not None
    assert verifier.verify("vdb_deployed") is not None
    assert "vdb_local1" not in repr(settings)  # SecretStr keeps it out of logs and reprs


def test_bad_digest_configuration_is_refused() -> None:
    with pytest.raises(ValidationError, match="64 hex characters"):
        Settings(api_key_hashes="not-a-digest")
