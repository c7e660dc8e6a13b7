"""What every vector index shares: the point of an event, the payload fields it can be filtered on,
the filters, and the interface the semantic layer asks of an engine (vector_index.py: Qdrant through
qdrant-client; edge_index.py: Qdrant's in-process engine)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from vectadb.core.errors import VectaError

POINT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://vectadb.dev/agent_event")
KEYWORD_FIELDS = ("event_id", "trace_id", "session_id", "agent_id", "event_type")
TIME_FIELD = "timestamp"  # epoch milliseconds


class ModelMismatch(VectaError):
    code = "model_mismatch"


def point_id(event_id: str) -> str:
    """UUIDv5 of the event id: upserting an event again replaces its point."""
    return str(uuid.uuid5(POINT_NAMESPACE, event_id))


@dataclass(frozen=True, slots=True)
class VectorFilters:
    event_type: str | None = None
    session_id: str | None = None
    trace_id: str | None = None
    agent_id: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None


class VectorIndex(Protocol):
    """What the semantic layer asks of a vector index (Qdrant server or memory, or the local engine)."""

    @property
    def mode(self) -> str: ...

    def metadata(self) -> dict[str, Any] | None: ...

    def ensure_collection(self, identity: dict[str, Any]) -> None: ...

    def rebuild(self, identity: dict[str, Any]) -> None: ...

    def upsert(
        self, event_ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[dict[str, Any]]
    ) -> None: ...

    def delete(self, event_ids: Sequence[str]) -> None: ...

    def delete_before(self, cutoff_ms: int) -> None: ...

    def vector_of(self, event_id: str) -> np.ndarray | None: ...

    def search(
        self,
        vector: np.ndarray,
        limit: int,
        filters: VectorFilters | None = None,
        exclude_event_id: str | None = None,
    ) -> list[tuple[str, float]]: ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def describe_identity(identity: dict[str, Any]) -> str:
    return f"{identity.get('model')} ({identity.get('dim')}-dim, quantization {identity.get('quantization')})"


def mismatch_message(where: str, current: dict[str, Any], identity: dict[str, Any]) -> str:
    return (
        f"{where} holds vectors of {describe_identity(current)}, but this service embeds with "
        f"{describe_identity(identity)}; vectors of two models cannot be compared. Re-embed every "
        'event with the current model: POST /api/v1/reindex {"rebuild": true}, or run '
        "`python -m vectadb.local.reindex --rebuild`; or configure the model that made the collection."
    )
