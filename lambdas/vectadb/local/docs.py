"""Write the parts of the docs that are made from the code: the error table, from the catalogue, and
docs/openapi.json, the OpenAPI document that the API serves.

    python -m vectadb.local.docs [--check]

The table goes between ``<!-- error-table:start -->`` and ``<!-- error-table:end -->`` in whichever
Markdown file of README.md and docs/ holds them. The OpenAPI document is the ingest handler's own
(``app.get_openapi_json_schema()``), pretty-printed with sorted keys. ``--check`` writes nothing and
exits 1 when either is out of date.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vectadb.core.errors import error_table_markdown

ROOT = Path(__file__).resolve().parents[3]
START, END = "<!-- error-table:start -->", "<!-- error-table:end -->"
OPENAPI = ROOT / "docs" / "openapi.json"


def refreshed(text: str) -> str:
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{error_table_markdown()}{END}{after}"


def openapi_document() -> dict[str, Any]:
    """The document ``GET /api/v1/openapi.json`` serves (importing the handler opens no store and
    loads no model)."""
    from ingest.handler import app

    document: dict[str, Any] = json.loads(app.get_openapi_json_schema())
    return document


def openapi_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _stale_error_tables(write: bool) -> list[Path]:
    stale = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        if not doc.is_file() or START not in (text := doc.read_text()):
            continue
        new = refreshed(text)
        if new != text:
            stale.append(doc)
            if write:
                doc.write_text(new)
    return stale


def _stale_openapi(write: bool) -> list[Path]:
    new = openapi_text(openapi_document())
    if OPENAPI.is_file() and OPENAPI.read_text() == new:
        return []
    if write:
        OPENAPI.parent.mkdir(parents=True, exist_ok=True)
        OPENAPI.write_text(new)
    return [OPENAPI]


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--check", action="store_true", help="only say whether the docs are up to date")
    args = cli.parse_args(argv)
    stale = _stale_error_tables(write=not args.check) + _stale_openapi(write=not args.check)
    for doc in stale:
        print(f"{'out of date' if args.check else 'rewrote'}: {doc.relative_to(ROOT)}")
    if args.check and stale:
        print("run `make docs` to write them", file=sys.stderr)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
