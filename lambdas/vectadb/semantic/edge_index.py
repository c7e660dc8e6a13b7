"""The local vector index: Qdrant's own in-process engine (``qdrant-edge-py``), on disk.

qdrant-client's local mode scans every vector in Python and evaluates filters point by point, and
the journal that made it durable had to be replayed in full on every start (10.5 s and +508 MiB at
100,000 events). The edge engine keeps Qdrant's segments, payload indexes and write-ahead log on
disk: a start loads in ~0.2 s, a filtered search uses the payload index, and an update is in the
WAL when it returns (a ``kill -9`` loses nothing acknowledged).

Same contract as ``QdrantIndex`` (the server and the in-memory mode): the model identity is
recorded beside the shard and checked on open, upserts are idempotent by point id, and one
process owns the directory. A directory that still holds the old journal is imported once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vectadb.core.errors import StoreUnavailable
from vectadb.semantic.vector_journal import JOURNAL_FILE, VectorJournal
from vectadb.semantic.vectors import (
    KEYWORD_FIELDS,
    TIME_FIELD,
    ModelMismatch,
    VectorFilters,
    mismatch_message,
    point_id,
)
from vectadb.stores.locking import DirectoryLock

if TYPE_CHECKING:
    from qdrant_edge import ConditionType

logger = logging.getLogger(__name__)

SHARD_DIR = "shard"
IDENTITY_FILE = "identity.json"


class EdgeIndex:
    mode = "edge"

    def __init__(self, location: str) -> None:
        self.directory = Path(location)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._shard: Any = None
        if not (self.directory / SHARD_DIR).exists() and (self.directory / JOURNAL_FILE).exists():
            self._import_journal()  # under the journal's own hold on the directory
        self._owner = DirectoryLock(self.directory)
        self._owner.acquire()
        try:
            if self._shard is None and (self.directory / SHARD_DIR).exists():
                from qdrant_edge import EdgeShard

                self._shard = EdgeShard.load(str(self.directory / SHARD_DIR))
        except BaseException:
            self._owner.release()
            raise

    # -- collection --------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any] | None:
        path = self.directory / IDENTITY_FILE
        if self._shard is None or not path.exists():
            return None
        return dict(json.loads(path.read_text()))

    def _create(self, identity: dict[str, Any]) -> None:
        from qdrant_edge import (
            Distance,
            EdgeConfig,
            EdgeShard,
            EdgeVectorParams,
            PayloadSchemaType,
            UpdateOperation,
        )

        shard_path = self.directory / SHARD_DIR
        shard = EdgeShard.create(
            str(shard_path),
            EdgeConfig(vectors={"": EdgeVectorParams(size=int(identity["dim"]), distance=Distance.Cosine)}),
        )
        for field in KEYWORD_FIELDS:
            shard.update(UpdateOperation.create_field_index(field, PayloadSchemaType.Keyword))
        shard.update(UpdateOperation.create_field_index(TIME_FIELD, PayloadSchemaType.Integer))
        shard.flush()
        # The identity is written whole or not at all (a rename), after the shard exists.
        temporary = self.directory / (IDENTITY_FILE + ".tmp")
        with open(temporary, "w") as out:
            json.dump(identity, out)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.directory / IDENTITY_FILE)
        self._shard = shard

    def ensure_collection(self, identity: dict[str, Any]) -> None:
        with self._lock:
            current = self.metadata()
            if current is None:
                self._drop()
                self._create(identity)
                return
        if current != identity:
            raise ModelMismatch(
                mismatch_message("the local vector index", current, identity),
                details={
                    "collection": current,
                    "configured": identity,
                },
            )

    def rebuild(self, identity: dict[str, Any]) -> None:
        with self._lock:
            self._drop()
            self._create(identity)

    def _drop(self) -> None:
        if self._shard is not None:
            self._shard.close()
            self._shard = None
        (self.directory / IDENTITY_FILE).unlink(missing_ok=True)
        shutil.rmtree(self.directory / SHARD_DIR, ignore_errors=True)

    # -- points ------------------------------------------------------------------------------

    def upsert(
        self, event_ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[dict[str, Any]]
    ) -> None:
        from qdrant_edge import Point, UpdateOperation

        points = [
            Point(id=point_id(event_id), vector=vector, payload=dict(payload))
            for event_id, vector, payload in zip(event_ids, vectors.tolist(), payloads, strict=True)
        ]
        with self._lock:
            self._ready().update(UpdateOperation.upsert_points(points))

    def delete(self, event_ids: Sequence[str]) -> None:
        from qdrant_edge import UpdateOperation

        with self._lock:
            self._ready().update(UpdateOperation.delete_points([point_id(e) for e in event_ids]))

    def delete_before(self, cutoff_ms: int) -> None:
        from qdrant_edge import FieldCondition, Filter, RangeFloat, UpdateOperation

        doomed = Filter(must=[FieldCondition(key=TIME_FIELD, range=RangeFloat(lt=cutoff_ms))])
        with self._lock:
            self._ready().update(UpdateOperation.delete_points_by_filter(doomed))

    def vector_of(self, event_id: str) -> np.ndarray | None:
        records = self._ready().retrieve([point_id(event_id)], False, True)
        if not records:
            return None
        vector = records[0].vector
        if isinstance(vector, dict):
            vector = vector.get("")
        return np.asarray(vector, dtype=np.float32)

    def search(
        self,
        vector: np.ndarray,
        limit: int,
        filters: VectorFilters | None = None,
        exclude_event_id: str | None = None,
    ) -> list[tuple[str, float]]:
        """(event id, cosine score) pairs, best first; the filters use the payload indexes."""
        from qdrant_edge import Query, QueryRequest

        request = QueryRequest(
            limit=limit,
            query=Query.Nearest(vector.tolist()),
            filter=_filter(filters, exclude_event_id),
            with_payload=True,
        )
        points = self._ready().query(request)
        return [(point.payload["event_id"], float(point.score)) for point in points if point.payload]

    def count(self) -> int:
        from qdrant_edge import CountRequest

        return int(self._ready().count(CountRequest(exact=True)))

    def _ready(self) -> Any:
        if self._shard is None:
            raise StoreUnavailable("the local vector index has no collection yet (it is made on first use)")
        return self._shard

    # -- the journal of the previous local mode ----------------------------------------------

    def _import_journal(self) -> None:
        """Load the vectors that the journaled local mode kept, once; the journal is kept aside."""
        journal = VectorJournal(self.directory)
        imported = 0
        try:
            for record in journal.replay():
                if record.op == "create":
                    self._drop()
                    self._create(record.header["metadata"])
                elif record.op == "upsert" and record.vectors is not None and self._shard is not None:
                    from qdrant_edge import Point, UpdateOperation

                    points = [
                        Point(id=pid, vector=vector, payload=payload)
                        for pid, vector, payload in zip(
                            record.header["ids"],
                            record.vectors.tolist(),
                            record.header["payloads"],
                            strict=True,
                        )
                    ]
                    self._shard.update(UpdateOperation.upsert_points(points))
                    imported += len(points)
                elif record.op == "delete" and self._shard is not None:
                    from qdrant_edge import UpdateOperation

                    self._shard.update(UpdateOperation.delete_points(list(record.header["ids"])))
        finally:
            journal.close()
        if self._shard is not None:
            self._shard.flush()
        (self.directory / JOURNAL_FILE).replace(self.directory / (JOURNAL_FILE + ".imported"))
        logger.info("imported %d vectors from the journaled local index", imported)

    def close(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None
        self._owner.release()


def _filter(filters: VectorFilters | None, exclude_event_id: str | None) -> Any:
    from qdrant_edge import FieldCondition, Filter, HasIdCondition, MatchValue, RangeFloat

    must: list[ConditionType] = []
    if filters is not None:
        for field in KEYWORD_FIELDS[1:]:
            value = getattr(filters, field)
            if value is not None:
                must.append(FieldCondition(key=field, match=MatchValue(value)))
        if filters.start_ms is not None or filters.end_ms is not None:
            must.append(
                FieldCondition(key=TIME_FIELD, range=RangeFloat(gte=filters.start_ms, lt=filters.end_ms))
            )
    must_not: list[ConditionType] = [HasIdCondition({point_id(exclude_event_id)})] if exclude_event_id else []
    if not must and not must_not:
        return None
    return Filter(must=must or None, must_not=must_not or None)
