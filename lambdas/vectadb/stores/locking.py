"""An exclusive, advisory lock on a local store directory.

The embedded surrealkv engine takes no file lock: two processes on one path each see only their
own writes and unique indexes stop holding. One process must own a local store.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class StoreLockedError(RuntimeError):
    pass


class DirectoryLock:
    def __init__(self, store_path: Path) -> None:
        self.path = store_path.with_name(store_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StoreLockedError(
                f"the store at {self.path.with_suffix('')} is already open in another process "
                f"(pid {holder}); stop that process first, or point VECTADB_SURREAL_URL elsewhere"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None
