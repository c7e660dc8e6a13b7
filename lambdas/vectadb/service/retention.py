"""Retention: delete events older than N days (the seed's 30 by default), their vectors and traces.

SurrealDB first (events in bounded batches, oldest first; their edges go with them), then one
filtered delete in Qdrant, then the traces whose last event is gone. A crash between the steps
leaves only vectors without events, which search skips and the next run deletes.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from vectadb.core.models import to_millis
from vectadb.semantic.index import SemanticIndex
from vectadb.stores.base import EventStore

logger = logging.getLogger(__name__)

BATCH = 1000


def purge(
    store: EventStore,
    semantic: SemanticIndex,
    retention_days: int,
    *,
    now: datetime | None = None,
    deadline: float | None = None,
) -> dict[str, Any]:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    events = 0
    finished = False
    while deadline is None or time.monotonic() < deadline:
        deleted = store.delete_events_before(cutoff, BATCH)
        events += deleted
        if deleted < BATCH:
            finished = True
            break
    vectors = False
    if semantic.configured and semantic.index is not None:
        semantic.index.delete_before(to_millis(cutoff))
        vectors = True
    traces = store.delete_traces_before(cutoff) if finished else 0
    report = {
        "cutoff": cutoff.isoformat(),
        "events_deleted": events,
        "traces_deleted": traces,
        "vectors_deleted": vectors,
        "finished": finished,
    }
    logger.info("retention: %s", report)
    return report
