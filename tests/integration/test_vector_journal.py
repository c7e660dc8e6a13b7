"""The journaled local mode: durable across restarts, tolerant of a torn tail, compacted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vectadb.semantic import vector_index as qdrant_module
from vectadb.semantic.vector_index import QdrantIndex
from vectadb.semantic.vector_journal import JOURNAL_FILE
from vectadb.semantic.vectors import VectorFilters
from vectadb.stores.locking import StoreLockedError

IDENTITY = {"model": "test/model", "dim": 8, "quantization": "none"}


def _points(n: int, seed: int = 0) -> tuple[list[str], np.ndarray, list[dict]]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"ev_{seed}_{i}" for i in range(n)]
    payloads = [
        {"event_id": e, "event_type": "even" if i % 2 == 0 else "odd", "timestamp": 1_700_000_000_000 + i}
        for i, e in enumerate(ids)
    ]
    return ids, vectors, payloads


def test_points_survive_a_restart(tmp_path: Path) -> None:
    index = QdrantIndex(str(tmp_path))
    index.ensure_collection(IDENTITY)
    ids, vectors, payloads = _points(50)
    index.upsert(ids[:30], vectors[:30], payloads[:30])
    index.upsert(ids[30:], vectors[30:], payloads[30:])
    index.delete(ids[:5])
    before = index.search(vectors[10], 3, VectorFilters(event_type="even"))
    index.close()

    reopened = QdrantIndex(str(tmp_path))
    reopened.ensure_collection(IDENTITY)  # the recorded model matches
    assert reopened.count() == 45
    assert reopened.search(vectors[10], 3, VectorFilters(event_type="even")) == before
    assert reopened.vector_of(ids[0]) is None
    np.testing.assert_allclose(reopened.vector_of(ids[49]), vectors[49], atol=1e-6)
    reopened.close()


def test_a_torn_tail_is_cut_and_the_rest_kept(tmp_path: Path) -> None:
    index = QdrantIndex(str(tmp_path))
    index.ensure_collection(IDENTITY)
    ids, vectors, payloads = _points(20)
    index.upsert(ids[:10], vectors[:10], payloads[:10])
    index.upsert(ids[10:], vectors[10:], payloads[10:])
    index.close()
    journal = tmp_path / JOURNAL_FILE
    journal.write_bytes(journal.read_bytes()[:-100])  # a crash in the middle of the last append

    reopened = QdrantIndex(str(tmp_path))
    assert reopened.count() == 10
    reopened.upsert(ids[10:], vectors[10:], payloads[10:])  # what a reindex would do
    reopened.close()
    assert QdrantIndex(str(tmp_path)).count() == 20


def test_rewrites_are_compacted_on_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(qdrant_module, "_COMPACT_MIN_BYTES", 0)
    index = QdrantIndex(str(tmp_path))
    index.ensure_collection(IDENTITY)
    ids, vectors, payloads = _points(40)
    for _ in range(10):  # the same points, written again and again
        index.upsert(ids, vectors, payloads)
    index.close()
    journal = tmp_path / JOURNAL_FILE
    grown = journal.stat().st_size
    reopened = QdrantIndex(str(tmp_path))
    assert journal.stat().st_size < grown / 5
    assert reopened.count() == 40
    assert reopened.metadata() == IDENTITY
    reopened.close()
    again = QdrantIndex(str(tmp_path))
    assert again.count() == 40
    assert again.search(vectors[3], 1)[0][0] == ids[3]
    again.close()


def test_rebuild_starts_an_empty_journal(tmp_path: Path) -> None:
    index = QdrantIndex(str(tmp_path))
    index.ensure_collection(IDENTITY)
    ids, vectors, payloads = _points(10)
    index.upsert(ids, vectors, payloads)
    other = {**IDENTITY, "model": "other/model"}
    index.rebuild(other)
    index.close()
    reopened = QdrantIndex(str(tmp_path))
    assert reopened.count() == 0
    assert reopened.metadata() == other
    reopened.close()


def test_one_process_owns_the_directory(tmp_path: Path) -> None:
    index = QdrantIndex(str(tmp_path))
    with pytest.raises(StoreLockedError):
        QdrantIndex(str(tmp_path))
    index.close()
    QdrantIndex(str(tmp_path)).close()
