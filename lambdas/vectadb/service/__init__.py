"""What the API does: ingestion, queries, reindex, retention, and the wiring of one process."""
