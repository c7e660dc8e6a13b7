"""Durability for the local vector index: an append-only journal replayed into Qdrant's local mode.

qdrant-client's own local persistence (``path=``) commits sqlite once per point, ~216-338 points/s
on this class of machine: slower than the embedder, so it would set the pace of ingestion. Local
mode keeps every point in memory in either case. This journal appends one fsync'd record per
batch instead (thousands of points/s) and replays into ``QdrantClient(":memory:")`` at start.

Record: ``b"VJR1" | u32 body length | u32 crc32(body) | body`` with body = ``u32 header length |
JSON header | float32 vectors``. A torn tail (a crash mid-append) fails its length or CRC check
and is cut off at the next open; the events it held were never flagged as indexed in SurrealDB,
so a reindex brings them back.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from vectadb.stores.locking import DirectoryLock

logger = logging.getLogger(__name__)

_MAGIC = b"VJR1"
_HEAD = struct.Struct("<4sII")
_U32 = struct.Struct("<I")
JOURNAL_FILE = "journal.log"


@dataclass(frozen=True, slots=True)
class JournalRecord:
    op: str  # "create" | "upsert" | "delete"
    header: dict[str, Any]
    vectors: np.ndarray | None = None


def _encode(op: str, header: dict[str, Any], vectors: np.ndarray | None = None) -> bytes:
    meta = json.dumps({"op": op, **header}, separators=(",", ":")).encode()
    blob = b"" if vectors is None else np.ascontiguousarray(vectors, dtype="<f4").tobytes()
    body = _U32.pack(len(meta)) + meta + blob
    return _HEAD.pack(_MAGIC, len(body), zlib.crc32(body)) + body


def _decode(body: bytes) -> JournalRecord:
    (meta_len,) = _U32.unpack_from(body)
    header = json.loads(body[_U32.size : _U32.size + meta_len])
    op = header.pop("op")
    vectors = None
    if op == "upsert":
        raw = np.frombuffer(body, dtype="<f4", offset=_U32.size + meta_len)
        vectors = raw.reshape(len(header["ids"]), -1)
    return JournalRecord(op, header, vectors)


class VectorJournal:
    """One directory, owned by one process, holding the journal of one collection."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = DirectoryLock(self.directory)
        self._lock.acquire()
        self.path = self.directory / JOURNAL_FILE
        self._write_lock = threading.Lock()
        self._file: BinaryIO | None = None

    def replay(self) -> Iterator[JournalRecord]:
        """Every intact record in order; a torn tail is cut off."""
        if not self.path.exists():
            return
        good = 0
        with self.path.open("rb") as handle:
            while True:
                head = handle.read(_HEAD.size)
                if not head:
                    break
                if len(head) < _HEAD.size:
                    break
                magic, length, crc = _HEAD.unpack(head)
                body = handle.read(length)
                if magic != _MAGIC or len(body) < length or zlib.crc32(body) != crc:
                    break
                good = handle.tell()
                yield _decode(body)
        size = self.path.stat().st_size
        if good < size:
            logger.warning("vector journal %s: cut a torn tail of %d bytes", self.path, size - good)
            with self.path.open("r+b") as handle:
                handle.truncate(good)

    def _append(self, record: bytes) -> None:
        with self._write_lock:
            if self._file is None:
                self._file = self.path.open("ab")
            self._file.write(record)
            self._file.flush()
            os.fsync(self._file.fileno())

    def create(self, collection: str, dim: int, metadata: dict[str, Any]) -> None:
        self._append(_encode("create", {"collection": collection, "dim": dim, "metadata": metadata}))

    def upsert(self, ids: list[str], payloads: list[dict[str, Any]], vectors: np.ndarray) -> None:
        self._append(_encode("upsert", {"ids": ids, "payloads": payloads}, vectors))

    def delete(self, ids: list[str]) -> None:
        self._append(_encode("delete", {"ids": ids}))

    def rewrite(self, records: Callable[[], Iterator[bytes]]) -> None:
        """Replace the journal with ``records`` (a fresh collection, or a compaction), atomically."""
        tmp = self.path.with_suffix(".tmp")
        with self._write_lock:
            with tmp.open("wb") as handle:
                for record in records():
                    handle.write(record)
                handle.flush()
                os.fsync(handle.fileno())
            if self._file is not None:
                self._file.close()
                self._file = None
            tmp.replace(self.path)
            directory = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    @staticmethod
    def encode(op: str, header: dict[str, Any], vectors: np.ndarray | None = None) -> bytes:
        return _encode(op, header, vectors)

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def close(self) -> None:
        with self._write_lock:
            if self._file is not None:
                self._file.close()
                self._file = None
        self._lock.release()
