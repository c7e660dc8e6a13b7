"""What a process needs to serve requests, built once per container and shared by its invocations."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from vectadb.core.config import Settings, get_settings
from vectadb.semantic.index import SemanticIndex
from vectadb.service.ingestion import IngestPolicy
from vectadb.stores.base import EventStore
from vectadb.stores.surreal import SurrealStore


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    store: EventStore
    policy: IngestPolicy
    semantic: SemanticIndex

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        username, password = surreal_credentials(settings)
        store = SurrealStore(
            settings.surreal_url,
            namespace=settings.surreal_namespace,
            database=settings.surreal_database,
            username=username,
            password=password,
        )
        try:
            store.ensure_schema()
            semantic = SemanticIndex.from_settings(settings)
        except Exception:
            store.close()
            raise
        return cls(
            settings=settings, store=store, policy=IngestPolicy.from_settings(settings), semantic=semantic
        )

    def close(self) -> None:
        self.semantic.close()
        self.store.close()


def surreal_credentials(settings: Settings) -> tuple[str | None, str | None]:
    """From a Secrets Manager secret in AWS (cached by Powertools), else from the environment."""
    if settings.surreal_secret_arn:
        from aws_lambda_powertools.utilities import parameters

        secret = parameters.get_secret(
            settings.surreal_secret_arn, transform="json", max_age=settings.secret_max_age_seconds
        )
        return secret["username"], secret["password"]
    password = settings.surreal_password.get_secret_value() if settings.surreal_password else None
    return settings.surreal_username, password


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The container's runtime, connected on first use (a failed connection is retried next time)."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime.from_settings(get_settings())
    return _runtime


def set_runtime(runtime: Runtime | None) -> Runtime | None:
    """Install a runtime (the local server, tests); returns the one it replaces."""
    global _runtime
    with _lock:
        previous, _runtime = _runtime, runtime
    return previous
