"""Typed configuration, read from the environment once per cold start.

Every variable is prefixed ``VECTADB_``; lists are comma-separated so that they fit in a Lambda
environment variable or a shell export without JSON quoting.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TraceStatus = Literal["running", "completed", "failed"]

LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
# The proxy event wraps the body in headers and request context; keep room for them.
PROXY_ENVELOPE_RESERVE_BYTES = 64 * 1024


def _csv_items(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return _csv_items(value)
    return value


def _default_terminal_event_types() -> dict[str, TraceStatus]:
    # A Lambda invocation's REPORT ends its trace (an invocation that failed also reports its
    # failure, as agent_error, which outranks it).
    return {
        "agent_end": "completed",
        "lambda_report": "completed",
        "agent_error": "failed",
    }


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VECTADB_", extra="ignore", frozen=True)

    surreal_url: str = "surrealkv://./.vectadb/surreal"
    surreal_namespace: str = "vectadb"
    surreal_database: str = "main"
    surreal_username: str | None = None
    surreal_password: SecretStr | None = None
    # In AWS: a Secrets Manager secret {"username", "password"}, read once per container.
    surreal_secret_arn: str | None = None

    # Local development only: plaintext keys, hashed as soon as they are read.
    api_keys: SecretStr | None = None
    # SHA-256 hex digests of valid keys.
    api_key_hashes: Annotated[tuple[str, ...], NoDecode] = ()
    # In AWS: the DynamoDB table of API keys (by SHA-256 digest), see `python -m vectadb.local.keys`.
    api_key_table: str | None = None

    # "event_type=status" pairs: the event types that end a trace, and the status they give it.
    terminal_event_types: Annotated[dict[str, TraceStatus], NoDecode] = Field(
        default_factory=_default_terminal_event_types
    )
    # A running trace with no event for this long is shown as abandoned (still running: a late
    # end can finish it). 15 minutes is the longest a Lambda invocation can run.
    trace_abandoned_after_seconds: int = Field(default=900, ge=1)
    # Event types counted as errors (besides any event whose properties.level is error or worse).
    error_event_types: Annotated[frozenset[str], NoDecode] = frozenset({"error", "agent_error"})

    # Semantic search: a model directory made by `python -m layers.model.build`, and Qdrant.
    semantic_search: bool = True
    model_dir: Path = Path("build/model")
    # When set, the directory must hold this model (a guard against deploying the wrong layer).
    embedding_model: str | None = None
    model_cache_dir: Path | None = None  # fastembed wants a writable directory even for local files
    embedding_batch_size: int = Field(default=32, ge=1, le=256)
    embedding_cache_size: int = Field(default=10_000, ge=0)
    embedding_threads: int | None = Field(default=None, ge=1)
    # ":memory:", a directory for the journaled local mode, or an http(s) URL of a Qdrant server.
    qdrant_url: str = "./.vectadb/qdrant"
    qdrant_api_key: SecretStr | None = None
    qdrant_api_key_secret_arn: str | None = None
    qdrant_collection: str = Field(default="events", pattern=r"^[A-Za-z0-9_-]{1,64}$")

    retention_days: int = Field(default=30, ge=1, le=3650)
    secret_max_age_seconds: int = Field(default=300, ge=0)

    max_batch_events: int = Field(default=1000, ge=1, le=10_000)
    max_body_bytes: int = Field(
        default=LAMBDA_SYNC_PAYLOAD_BYTES - PROXY_ENVELOPE_RESERVE_BYTES,
        ge=1024,
        le=LAMBDA_SYNC_PAYLOAD_BYTES,
    )
    future_tolerance_seconds: int = Field(default=300, ge=0)

    @field_validator("api_key_hashes", mode="before")
    @classmethod
    def _hashes_csv(cls, value: object) -> object:
        hashes = _split_csv(value)
        if isinstance(hashes, tuple):
            return tuple(h.lower() for h in hashes)
        return hashes

    @field_validator("api_key_hashes")
    @classmethod
    def _hashes_are_sha256(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for digest in value:
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError("each API key hash must be 64 hex characters (SHA-256)")
        return value

    @field_validator("error_event_types", mode="before")
    @classmethod
    def _types_csv(cls, value: object) -> object:
        parsed = _split_csv(value)
        return frozenset(parsed) if isinstance(parsed, tuple) else parsed

    @field_validator("terminal_event_types", mode="before")
    @classmethod
    def _terminal_pairs(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for item in _csv_items(value):
            event_type, sep, status = item.partition("=")
            if not sep or not event_type.strip():
                raise ValueError(f"expected 'event_type=status' pairs, got {item!r}")
            pairs[event_type.strip()] = status.strip()
        return pairs

    @field_validator("terminal_event_types")
    @classmethod
    def _terminal_not_running(cls, value: dict[str, TraceStatus]) -> dict[str, TraceStatus]:
        if "running" in value.values():
            raise ValueError("a terminal event type must map to 'completed' or 'failed'")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once (a Lambda cold start)."""
    return Settings()


class ParserSettings(BaseSettings):
    """The parser and redrive functions: where to send, where to park, how to parse."""

    model_config = SettingsConfigDict(env_prefix="VECTADB_", extra="ignore", frozen=True)

    api_url: str | None = None
    api_key: SecretStr | None = None  # local use; in AWS the key is a secret
    api_key_secret_arn: str | None = None
    dlq_url: str | None = None
    # A YAML file, or an SSM parameter ("ssm:/name", or a name that is not an existing file).
    parser_rules: str | None = None
    drop_start_end: bool = True
    session_from_log_stream: bool = False

    batch_max_events: int = Field(default=100, ge=1, le=100)
    batch_max_bytes: int = Field(
        default=1_000_000, ge=10_000, le=LAMBDA_SYNC_PAYLOAD_BYTES - PROXY_ENVELOPE_RESERVE_BYTES
    )
    http_connect_timeout: float = Field(default=3.05, gt=0)
    http_read_timeout: float = Field(default=30.0, gt=0)
    retry_base_seconds: float = Field(default=0.2, gt=0)
    retry_cap_seconds: float = Field(default=10.0, gt=0)
    # Kept back from the Lambda's remaining time, to park what is left in the DLQ.
    deadline_reserve_seconds: float = Field(default=5.0, ge=0)
    dlq_max_message_bytes: int = Field(default=1_000_000, ge=10_000, le=1_048_576)  # SQS: 1 MiB
    secret_max_age_seconds: int = Field(default=300, ge=0)


@lru_cache(maxsize=1)
def get_parser_settings() -> ParserSettings:
    return ParserSettings()
