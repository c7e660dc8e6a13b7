"""Rebuild the vector index from SurrealDB, the source of truth.

``reindex`` embeds every event whose ``indexed`` flag is false: events stored while Qdrant or the
model was down, or that the ingestion ran out of time for. With ``rebuild`` it first clears every
flag and re-creates the collection for the configured model (a model change).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from vectadb.semantic.index import IndexTarget, SemanticIndex
from vectadb.stores.base import EventStore

logger = logging.getLogger(__name__)

PAGE = 256


def reindex(
    store: EventStore,
    semantic: SemanticIndex,
    *,
    rebuild: bool = False,
    max_events: int | None = None,
    deadline: float | None = None,
) -> dict[str, Any]:
    if rebuild:
        # Flags first: a crash between the two steps leaves events flagged for reindex, never
        # flagged as indexed without a vector.
        store.reset_indexed()
        semantic.rebuild()
    embedder, _ = semantic.ready()
    indexed = 0
    while max_events is None or indexed < max_events:
        if deadline is not None and time.monotonic() > deadline:
            break
        page = PAGE if max_events is None else min(PAGE, max_events - indexed)
        events = store.unindexed_events(page)
        if not events:
            break
        done = semantic.index_events([IndexTarget.from_stored(e) for e in events], deadline)
        store.mark_indexed(done)
        indexed += len(done)
        if len(done) < len(events):
            break  # out of time
    remaining = store.count_unindexed()
    logger.info("reindex: %d events indexed, %d remaining", indexed, remaining)
    return {"indexed": indexed, "remaining": remaining, "rebuilt": rebuild, "model": embedder.info.identity}
