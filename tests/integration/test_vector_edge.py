"""The local vector index on Qdrant's in-process engine: durable (kill -9 included), owned by one
process, checked against its model, filtered inside the engine, and it takes over the old journal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vectadb.semantic.edge_index import EdgeIndex
from vectadb.semantic.engines import open_vector_index
from vectadb.semantic.vector_index import QdrantIndex
from vectadb.semantic.vector_journal import JOURNAL_FILE
from vectadb.semantic.vectors import ModelMismatch, VectorFilters
from vectadb.stores.locking import StoreLockedError

ROOT = Path(__file__).resolve().parents[2]
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


def test_a_directory_opens_the_local_engine(tmp_path: Path) -> None:
    index = open_vector_index(str(tmp_path / "v"))
    assert isinstance(index, EdgeIndex) and index.mode == "edge"
    index.close()
    assert isinstance(open_vector_index(":memory:"), QdrantIndex)


def test_points_survive_a_restart_and_filters_run_in_the_engine(tmp_path: Path) -> None:
    index = EdgeIndex(str(tmp_path))
    index.ensure_collection(IDENTITY)
    ids, vectors, payloads = _points(60)
    index.upsert(ids[:30], vectors[:30], payloads[:30])
    index.upsert(ids[30:], vectors[30:], payloads[30:])
    index.upsert(ids[:10], vectors[:10], payloads[:10])  # again: the same points, not new ones
    index.delete(ids[:5])
    assert index.count() == 55
    before = index.search(vectors[10], 5, VectorFilters(event_type="even"))
    index.close()

    reopened = EdgeIndex(str(tmp_path))
    reopened.ensure_collection(IDENTITY)
    assert reopened.count() == 55
    assert reopened.search(vectors[10], 5, VectorFilters(event_type="even")) == before
    assert before[0] == (ids[10], pytest.approx(1.0, abs=1e-5))
    assert all(int(e.rsplit("_", 1)[1]) % 2 == 0 for e, _ in before)
    window = VectorFilters(start_ms=1_700_000_000_020, end_ms=1_700_000_000_030)
    assert {e for e, _ in reopened.search(vectors[25], 20, window)} == set(ids[20:30])
    assert ids[25] not in {e for e, _ in reopened.search(vectors[25], 5, exclude_event_id=ids[25])}
    np.testing.assert_allclose(reopened.vector_of(ids[40]), vectors[40], atol=1e-5)
    assert reopened.vector_of("ev_never") is None
    reopened.delete_before(1_700_000_000_050)
    assert reopened.count() == 10
    reopened.close()


def test_another_model_is_refused_until_a_rebuild(tmp_path: Path) -> None:
    index = EdgeIndex(str(tmp_path))
    index.ensure_collection(IDENTITY)
    ids, vectors, payloads = _points(4)
    index.upsert(ids, vectors, payloads)
    other = {**IDENTITY, "model": "other/model"}
    with pytest.raises(ModelMismatch) as refused:
        index.ensure_collection(other)
    assert "test/model" in refused.value.message and "other/model" in refused.value.message
    index.rebuild(other)
    assert index.count() == 0 and index.metadata() == other
    index.close()
    reopened = EdgeIndex(str(tmp_path))
    reopened.ensure_collection(other)
    reopened.close()


def test_one_process_owns_the_directory(tmp_path: Path) -> None:
    index = EdgeIndex(str(tmp_path))
    with pytest.raises(StoreLockedError):
        EdgeIndex(str(tmp_path))
    index.close()
    EdgeIndex(str(tmp_path)).close()  # free again once closed


WRITER = """
import sys
import numpy as np
sys.path.insert(0, {lambdas!r})
from vectadb.semantic.edge_index import EdgeIndex
index = EdgeIndex({path!r})
index.ensure_collection({identity!r})
rng = np.random.default_rng(1)
for batch in range(10_000):
    ids = [f"ev_{{batch}}_{{i}}" for i in range(20)]
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    index.upsert(ids, vectors, [{{"event_id": e, "timestamp": batch}} for e in ids])
    print(batch, flush=True)  # acknowledged
"""


def test_what_was_acknowledged_survives_kill_9(tmp_path: Path) -> None:
    code = WRITER.format(lambdas=str(ROOT / "lambdas"), path=str(tmp_path), identity=IDENTITY)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    acknowledged = -1
    deadline = time.monotonic() + 60
    while acknowledged < 40 and time.monotonic() < deadline:
        acknowledged = int(process.stdout.readline())
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert acknowledged >= 40
    index = EdgeIndex(str(tmp_path))
    index.ensure_collection(IDENTITY)
    assert index.count() >= (acknowledged + 1) * 20
    assert index.vector_of(f"ev_{acknowledged}_19") is not None
    index.close()


def test_the_journal_of_the_previous_local_mode_is_taken_over(tmp_path: Path) -> None:
    journaled = QdrantIndex(str(tmp_path))
    journaled.ensure_collection(IDENTITY)
    ids, vectors, payloads = _points(30)
    journaled.upsert(ids, vectors, payloads)
    journaled.delete(ids[:3])
    expected = journaled.search(vectors[7], 5, VectorFilters(event_type="odd"))
    journaled.close()

    index = EdgeIndex(str(tmp_path))
    index.ensure_collection(IDENTITY)
    assert index.count() == 27
    assert [e for e, _ in index.search(vectors[7], 5, VectorFilters(event_type="odd"))] == [
        e for e, _ in expected
    ]
    assert not (tmp_path / JOURNAL_FILE).exists() and (tmp_path / (JOURNAL_FILE + ".imported")).exists()
    index.close()
    assert json.loads((tmp_path / "identity.json").read_text()) == IDENTITY
