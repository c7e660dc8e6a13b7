"""API keys: generated once, shown once, stored only as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from vectadb.core.config import Settings

KEY_PREFIX = "vdb_"
_SCHEME = "bearer"


class AuthorizerUnauthorized(Exception):
    """Raised by a TOKEN authorizer: API Gateway answers 401 when the error message is 'Unauthorized'."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_for_hash(digest: str) -> str:
    """A stable, non-secret name for a key, used as the principal id and in logs."""
    return "key_" + digest[:12]


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None when malformed."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != _SCHEME or not token or " " in token:
        return None
    return token


class ApiKeyVerifier:
    def __init__(self, digests: Iterable[str]) -> None:
        self._digests = tuple(dict.fromkeys(d.lower() for d in digests))

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiKeyVerifier:
        plaintext = settings.api_keys.get_secret_value() if settings.api_keys else ""
        local = [hash_api_key(k.strip()) for k in plaintext.split(",") if k.strip()]
        return cls([*settings.api_key_hashes, *local])

    def __len__(self) -> int:
        return len(self._digests)

    def verify(self, token: str) -> str | None:
        """The key id when ``token`` is a valid key. Every stored digest is compared, match or not."""
        presented = hash_api_key(token)
        matched: str | None = None
        for digest in self._digests:
            if hmac.compare_digest(presented, digest):
                matched = digest
        return key_id_for_hash(matched) if matched else None
