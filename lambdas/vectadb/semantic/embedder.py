"""Text embeddings with fastembed, loaded only from a local model directory.

The directory is made by ``python -m layers.model.build`` (locally under ``build/model``, in AWS
the model layer under ``/opt/model``). Its manifest says which model it holds, so that the vector
index can refuse vectors from another model. The model is loaded once per process, on first use.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vectadb.core.errors import VectaError

MANIFEST = "vectadb-model.json"


class ModelUnavailable(VectaError):
    code = "model_unavailable"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What made a vector: the manifest of a model directory."""

    model: str
    fastembed_name: str
    dim: int
    pooling: str
    normalized: bool
    quantization: str
    max_tokens: int
    model_file: str

    @classmethod
    def load(cls, model_dir: Path) -> ModelInfo:
        manifest = Path(model_dir) / MANIFEST
        if not manifest.is_file():
            raise ModelUnavailable(
                f"no embedding model in {model_dir}: build one with `make model` "
                "(python -m layers.model.build) or set VECTADB_MODEL_DIR"
            )
        data: dict[str, Any] = json.loads(manifest.read_text())
        return cls(
            model=data["model"],
            fastembed_name=data.get("fastembed_name", data["model"]),
            dim=int(data["dim"]),
            pooling=data["pooling"],
            normalized=bool(data.get("normalized", True)),
            quantization=data.get("quantization", "none"),
            max_tokens=int(data["max_tokens"]),
            model_file=data["model_file"],
        )

    @property
    def identity(self) -> dict[str, Any]:
        """Vectors are comparable only when all of these are equal."""
        return {"model": self.model, "dim": self.dim, "quantization": self.quantization}


class _LRU:
    """A bounded, thread-safe least-recently-used map of text digests to vectors."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: bytes) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: bytes, value: np.ndarray) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


class Embedder:
    """fastembed over a local model directory, with in-batch dedupe and an LRU across calls."""

    def __init__(
        self,
        model_dir: Path,
        *,
        cache_size: int = 10_000,
        batch_size: int = 32,
        threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.info = ModelInfo.load(self.model_dir)
        self.batch_size = batch_size
        self._threads = threads
        self._cache_dir = cache_dir or Path(tempfile.gettempdir()) / "vectadb-fastembed"
        self._cache = _LRU(cache_size)
        self._model: Any = None
        self._load_lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def model(self) -> Any:
        """The fastembed ``TextEmbedding`` itself, loaded once (no dedupe, no cache)."""
        return self._load()

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                from fastembed import TextEmbedding
                from fastembed.common.model_description import ModelSource, PoolingType

                info = self.info
                known = {d.model.lower() for d in TextEmbedding._list_supported_models()}
                if info.fastembed_name.lower() not in known:
                    TextEmbedding.add_custom_model(
                        model=info.fastembed_name,
                        pooling=PoolingType.CLS if info.pooling == "cls" else PoolingType.MEAN,
                        normalization=info.normalized,
                        sources=ModelSource(hf=info.fastembed_name),  # never fetched: the files are local
                        dim=info.dim,
                        model_file=info.model_file,
                    )
                self._model = TextEmbedding(
                    info.fastembed_name,
                    specific_model_path=str(self.model_dir),
                    cache_dir=str(self._cache_dir),
                    threads=self._threads,
                    local_files_only=True,
                )
            return self._model

    def warm_up(self) -> None:
        self._load()

    def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One vector per text. Identical texts are embedded once; known ones come from the cache."""
        keys = [_digest(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key in found or key in missing:
                continue
            cached = self._cache.get(key)
            if cached is not None:
                found[key] = cached
            else:
                missing[key] = text
        self.hits += len(found)
        self.misses += len(missing)
        if missing:
            vectors = self._load().embed(list(missing.values()), batch_size=self.batch_size)
            for key, vector in zip(missing, vectors, strict=True):
                vector = np.asarray(vector, dtype=np.float32)
                vector.setflags(write=False)
                found[key] = vector
                self._cache.put(key, vector)
        return [found[key] for key in keys]
