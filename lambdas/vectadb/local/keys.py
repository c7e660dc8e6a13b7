"""API keys of a deployment, from the command line.

    python -m vectadb.local.keys create --table TABLE [--usage-plan ID] [--description TEXT]
    python -m vectadb.local.keys list   --table TABLE
    python -m vectadb.local.keys revoke --table TABLE --key-id key_0123456789ab

``create`` prints the key once; only its digest is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from vectadb.service.keys import create_key, revoke_key
from vectadb.stores.key_table import DynamoKeyStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="make a key and print it once")
    create.add_argument("--table", required=True)
    create.add_argument("--usage-plan", default=None)
    create.add_argument("--description", default="")
    listing = sub.add_parser("list", help="the keys (never their values)")
    listing.add_argument("--table", required=True)
    revoke = sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("--table", required=True)
    revoke.add_argument("--key-id", required=True)
    args = parser.parse_args(argv)
    store = DynamoKeyStore(args.table)
    if args.command == "create":
        key, record = create_key(store, args.description, args.usage_plan)
        print(json.dumps({"api_key": key, "key_id": record.key_id, "usage_key_id": record.usage_key_id}))
        print("Keep the key now: only its SHA-256 digest is stored.", file=sys.stderr)
        return 0
    if args.command == "list":
        for record in store.records():
            shown = {k: v for k, v in asdict(record).items() if k not in ("key_hash", "usage_key")}
            print(json.dumps(shown))
        return 0
    if not revoke_key(store, args.key_id):
        print(f"vectadb: no active key {args.key_id}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
