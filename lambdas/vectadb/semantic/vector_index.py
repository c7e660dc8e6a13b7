"""The vector index on Qdrant, through ``qdrant-client`` in every environment.

- ``:memory:``: local mode in memory (tests);
- a path such as ``./.vectadb/qdrant``: local mode in memory, made durable by an fsync'd journal
  in that directory (the local default; see vector_journal.py);
- ``http(s)://host:6333``: a Qdrant server, with an API key (ECS, Qdrant Cloud).

The collection records the model that made its vectors (collection metadata); opening it with
another model is refused, and ``rebuild`` re-creates it for the current one.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from vectadb.core.errors import StoreUnavailable, VectaError
from vectadb.semantic.vector_journal import VectorJournal
from vectadb.semantic.vectors import (
    KEYWORD_FIELDS,
    TIME_FIELD,
    ModelMismatch,
    VectorFilters,
    mismatch_message,
    point_id,
)

logger = logging.getLogger(__name__)

_COMPACT_MIN_BYTES = 64 * 1024 * 1024


class VectorIndexError(VectaError):
    """Qdrant refused a request (a 4xx): retrying will not help."""

    code = "vector_index_error"


@contextmanager
def _qdrant_errors() -> Iterator[None]:
    from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

    try:
        yield
    except UnexpectedResponse as exc:
        if exc.status_code is not None and exc.status_code < 500:
            logger.error("Qdrant refused a request: %s", exc)
            raise VectorIndexError("the vector index refused the request") from exc
        raise StoreUnavailable("Qdrant failed the request") from exc
    except (ApiException, OSError) as exc:
        raise StoreUnavailable("Qdrant is unreachable") from exc


class QdrantIndex:
    def __init__(
        self,
        location: str,
        *,
        api_key: str | None = None,
        collection: str = "events",
        timeout: int = 10,
    ) -> None:
        from qdrant_client import QdrantClient

        self.location = location
        self.collection = collection
        self._journal: VectorJournal | None = None
        self._lock = threading.Lock()
        if location.startswith(("http://", "https://")):
            # No version probe: it is a network round trip on every cold start.
            self.client = QdrantClient(
                url=location, api_key=api_key, timeout=timeout, check_compatibility=False
            )
        else:
            self.client = QdrantClient(":memory:")
            if location != ":memory:":
                self._journal = VectorJournal(Path(location))
                self._replay()

    @property
    def mode(self) -> str:
        if self.location == ":memory:":
            return "memory"
        return "journal" if self._journal is not None else "server"

    # -- collection --------------------------------------------------------------------------

    def _create(self, dim: int, metadata: dict[str, Any]) -> None:
        from qdrant_client import models

        self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
            metadata=metadata,
        )
        with warnings.catch_warnings():
            # Local mode accepts payload indexes and says that it scans anyway.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for field in KEYWORD_FIELDS:
                self.client.create_payload_index(self.collection, field, models.PayloadSchemaType.KEYWORD)
            self.client.create_payload_index(self.collection, TIME_FIELD, models.PayloadSchemaType.INTEGER)

    def metadata(self) -> dict[str, Any] | None:
        if not self.client.collection_exists(self.collection):
            return None
        return dict(self.client.get_collection(self.collection).config.metadata or {})

    def ensure_collection(self, identity: dict[str, Any]) -> None:
        """Create the collection for ``identity``, or check that the existing one was made by it."""
        with self._lock, _qdrant_errors():
            current = self.metadata()
            if current is None:
                self._create(identity["dim"], identity)
                if self._journal is not None:
                    self._journal.create(self.collection, identity["dim"], identity)
                return
        if current != identity:
            raise ModelMismatch(
                mismatch_message(f"the Qdrant collection '{self.collection}'", current, identity),
                details={"collection": current, "configured": identity},
            )

    def rebuild(self, identity: dict[str, Any]) -> None:
        """Drop every vector and re-create the collection for ``identity``."""
        with self._lock, _qdrant_errors():
            if self.client.collection_exists(self.collection):
                self.client.delete_collection(self.collection)
            self._create(identity["dim"], identity)
            if self._journal is not None:
                record = VectorJournal.encode(
                    "create", {"collection": self.collection, "dim": identity["dim"], "metadata": identity}
                )
                self._journal.rewrite(lambda: iter([record]))

    # -- points ------------------------------------------------------------------------------

    def upsert(
        self, event_ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[dict[str, Any]]
    ) -> None:
        from qdrant_client import models

        ids = [point_id(e) for e in event_ids]
        with self._lock, _qdrant_errors():
            if self._journal is not None:
                self._journal.upsert(ids, list(payloads), vectors)
            # list(ids): qdrant's models take a list of any point id type (lists are invariant).
            self.client.upsert(
                self.collection,
                points=models.Batch(ids=list(ids), vectors=vectors.tolist(), payloads=list(payloads)),
                wait=True,
            )

    def delete(self, event_ids: Sequence[str]) -> None:
        from qdrant_client import models

        ids = [point_id(e) for e in event_ids]
        with self._lock, _qdrant_errors():
            if self._journal is not None:
                self._journal.delete(ids)
            self.client.delete(
                self.collection, points_selector=models.PointIdsList(points=list(ids)), wait=True
            )

    def delete_before(self, cutoff_ms: int) -> None:
        """Drop every point whose event is older than ``cutoff_ms`` (one filtered delete)."""
        from qdrant_client import models

        selector = models.FilterSelector(
            filter=models.Filter(
                must=[models.FieldCondition(key=TIME_FIELD, range=models.Range(lt=cutoff_ms))]
            )
        )
        with self._lock, _qdrant_errors():
            if self._journal is not None:
                doomed = self._ids_before(cutoff_ms)
                if doomed:
                    self._journal.delete(doomed)
            self.client.delete(self.collection, points_selector=selector, wait=True)

    def _ids_before(self, cutoff_ms: int) -> list[str]:
        from qdrant_client import models

        ids: list[str] = []
        offset = None
        condition = models.FieldCondition(key=TIME_FIELD, range=models.Range(lt=cutoff_ms))
        while True:
            points, offset = self.client.scroll(
                self.collection, scroll_filter=models.Filter(must=[condition]), limit=1000, offset=offset
            )
            ids += [str(p.id) for p in points]
            if offset is None:
                return ids

    def vector_of(self, event_id: str) -> np.ndarray | None:
        with _qdrant_errors():
            points = self.client.retrieve(self.collection, ids=[point_id(event_id)], with_vectors=True)
        return np.asarray(points[0].vector, dtype=np.float32) if points else None

    def search(
        self,
        vector: np.ndarray,
        limit: int,
        filters: VectorFilters | None = None,
        exclude_event_id: str | None = None,
    ) -> list[tuple[str, float]]:
        """(event id, cosine score) pairs, best first; the filters run inside Qdrant."""
        with _qdrant_errors():
            response = self.client.query_points(
                self.collection,
                query=vector.tolist(),
                limit=limit,
                query_filter=_filter(filters, exclude_event_id),
                with_payload=["event_id"],
            )
        return [(point.payload["event_id"], float(point.score)) for point in response.points if point.payload]

    def count(self) -> int:
        with _qdrant_errors():
            return self.client.count(self.collection, exact=True).count

    # -- local journal -----------------------------------------------------------------------

    def _replay(self) -> None:
        from qdrant_client import models

        assert self._journal is not None
        live_bytes = 0
        for record in self._journal.replay():
            if record.op == "create":
                if self.client.collection_exists(record.header["collection"]):
                    self.client.delete_collection(record.header["collection"])
                self.collection = record.header["collection"]
                self._create(record.header["dim"], record.header["metadata"])
            elif record.op == "upsert" and record.vectors is not None:
                self.client.upsert(
                    self.collection,
                    points=models.Batch(
                        ids=record.header["ids"],
                        vectors=record.vectors.tolist(),
                        payloads=record.header["payloads"],
                    ),
                )
                live_bytes += record.vectors.nbytes
            elif record.op == "delete":
                self.client.delete(
                    self.collection, points_selector=models.PointIdsList(points=record.header["ids"])
                )
        if self._journal.size() > max(_COMPACT_MIN_BYTES, 3 * live_bytes) and self.client.collection_exists(
            self.collection
        ):
            self._compact()

    def _compact(self) -> None:
        """Rewrite the journal as one create record plus the live points."""
        assert self._journal is not None
        metadata = self.metadata() or {}
        dim = int(metadata.get("dim", 0))

        def records() -> Iterator[bytes]:
            yield VectorJournal.encode(
                "create", {"collection": self.collection, "dim": dim, "metadata": metadata}
            )
            offset = None
            while True:
                points, offset = self.client.scroll(
                    self.collection, limit=1000, offset=offset, with_vectors=True, with_payload=True
                )
                if points:
                    yield VectorJournal.encode(
                        "upsert",
                        {"ids": [str(p.id) for p in points], "payloads": [p.payload for p in points]},
                        np.asarray([p.vector for p in points], dtype=np.float32),
                    )
                if offset is None:
                    return

        before = self._journal.size()
        self._journal.rewrite(records)
        logger.info("vector journal compacted from %d to %d bytes", before, self._journal.size())

    def close(self) -> None:
        self.client.close()
        if self._journal is not None:
            self._journal.close()


def _filter(filters: VectorFilters | None, exclude_event_id: str | None) -> Any:
    from qdrant_client import models

    must: list[models.Condition] = []
    if filters is not None:
        for field in KEYWORD_FIELDS[1:]:
            value = getattr(filters, field)
            if value is not None:
                must.append(models.FieldCondition(key=field, match=models.MatchValue(value=value)))
        if filters.start_ms is not None or filters.end_ms is not None:
            must.append(
                models.FieldCondition(
                    key=TIME_FIELD, range=models.Range(gte=filters.start_ms, lt=filters.end_ms)
                )
            )
    must_not: list[models.Condition] = (
        [models.HasIdCondition(has_id=[point_id(exclude_event_id)])] if exclude_event_id else []
    )
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not or None)
