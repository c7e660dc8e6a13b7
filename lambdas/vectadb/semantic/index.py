"""The semantic layer: embed events into Qdrant, search them, and rebuild the index from SurrealDB.

SurrealDB is the source of truth; Qdrant is an index that can always be rebuilt from it. Each
event carries an ``indexed`` flag, set only once its vector is in Qdrant. When the vector step
fails (Qdrant down, model error, no time left) the events stay stored and unflagged, and
``reindex`` embeds whatever is unflagged later. Nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from vectadb.core.config import Settings
from vectadb.core.errors import StoreUnavailable, VectaError
from vectadb.core.event_text import event_text
from vectadb.core.models import to_millis
from vectadb.semantic.embedder import Embedder, ModelUnavailable
from vectadb.semantic.engines import open_vector_index
from vectadb.semantic.vectors import ModelMismatch, VectorFilters, VectorIndex
from vectadb.stores.base import EventRecord

logger = logging.getLogger(__name__)


class SemanticUnavailable(VectaError):
    code = "semantic_unavailable"


class NotIndexed(VectaError):
    code = "event_not_indexed"


@dataclass(frozen=True, slots=True)
class IndexTarget:
    """What one vector point is made of."""

    event_id: str
    timestamp_ms: int
    trace_id: str | None
    session_id: str | None
    agent_id: str | None
    event_type: str | None
    properties: Mapping[str, Any]

    @classmethod
    def from_record(cls, record: EventRecord) -> IndexTarget:
        return cls(
            record.event_id,
            record.timestamp_ms,
            record.trace_id,
            record.session_id,
            record.agent_id,
            record.event_type,
            record.properties,
        )

    @classmethod
    def from_stored(cls, event: Mapping[str, Any]) -> IndexTarget:
        timestamp = event["timestamp"]
        return cls(
            event["event_id"],
            to_millis(timestamp) if isinstance(timestamp, datetime) else int(timestamp),
            event.get("trace_id"),
            event.get("session_id"),
            event.get("agent_id"),
            event.get("event_type"),
            event.get("properties") or {},
        )

    def payload(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "trace_id": self.trace_id,
            "session_id": self.session_id,
            "agent_id": self.agent_id,
            "event_type": self.event_type,
            "timestamp": self.timestamp_ms,
        }


class SemanticIndex:
    """The embedder and the vector index, or the reason why there are none."""

    def __init__(
        self,
        embedder: Embedder | None,
        index: VectorIndex | None,
        problem: VectaError | None = None,
    ) -> None:
        self.embedder = embedder
        self.index = index
        self.problem = problem

    @classmethod
    def from_settings(cls, settings: Settings) -> SemanticIndex:
        if not settings.semantic_search:
            return cls(
                None, None, SemanticUnavailable("semantic search is turned off (VECTADB_SEMANTIC_SEARCH)")
            )
        try:
            embedder = Embedder(
                settings.model_dir,
                cache_size=settings.embedding_cache_size,
                batch_size=settings.embedding_batch_size,
                threads=settings.embedding_threads,
                cache_dir=settings.model_cache_dir,
            )
        except VectaError as exc:
            logger.warning("semantic search is unavailable: %s", exc.message)
            return cls(None, None, exc)
        if settings.embedding_model and settings.embedding_model != embedder.info.model:
            problem = ModelUnavailable(
                f"VECTADB_EMBEDDING_MODEL is {settings.embedding_model}, but {settings.model_dir} "
                f"holds {embedder.info.model}"
            )
            logger.error("semantic search is unavailable: %s", problem.message)
            return cls(None, None, problem)
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        if settings.qdrant_api_key_secret_arn:
            from aws_lambda_powertools.utilities import parameters

            api_key = str(
                parameters.get_secret(
                    settings.qdrant_api_key_secret_arn, max_age=settings.secret_max_age_seconds
                )
            )
        index = open_vector_index(settings.qdrant_url, api_key=api_key, collection=settings.qdrant_collection)
        semantic = cls(embedder, index)
        semantic.check()
        return semantic

    @classmethod
    def off(cls, reason: str) -> SemanticIndex:
        return cls(None, None, SemanticUnavailable(reason))

    @property
    def configured(self) -> bool:
        """A model and an index are set up (they may still be unusable for a while)."""
        return self.embedder is not None and self.index is not None

    def check(self) -> bool:
        """Whether vectors can be written and searched now; retries a transient problem."""
        embedder, index = self.embedder, self.index
        if embedder is None or index is None:  # not configured
            return False
        if self.problem is not None and not isinstance(self.problem, StoreUnavailable):
            return False
        try:
            index.ensure_collection(embedder.info.identity)
        except (ModelMismatch, StoreUnavailable) as exc:
            if self.problem is None or type(self.problem) is not type(exc):
                logger.error("semantic index unavailable: %s", exc.message)
            self.problem = exc
            return False
        self.problem = None
        return True

    def ready(self) -> tuple[Embedder, VectorIndex]:
        """The embedder and the index, or the error that says why they cannot be used."""
        if not self.check():
            raise self.problem or SemanticUnavailable("semantic search is not configured")
        assert self.embedder is not None
        assert self.index is not None
        return self.embedder, self.index

    # -- writes ------------------------------------------------------------------------------

    def index_events(self, targets: Sequence[IndexTarget], deadline: float | None = None) -> list[str]:
        """Embed (one embedding batch at a time, until done or ``deadline``), then upsert once.

        Returns the ids now in the index. Raises when the index cannot be written at all.
        """
        embedder, index = self.ready()
        step = max(embedder.batch_size, 1)
        vectors: list[np.ndarray] = []
        for start in range(0, len(targets), step):
            if deadline is not None and time.monotonic() > deadline:
                logger.warning("no time left to embed %d events; reindex will", len(targets) - start)
                break
            chunk = targets[start : start + step]
            vectors += embedder.embed(
                [event_text(t.event_type, t.properties, embedder.info.max_tokens) for t in chunk]
            )
        done = targets[: len(vectors)]
        if done:
            index.upsert([t.event_id for t in done], np.stack(vectors), [t.payload() for t in done])
        return [t.event_id for t in done]

    def rebuild(self) -> None:
        """Re-create the collection for the configured model; every vector is dropped."""
        if self.embedder is None or self.index is None:
            raise self.problem or SemanticUnavailable("semantic search is not configured")
        self.index.rebuild(self.embedder.info.identity)
        self.problem = None

    # -- reads -------------------------------------------------------------------------------

    def search(self, query: str, limit: int, filters: VectorFilters | None = None) -> list[tuple[str, float]]:
        embedder, index = self.ready()
        (vector,) = embedder.embed([query])
        return index.search(vector, limit, filters)

    def similar(
        self, event_id: str, limit: int, filters: VectorFilters | None = None
    ) -> list[tuple[str, float]]:
        _, index = self.ready()
        vector = index.vector_of(event_id)
        if vector is None:
            raise NotIndexed(f"event {event_id} has no vector yet; a reindex will make one")
        return index.search(vector, limit, filters, exclude_event_id=event_id)

    def describe(self) -> dict[str, Any]:
        if self.embedder is None:
            return {"ok": False, "error": self.problem.message if self.problem else "off"}
        out: dict[str, Any] = {"ok": self.problem is None, **self.embedder.info.identity}
        if self.index is not None:
            out["index"] = self.index.mode
        if self.problem is not None:
            out["error"] = self.problem.code
        return out

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
