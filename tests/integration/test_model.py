"""The model that `make model` built, loaded from its directory as the service loads it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from layers.model.build import FAITHFULNESS, quantize_int8, verify
from tests.conftest import MODEL_DIR
from vectadb.semantic.embedder import MANIFEST, Embedder, ModelInfo, ModelUnavailable


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


def test_manifest_describes_a_384_dim_model() -> None:
    info = ModelInfo.load(MODEL_DIR)
    assert info.dim == 384
    assert info.model in {"sentence-transformers/all-MiniLM-L6-v2", "BAAI/bge-small-en-v1.5"}
    manifest = json.loads((MODEL_DIR / MANIFEST).read_text())
    for name, digest in manifest["files"].items():
        assert len(digest) == 64, name
        assert (MODEL_DIR / name).exists()


def test_vectors_are_384_dim_and_unit_length(embedder: Embedder) -> None:
    vectors = np.stack(
        embedder.embed(["hello", "a much longer sentence about agents calling tools", "x" * 5000])
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_known_pairs_rank_as_the_model_does(embedder: Embedder) -> None:
    for anchor, closer, farther in FAITHFULNESS:
        a, c, f = embedder.embed([anchor, closer, farther])
        assert _cos(a, c) > _cos(a, f) + 0.1, (anchor, _cos(a, c), _cos(a, f))


@pytest.mark.skipif(
    ModelInfo.load(MODEL_DIR).model != "sentence-transformers/all-MiniLM-L6-v2",
    reason="MiniLM's reference values",
)
def test_minilm_matches_sentence_transformers() -> None:
    """Cosines measured with sentence-transformers itself (../shared/MODELS.md): 0.73 and 0.07."""
    model = Embedder(MODEL_DIR, cache_size=0)
    a, b, c = model.embed(
        ["database connection timeout", "DB conn timed out after 30s", "user asked about the weather in SF"]
    )
    assert abs(_cos(a, b) - 0.73) < 0.01
    assert abs(_cos(a, c) - 0.07) < 0.01


def test_identical_texts_are_embedded_once_and_cached(embedder: Embedder) -> None:
    model = Embedder(MODEL_DIR, cache_size=2)
    texts = ["alpha beta", "alpha beta", "gamma", "alpha beta"]
    first = model.embed(texts)
    assert (model.misses, model.hits) == (2, 0)
    assert first[0] is first[1] is first[3]
    model.embed(["gamma", "delta"])
    assert (model.misses, model.hits) == (3, 1)
    model.embed(["alpha beta"])  # evicted: the cache holds two texts
    assert model.misses == 4
    np.testing.assert_allclose(model.embed(["gamma"])[0], embedder.embed(["gamma"])[0], atol=1e-6)


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="make model"):
        Embedder(tmp_path)


@pytest.mark.slow
def test_int8_quantization_stays_close_to_fp32(tmp_path: Path, embedder: Embedder) -> None:
    work = tmp_path / "int8"
    shutil.copytree(MODEL_DIR, work)
    manifest = json.loads((work / MANIFEST).read_text())
    manifest = quantize_int8(work, manifest)
    (work / MANIFEST).write_text(json.dumps(manifest))
    verify(work)
    quantized = Embedder(work, cache_size=0)
    assert quantized.info.identity == {**embedder.info.identity, "quantization": "int8"}
    texts = [t for triple in FAITHFULNESS for t in triple]
    for q, f in zip(quantized.embed(texts), embedder.embed(texts), strict=True):
        assert _cos(q, f) > 0.97
