"""Embed every event that has no vector yet, or re-embed all of them with ``--rebuild``; or make
the stats rollups again from the events with ``--rollups`` (after their definition changed).

    python -m vectadb.local.reindex [--rebuild] [--max-events N]
    python -m vectadb.local.reindex --rollups

Configured like the service (VECTADB_SURREAL_URL, VECTADB_QDRANT_URL, VECTADB_MODEL_DIR). A local
store is owned by one process: stop `make dev` first, or call POST /api/v1/reindex instead.
"""

from __future__ import annotations

import argparse
import json
import sys

from vectadb.core.config import get_settings
from vectadb.core.errors import VectaError
from vectadb.service.api_runtime import Runtime
from vectadb.service.reindex import reindex
from vectadb.stores.locking import StoreLockedError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="drop every vector and re-embed all events")
    parser.add_argument("--max-events", type=int, default=None)
    parser.add_argument("--rollups", action="store_true", help="make the stats rollups again from the events")
    args = parser.parse_args(argv)
    try:
        runtime = Runtime.from_settings(get_settings())
    except StoreLockedError as exc:
        print(f"vectadb: {exc}; or call POST /api/v1/reindex on the running server", file=sys.stderr)
        return 1
    try:
        if args.rollups:
            result = {"rollup_days_rebuilt": runtime.store.rebuild_all_rollups()}
        else:
            result = reindex(
                runtime.store, runtime.semantic, rebuild=args.rebuild, max_events=args.max_events
            )
    except VectaError as exc:
        print(f"vectadb: {exc.message}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
