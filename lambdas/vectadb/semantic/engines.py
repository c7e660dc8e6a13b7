"""The vector index for a location: a Qdrant server, qdrant-client in memory, or the local engine."""

from __future__ import annotations

from vectadb.semantic.edge_index import EdgeIndex
from vectadb.semantic.vector_index import QdrantIndex
from vectadb.semantic.vectors import VectorIndex


def open_vector_index(
    location: str, *, api_key: str | None = None, collection: str = "events"
) -> VectorIndex:
    """The vector index at ``location``: a Qdrant server (http/https), qdrant-client in memory
    (``:memory:``, tests), else a directory for the local on-disk engine (``qdrant_edge.py``)."""
    if location == ":memory:" or location.startswith(("http://", "https://")):
        return QdrantIndex(location, api_key=api_key, collection=collection)
    return EdgeIndex(location)
