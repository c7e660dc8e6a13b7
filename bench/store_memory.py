"""What the embedded surrealkv engine holds in memory: the reopened RSS of a store, per index entry
and after many updates of one record. Each store is written and reopened in a process of its own.

    python bench/store_memory.py [--records 30000]

It prints, for the same records with and without four indexes (134-byte values), the resident
memory after reopening and the cost of one index entry; and the reopened memory of a store whose
one record was updated 50,000 times (old versions are not held in memory if it equals the empty
store's). This is why the local server's memory grows with the number of index entries per event.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import sys
from surrealdb import Surreal

path, mode, records, indexes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
db = Surreal(f"surrealkv://{path}")
db.use("bench", "bench")
if mode == "rows":
    for k in range(indexes):
        db.query(f"DEFINE INDEX i{k} ON r FIELDS k{k}")
    for start in range(0, records, 500):
        rows = [
            {"id": j, "body": "y" * 1000, **{f"k{k}": f"{'z' * 120}-{j:012d}" for k in range(indexes)}}
            for j in range(start, min(records, start + 500))
        ]
        db.query("INSERT INTO r $rows", {"rows": rows})
elif mode == "updates":
    for start in range(0, records, 500):
        db.query(
            "FOR $i IN $ids { UPSERT type::thing('r', 1) SET body = $body, n = $i; }",
            {"ids": list(range(start, start + 500)), "body": "x" * 300},
        )
else:
    db.query("SELECT count() FROM r GROUP ALL")
    status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
    print(int(status["VmRSS"].split()[0]) // 1024)
"""


def run(path: Path, mode: str, records: int, indexes: int = 0) -> str:
    done = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-c", CHILD, str(path), mode, str(records), str(indexes)],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def reopened_mib(path: Path) -> int:
    return int(run(path, "open", 0))


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--records", type=int, default=30_000)
    args = cli.parse_args()
    n = args.records
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        empty = reopened_mib(root / "empty")
        run(root / "plain", "rows", n, 0)
        run(root / "indexed", "rows", n, 4)
        run(root / "updated", "updates", 50_000)
        plain, indexed, updated = (reopened_mib(root / name) for name in ("plain", "indexed", "updated"))
    per_entry = (indexed - plain) * 1024 * 1024 / (4 * n)
    print(f"empty store, reopened             : {empty:6d} MiB")
    print(f"{n} records of 1 KB, no index  : {plain:6d} MiB")
    print(f"the same with 4 indexes           : {indexed:6d} MiB  ({per_entry:.0f} bytes per index entry)")
    print(f"one record updated 50,000 times   : {updated:6d} MiB  (old versions held: {updated - empty} MiB)")


if __name__ == "__main__":
    main()
