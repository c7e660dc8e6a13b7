"""Semantic search: the embedder, the vector index and what keeps it in step with the store."""
