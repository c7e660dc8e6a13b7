"""Write the parts of the docs that are made from the code: the error table, from the catalogue.

    python -m vectadb.local.docs [--check]

The table goes between ``<!-- error-table:start -->`` and ``<!-- error-table:end -->`` in whichever
Markdown file of README.md and docs/ holds them; ``--check`` exits 1 when it is out of date.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vectadb.core.errors import error_table_markdown

ROOT = Path(__file__).resolve().parents[3]
START, END = "<!-- error-table:start -->", "<!-- error-table:end -->"


def refreshed(text: str) -> str:
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{error_table_markdown()}{END}{after}"


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--check", action="store_true", help="only say whether the docs are up to date")
    args = cli.parse_args(argv)
    stale = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        if not doc.is_file() or START not in (text := doc.read_text()):
            continue
        new = refreshed(text)
        if new != text:
            stale.append(doc)
            if not args.check:
                doc.write_text(new)
    for doc in stale:
        print(f"{'out of date' if args.check else 'rewrote'}: {doc.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
